// Original file: proto/stt/v1/transcriber.proto

export const SpeechEvent = {
  SPEECH_EVENT_UNSPECIFIED: 'SPEECH_EVENT_UNSPECIFIED',
  SPEECH_EVENT_SPEECH_BEGIN: 'SPEECH_EVENT_SPEECH_BEGIN',
  SPEECH_EVENT_SPEECH_END: 'SPEECH_EVENT_SPEECH_END',
} as const;

export type SpeechEvent =
  'SPEECH_EVENT_UNSPECIFIED' | 0 | 'SPEECH_EVENT_SPEECH_BEGIN' | 1 | 'SPEECH_EVENT_SPEECH_END' | 2;

export type SpeechEvent__Output = (typeof SpeechEvent)[keyof typeof SpeechEvent];
