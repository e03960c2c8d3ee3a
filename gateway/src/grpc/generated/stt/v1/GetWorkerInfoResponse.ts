// Original file: proto/stt/v1/transcriber.proto

import type {
  ModelInfo as _stt_v1_ModelInfo,
  ModelInfo__Output as _stt_v1_ModelInfo__Output,
} from '../../stt/v1/ModelInfo.js';
import type {
  WorkerLoad as _stt_v1_WorkerLoad,
  WorkerLoad__Output as _stt_v1_WorkerLoad__Output,
} from '../../stt/v1/WorkerLoad.js';

export interface GetWorkerInfoResponse {
  model?: _stt_v1_ModelInfo | null;
  backend?: string;
  device?: string;
  compute_type?: string;
  load?: _stt_v1_WorkerLoad | null;
  version?: string;
  cpu_threads?: number;
}

export interface GetWorkerInfoResponse__Output {
  model: _stt_v1_ModelInfo__Output | null;
  backend: string;
  device: string;
  compute_type: string;
  load: _stt_v1_WorkerLoad__Output | null;
  version: string;
  cpu_threads: number;
}
