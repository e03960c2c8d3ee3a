/**
 * Proto ↔ domain mapping, done once, here. Generated objects keep snake_case and never leave
 * `grpc/`; everything else sees the types of `transcript.ts`.
 */
import type { GetWorkerInfoResponse__Output } from './generated/stt/v1/GetWorkerInfoResponse.js';
import type { StreamingTranscribeConfig } from './generated/stt/v1/StreamingTranscribeConfig.js';
import type { StreamingTranscribeResponse__Output } from './generated/stt/v1/StreamingTranscribeResponse.js';
import type { TranscriptionOptions__Output } from './generated/stt/v1/TranscriptionOptions.js';
import type { TranscriptionSummary__Output } from './generated/stt/v1/TranscriptionSummary.js';
import type { TranscriptResult__Output } from './generated/stt/v1/TranscriptResult.js';
import type {
  Segment,
  StreamSettings,
  TranscriptEvent,
  TranscriptionOptionsUsed,
  TranscriptionSummary,
  WorkerInfo,
} from '../transcript.js';

/**
 * A float32 from the wire as the short decimal it was meant to be (0.2, not
 * 0.20000000298023224).
 */
export function roundFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return Number.isFinite(value) ? 0 : value;
  return Number(Math.fround(value).toPrecision(7));
}

/** The first request message of a stream. */
export function toProtoConfig(settings: StreamSettings): StreamingTranscribeConfig {
  return {
    encoding: 'AUDIO_ENCODING_LINEAR16',
    sample_rate_hertz: 16_000,
    mode: settings.mode === 'live' ? 'TRANSCRIPTION_MODE_LIVE' : 'TRANSCRIPTION_MODE_FILE',
    language_code: settings.languageCode ?? '',
    task: settings.task === 'translate' ? 'TASK_TRANSLATE' : 'TASK_TRANSCRIBE',
    model: settings.model ?? '',
    interim_results: settings.hasInterimResults,
    enable_word_time_offsets: settings.hasWordTimestamps,
    initial_prompt: settings.prompt ?? '',
    temperature: settings.temperature,
  };
}

function toSegment(result: TranscriptResult__Output): Segment {
  return {
    index: result.segment_index,
    text: result.transcript,
    isFinal: result.is_final,
    stability: roundFloat32(result.stability),
    startMs: result.start_offset_ms,
    endMs: result.end_offset_ms,
    words: result.words.map((word) => ({
      word: word.word,
      startMs: word.start_offset_ms,
      endMs: word.end_offset_ms,
      probability: roundFloat32(word.probability),
    })),
    languageCode: result.language_code,
    languageProbability: roundFloat32(result.language_probability),
    tokenIds: result.token_ids,
    temperature: roundFloat32(result.temperature),
    avgLogprob: roundFloat32(result.avg_logprob),
    compressionRatio: roundFloat32(result.compression_ratio),
    noSpeechProbability: roundFloat32(result.no_speech_probability),
    windowOffsetMs: result.window_offset_ms,
  };
}

function toOptions(
  options: TranscriptionOptions__Output | null,
): TranscriptionOptionsUsed | undefined {
  if (options === null) return undefined;
  return {
    beam_size: options.beam_size,
    best_of: options.best_of,
    temperatures: options.temperatures.map(roundFloat32),
    condition_on_previous_text: options.condition_on_previous_text,
    initial_prompt: options.initial_prompt === '' ? null : options.initial_prompt,
    hotwords: options.hotwords === '' ? null : options.hotwords,
    word_timestamps: options.word_timestamps,
    vad_filter: options.vad_filter,
    no_speech_threshold: roundFloat32(options.no_speech_threshold),
    compression_ratio_threshold: roundFloat32(options.compression_ratio_threshold),
    log_prob_threshold: roundFloat32(options.log_prob_threshold),
    task: options.task,
  };
}

function toSummary(summary: TranscriptionSummary__Output): TranscriptionSummary {
  return {
    durationMs: summary.duration_ms,
    durationAfterVadMs: summary.duration_after_vad_ms,
    languageCode: summary.language_code,
    languageProbability: roundFloat32(summary.language_probability),
    options: toOptions(summary.options),
    model: summary.model,
  };
}

/**
 * The domain events one response carries, in order: results (final first, as the proto
 * guarantees), then a speech event, then progress, then the summary.
 */
export function responseToEvents(response: StreamingTranscribeResponse__Output): TranscriptEvent[] {
  const events: TranscriptEvent[] = response.results.map((result) => ({
    type: 'segment',
    segment: toSegment(result),
  }));
  switch (response.speech_event) {
    case 'SPEECH_EVENT_SPEECH_BEGIN':
      events.push({
        type: 'speech',
        boundary: 'speech_begin',
        offsetMs: response.speech_event_offset_ms,
      });
      break;
    case 'SPEECH_EVENT_SPEECH_END':
      events.push({
        type: 'speech',
        boundary: 'speech_end',
        offsetMs: response.speech_event_offset_ms,
      });
      break;
    case 'SPEECH_EVENT_UNSPECIFIED':
      break;
  }
  if (response.progress !== null) {
    events.push({
      type: 'progress',
      processedAudioMs: response.progress.processed_audio_ms,
      totalAudioMs: response.progress.total_audio_ms,
    });
  }
  if (response.summary !== null) {
    events.push({ type: 'summary', summary: toSummary(response.summary) });
  }
  return events;
}

/** The domain view of `GetWorkerInfo`. */
export function toWorkerInfo(response: GetWorkerInfoResponse__Output): WorkerInfo {
  return {
    modelName: response.model?.name ?? '',
    isMultilingual: response.model?.is_multilingual ?? false,
    languages: response.model?.languages ?? [],
    backend: response.backend,
    device: response.device,
    activeStreams: response.load?.active_streams ?? 0,
    maxStreams: response.load?.max_streams ?? 0,
    version: response.version,
  };
}
