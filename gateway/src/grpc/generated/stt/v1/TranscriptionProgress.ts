// Original file: proto/stt/v1/transcriber.proto

export interface TranscriptionProgress {
  processed_audio_ms?: number;
  total_audio_ms?: number;
}

export interface TranscriptionProgress__Output {
  processed_audio_ms: number;
  total_audio_ms: number;
}
