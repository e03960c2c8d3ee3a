// Original file: proto/stt/v1/transcriber.proto

export interface WordInfo {
  word?: string;
  start_offset_ms?: number;
  end_offset_ms?: number;
  probability?: number | string;
}

export interface WordInfo__Output {
  word: string;
  start_offset_ms: number;
  end_offset_ms: number;
  probability: number;
}
