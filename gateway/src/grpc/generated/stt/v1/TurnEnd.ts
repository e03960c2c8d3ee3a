// Original file: proto/stt/v1/transcriber.proto

import type {
  TurnEndReason as _stt_v1_TurnEndReason,
  TurnEndReason__Output as _stt_v1_TurnEndReason__Output,
} from '../../stt/v1/TurnEndReason.js';

export interface TurnEnd {
  turn_index?: number;
  start_offset_ms?: number;
  end_offset_ms?: number;
  had_speech?: boolean;
  reason?: _stt_v1_TurnEndReason;
}

export interface TurnEnd__Output {
  turn_index: number;
  start_offset_ms: number;
  end_offset_ms: number;
  had_speech: boolean;
  reason: _stt_v1_TurnEndReason__Output;
}
