// Original file: proto/stt/v1/transcriber.proto

import type {
  StreamingTranscribeConfig as _stt_v1_StreamingTranscribeConfig,
  StreamingTranscribeConfig__Output as _stt_v1_StreamingTranscribeConfig__Output,
} from '../../stt/v1/StreamingTranscribeConfig.js';

export interface StreamingTranscribeRequest {
  config?: _stt_v1_StreamingTranscribeConfig | null;
  audio?: Buffer | Uint8Array | string;
  request?: 'config' | 'audio';
}

export interface StreamingTranscribeRequest__Output {
  config?: _stt_v1_StreamingTranscribeConfig__Output | null;
  audio?: Buffer;
  request?: 'config' | 'audio';
}
