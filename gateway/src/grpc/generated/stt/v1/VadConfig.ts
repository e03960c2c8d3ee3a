// Original file: proto/stt/v1/transcriber.proto

export interface VadConfig {
  threshold?: number | string;
  min_speech_ms?: number;
  min_silence_ms?: number;
  speech_pad_ms?: number;
  max_speech_ms?: number;
  _threshold?: 'threshold';
  _min_speech_ms?: 'min_speech_ms';
  _min_silence_ms?: 'min_silence_ms';
  _speech_pad_ms?: 'speech_pad_ms';
  _max_speech_ms?: 'max_speech_ms';
}

export interface VadConfig__Output {
  threshold?: number;
  min_speech_ms?: number;
  min_silence_ms?: number;
  speech_pad_ms?: number;
  max_speech_ms?: number;
  _threshold?: 'threshold';
  _min_speech_ms?: 'min_speech_ms';
  _min_silence_ms?: 'min_silence_ms';
  _speech_pad_ms?: 'speech_pad_ms';
  _max_speech_ms?: 'max_speech_ms';
}
