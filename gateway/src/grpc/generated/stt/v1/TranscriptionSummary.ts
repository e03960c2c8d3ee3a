// Original file: proto/stt/v1/transcriber.proto

import type {
  TranscriptionOptions as _stt_v1_TranscriptionOptions,
  TranscriptionOptions__Output as _stt_v1_TranscriptionOptions__Output,
} from '../../stt/v1/TranscriptionOptions.js';

export interface TranscriptionSummary {
  duration_ms?: number;
  duration_after_vad_ms?: number;
  language_code?: string;
  language_probability?: number | string;
  options?: _stt_v1_TranscriptionOptions | null;
  model?: string;
}

export interface TranscriptionSummary__Output {
  duration_ms: number;
  duration_after_vad_ms: number;
  language_code: string;
  language_probability: number;
  options: _stt_v1_TranscriptionOptions__Output | null;
  model: string;
}
