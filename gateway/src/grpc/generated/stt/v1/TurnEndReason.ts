// Original file: proto/stt/v1/transcriber.proto

export const TurnEndReason = {
  TURN_END_REASON_UNSPECIFIED: 'TURN_END_REASON_UNSPECIFIED',
  TURN_END_REASON_SILENCE: 'TURN_END_REASON_SILENCE',
  TURN_END_REASON_REQUESTED: 'TURN_END_REASON_REQUESTED',
  TURN_END_REASON_STREAM_END: 'TURN_END_REASON_STREAM_END',
} as const;

export type TurnEndReason =
  | 'TURN_END_REASON_UNSPECIFIED'
  | 0
  | 'TURN_END_REASON_SILENCE'
  | 1
  | 'TURN_END_REASON_REQUESTED'
  | 2
  | 'TURN_END_REASON_STREAM_END'
  | 3;

export type TurnEndReason__Output = (typeof TurnEndReason)[keyof typeof TurnEndReason];
