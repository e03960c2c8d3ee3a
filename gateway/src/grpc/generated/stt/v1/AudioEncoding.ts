// Original file: proto/stt/v1/transcriber.proto

export const AudioEncoding = {
  AUDIO_ENCODING_UNSPECIFIED: 'AUDIO_ENCODING_UNSPECIFIED',
  AUDIO_ENCODING_LINEAR16: 'AUDIO_ENCODING_LINEAR16',
  AUDIO_ENCODING_FLOAT32: 'AUDIO_ENCODING_FLOAT32',
} as const;

export type AudioEncoding =
  'AUDIO_ENCODING_UNSPECIFIED' | 0 | 'AUDIO_ENCODING_LINEAR16' | 1 | 'AUDIO_ENCODING_FLOAT32' | 2;

export type AudioEncoding__Output = (typeof AudioEncoding)[keyof typeof AudioEncoding];
