// Original file: proto/stt/v1/transcriber.proto

export interface WorkerLoad {
  active_streams?: number;
  max_streams?: number;
  queue_depth?: number;
  max_queue_depth?: number;
  real_time_factor?: number | string;
  live_streams?: number;
  live_cycle_ms?: number;
  max_live_cycle_ms?: number;
  file_backlog_ms?: number;
  mean_batch_size?: number | string;
}

export interface WorkerLoad__Output {
  active_streams: number;
  max_streams: number;
  queue_depth: number;
  max_queue_depth: number;
  real_time_factor: number;
  live_streams: number;
  live_cycle_ms: number;
  max_live_cycle_ms: number;
  file_backlog_ms: number;
  mean_batch_size: number;
}
