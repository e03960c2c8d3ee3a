// Original file: proto/stt/v1/transcriber.proto

export interface TurnConfig {
  silence_duration_ms?: number;
  prefix_padding_ms?: number;
  threshold?: number | string;
  _threshold?: 'threshold';
}

export interface TurnConfig__Output {
  silence_duration_ms: number;
  prefix_padding_ms: number;
  threshold?: number;
  _threshold?: 'threshold';
}
