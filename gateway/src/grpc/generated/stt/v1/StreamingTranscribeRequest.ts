// Original file: proto/stt/v1/transcriber.proto

import type {
  StreamingTranscribeConfig as _stt_v1_StreamingTranscribeConfig,
  StreamingTranscribeConfig__Output as _stt_v1_StreamingTranscribeConfig__Output,
} from '../../stt/v1/StreamingTranscribeConfig.js';
import type {
  EndTurn as _stt_v1_EndTurn,
  EndTurn__Output as _stt_v1_EndTurn__Output,
} from '../../stt/v1/EndTurn.js';

export interface StreamingTranscribeRequest {
  config?: _stt_v1_StreamingTranscribeConfig | null;
  audio?: Buffer | Uint8Array | string;
  end_turn?: _stt_v1_EndTurn | null;
  request?: 'config' | 'audio' | 'end_turn';
}

export interface StreamingTranscribeRequest__Output {
  config?: _stt_v1_StreamingTranscribeConfig__Output | null;
  audio?: Buffer;
  end_turn?: _stt_v1_EndTurn__Output | null;
  request?: 'config' | 'audio' | 'end_turn';
}
