// Original file: proto/stt/v1/transcriber.proto

export interface WorkerLoad {
  active_streams?: number;
  max_streams?: number;
  queue_depth?: number;
  max_queue_depth?: number;
  real_time_factor?: number | string;
}

export interface WorkerLoad__Output {
  active_streams: number;
  max_streams: number;
  queue_depth: number;
  max_queue_depth: number;
  real_time_factor: number;
}
