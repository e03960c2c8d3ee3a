// Original file: proto/stt/v1/transcriber.proto

import type {
  TranscriptResult as _stt_v1_TranscriptResult,
  TranscriptResult__Output as _stt_v1_TranscriptResult__Output,
} from '../../stt/v1/TranscriptResult.js';
import type {
  SpeechEvent as _stt_v1_SpeechEvent,
  SpeechEvent__Output as _stt_v1_SpeechEvent__Output,
} from '../../stt/v1/SpeechEvent.js';
import type {
  TranscriptionProgress as _stt_v1_TranscriptionProgress,
  TranscriptionProgress__Output as _stt_v1_TranscriptionProgress__Output,
} from '../../stt/v1/TranscriptionProgress.js';
import type {
  TranscriptionSummary as _stt_v1_TranscriptionSummary,
  TranscriptionSummary__Output as _stt_v1_TranscriptionSummary__Output,
} from '../../stt/v1/TranscriptionSummary.js';
import type {
  TurnEnd as _stt_v1_TurnEnd,
  TurnEnd__Output as _stt_v1_TurnEnd__Output,
} from '../../stt/v1/TurnEnd.js';

export interface StreamingTranscribeResponse {
  results?: _stt_v1_TranscriptResult[];
  speech_event?: _stt_v1_SpeechEvent;
  speech_event_offset_ms?: number;
  progress?: _stt_v1_TranscriptionProgress | null;
  summary?: _stt_v1_TranscriptionSummary | null;
  turn_end?: _stt_v1_TurnEnd | null;
}

export interface StreamingTranscribeResponse__Output {
  results: _stt_v1_TranscriptResult__Output[];
  speech_event: _stt_v1_SpeechEvent__Output;
  speech_event_offset_ms: number;
  progress: _stt_v1_TranscriptionProgress__Output | null;
  summary: _stt_v1_TranscriptionSummary__Output | null;
  turn_end: _stt_v1_TurnEnd__Output | null;
}
