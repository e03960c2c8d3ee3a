// Original file: proto/stt/v1/transcriber.proto

import type {
  AudioEncoding as _stt_v1_AudioEncoding,
  AudioEncoding__Output as _stt_v1_AudioEncoding__Output,
} from '../../stt/v1/AudioEncoding.js';
import type {
  TranscriptionMode as _stt_v1_TranscriptionMode,
  TranscriptionMode__Output as _stt_v1_TranscriptionMode__Output,
} from '../../stt/v1/TranscriptionMode.js';
import type {
  Task as _stt_v1_Task,
  Task__Output as _stt_v1_Task__Output,
} from '../../stt/v1/Task.js';
import type {
  VadConfig as _stt_v1_VadConfig,
  VadConfig__Output as _stt_v1_VadConfig__Output,
} from '../../stt/v1/VadConfig.js';
import type {
  TurnConfig as _stt_v1_TurnConfig,
  TurnConfig__Output as _stt_v1_TurnConfig__Output,
} from '../../stt/v1/TurnConfig.js';

export interface StreamingTranscribeConfig {
  encoding?: _stt_v1_AudioEncoding;
  sample_rate_hertz?: number;
  mode?: _stt_v1_TranscriptionMode;
  language_code?: string;
  task?: _stt_v1_Task;
  model?: string;
  interim_results?: boolean;
  enable_word_time_offsets?: boolean;
  initial_prompt?: string;
  hotwords?: string;
  temperature?: number | string;
  enable_vad?: boolean;
  vad?: _stt_v1_VadConfig | null;
  no_speech_threshold?: number | string;
  same_output_threshold?: number;
  coarse_segments?: boolean;
  audio_duration_ms?: number;
  turns?: _stt_v1_TurnConfig | null;
  _enable_vad?: 'enable_vad';
  _no_speech_threshold?: 'no_speech_threshold';
  _same_output_threshold?: 'same_output_threshold';
  _audio_duration_ms?: 'audio_duration_ms';
}

export interface StreamingTranscribeConfig__Output {
  encoding: _stt_v1_AudioEncoding__Output;
  sample_rate_hertz: number;
  mode: _stt_v1_TranscriptionMode__Output;
  language_code: string;
  task: _stt_v1_Task__Output;
  model: string;
  interim_results: boolean;
  enable_word_time_offsets: boolean;
  initial_prompt: string;
  hotwords: string;
  temperature: number;
  enable_vad?: boolean;
  vad: _stt_v1_VadConfig__Output | null;
  no_speech_threshold?: number;
  same_output_threshold?: number;
  coarse_segments: boolean;
  audio_duration_ms?: number;
  turns: _stt_v1_TurnConfig__Output | null;
  _enable_vad?: 'enable_vad';
  _no_speech_threshold?: 'no_speech_threshold';
  _same_output_threshold?: 'same_output_threshold';
  _audio_duration_ms?: 'audio_duration_ms';
}
