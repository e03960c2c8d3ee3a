// Original file: proto/stt/v1/transcriber.proto

export const TranscriptionMode = {
  TRANSCRIPTION_MODE_UNSPECIFIED: 'TRANSCRIPTION_MODE_UNSPECIFIED',
  TRANSCRIPTION_MODE_FILE: 'TRANSCRIPTION_MODE_FILE',
  TRANSCRIPTION_MODE_LIVE: 'TRANSCRIPTION_MODE_LIVE',
} as const;

export type TranscriptionMode =
  | 'TRANSCRIPTION_MODE_UNSPECIFIED'
  | 0
  | 'TRANSCRIPTION_MODE_FILE'
  | 1
  | 'TRANSCRIPTION_MODE_LIVE'
  | 2;

export type TranscriptionMode__Output = (typeof TranscriptionMode)[keyof typeof TranscriptionMode];
