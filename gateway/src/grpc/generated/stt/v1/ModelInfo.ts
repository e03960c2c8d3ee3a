// Original file: proto/stt/v1/transcriber.proto

export interface ModelInfo {
  name?: string;
  is_multilingual?: boolean;
  languages?: string[];
}

export interface ModelInfo__Output {
  name: string;
  is_multilingual: boolean;
  languages: string[];
}
