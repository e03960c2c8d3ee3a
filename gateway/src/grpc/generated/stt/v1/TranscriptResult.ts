// Original file: proto/stt/v1/transcriber.proto

import type {
  WordInfo as _stt_v1_WordInfo,
  WordInfo__Output as _stt_v1_WordInfo__Output,
} from '../../stt/v1/WordInfo.js';

export interface TranscriptResult {
  segment_index?: number;
  transcript?: string;
  is_final?: boolean;
  stability?: number | string;
  start_offset_ms?: number;
  end_offset_ms?: number;
  words?: _stt_v1_WordInfo[];
  language_code?: string;
  language_probability?: number | string;
  token_ids?: number[];
  temperature?: number | string;
  avg_logprob?: number | string;
  compression_ratio?: number | string;
  no_speech_probability?: number | string;
  window_offset_ms?: number;
}

export interface TranscriptResult__Output {
  segment_index: number;
  transcript: string;
  is_final: boolean;
  stability: number;
  start_offset_ms: number;
  end_offset_ms: number;
  words: _stt_v1_WordInfo__Output[];
  language_code: string;
  language_probability: number;
  token_ids: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_probability: number;
  window_offset_ms: number;
}
