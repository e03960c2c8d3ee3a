// Original file: proto/stt/v1/transcriber.proto

export interface TranscriptionOptions {
  beam_size?: number;
  best_of?: number;
  temperatures?: (number | string)[];
  condition_on_previous_text?: boolean;
  initial_prompt?: string;
  hotwords?: string;
  word_timestamps?: boolean;
  vad_filter?: boolean;
  no_speech_threshold?: number | string;
  compression_ratio_threshold?: number | string;
  log_prob_threshold?: number | string;
  task?: string;
}

export interface TranscriptionOptions__Output {
  beam_size: number;
  best_of: number;
  temperatures: number[];
  condition_on_previous_text: boolean;
  initial_prompt: string;
  hotwords: string;
  word_timestamps: boolean;
  vad_filter: boolean;
  no_speech_threshold: number;
  compression_ratio_threshold: number;
  log_prob_threshold: number;
  task: string;
}
