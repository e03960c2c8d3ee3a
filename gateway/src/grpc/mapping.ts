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
import type { TurnEndReason__Output } from './generated/stt/v1/TurnEndReason.js';
import type { VadConfig } from './generated/stt/v1/VadConfig.js';
import type { WorkerLoad__Output } from './generated/stt/v1/WorkerLoad.js';
import type {
  Segment,
  StreamSettings,
  TranscriptEvent,
  TranscriptionMode,
  TranscriptionOptionsUsed,
  TranscriptionSummary,
  TurnEndReason,
  VadSettings,
  WorkerInfo,
  WorkerLoad,
} from '../transcript.js';

/**
 * A float32 from the wire as the short decimal it was meant to be (0.2, not
 * 0.20000000298023224).
 */
export function roundFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return Number.isFinite(value) ? 0 : value;
  return Number(Math.fround(value).toPrecision(7));
}

function toProtoVad(vad: VadSettings): VadConfig {
  const config: VadConfig = {};
  if (vad.threshold !== undefined) config.threshold = vad.threshold;
  if (vad.minSpeechMs !== undefined) config.min_speech_ms = vad.minSpeechMs;
  if (vad.minSilenceMs !== undefined) config.min_silence_ms = vad.minSilenceMs;
  if (vad.speechPadMs !== undefined) config.speech_pad_ms = vad.speechPadMs;
  if (vad.maxSpeechMs !== undefined) config.max_speech_ms = vad.maxSpeechMs;
  return config;
}

/** What a worker stream is started with: the recognition settings and facts about the audio. */
export type WorkerStreamSettings = StreamSettings & {
  /**
   * Files: the audio's duration in ms as measured before streaming it (the container's
   * header), sent as `audio_duration_ms` so the worker can admit the file by its length;
   * undefined when unknown. Ignored in live mode.
   */
  readonly audioDurationMs?: number | undefined;
};

/** Largest value of a proto `uint32`. */
const UINT32_MAX = 0xffff_ffff;

/**
 * The first request message of a stream. Optional settings that are undefined are left out,
 * so the worker applies its own defaults.
 */
export function toProtoConfig(settings: WorkerStreamSettings): StreamingTranscribeConfig {
  const config: StreamingTranscribeConfig = {
    encoding:
      settings.encoding === 'float32' ? 'AUDIO_ENCODING_FLOAT32' : 'AUDIO_ENCODING_LINEAR16',
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
  if (settings.hotwords !== undefined) config.hotwords = settings.hotwords;
  if (settings.isVadEnabled !== undefined) config.enable_vad = settings.isVadEnabled;
  if (settings.vad !== undefined) config.vad = toProtoVad(settings.vad);
  if (settings.noSpeechThreshold !== undefined) {
    config.no_speech_threshold = settings.noSpeechThreshold;
  }
  if (settings.sameOutputThreshold !== undefined) {
    config.same_output_threshold = settings.sameOutputThreshold;
  }
  if (settings.hasCoarseSegments === true) config.coarse_segments = true;
  if (settings.mode === 'live' && settings.turns !== undefined) {
    const { silenceDurationMs, prefixPaddingMs, threshold } = settings.turns;
    config.turns = {
      silence_duration_ms: silenceDurationMs,
      prefix_padding_ms: prefixPaddingMs,
      ...(threshold === undefined ? {} : { threshold }),
    };
  }
  const durationMs = settings.audioDurationMs;
  if (
    settings.mode === 'file' &&
    durationMs !== undefined &&
    Number.isFinite(durationMs) &&
    durationMs >= 0
  ) {
    // A duration past uint32 (49 days) is no duration we could trust: leave it unset.
    if (durationMs <= UINT32_MAX) config.audio_duration_ms = Math.ceil(durationMs);
  }
  return config;
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

/** The domain names of the proto's turn-end reasons (an unset one counts as requested). */
const TURN_END_REASONS: Readonly<Record<TurnEndReason__Output, TurnEndReason>> = {
  TURN_END_REASON_UNSPECIFIED: 'requested',
  TURN_END_REASON_SILENCE: 'silence',
  TURN_END_REASON_REQUESTED: 'requested',
  TURN_END_REASON_STREAM_END: 'stream_end',
};

/**
 * The domain events one response carries, in order: results (final first, as the proto
 * guarantees), then a speech event, then progress, then a turn end, then the summary. In a file stream each
 * result is its own `segment` event; in a live stream the results of the response form one
 * `results` event (when there are any), because a live response replaces the partial.
 */
export function responseToEvents(
  response: StreamingTranscribeResponse__Output,
  mode: TranscriptionMode = 'file',
): TranscriptEvent[] {
  const segments = response.results.map(toSegment);
  const events: TranscriptEvent[] =
    mode === 'live'
      ? segments.length > 0
        ? [{ type: 'results', segments }]
        : []
      : segments.map((segment) => ({ type: 'segment', segment }));
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
  if (response.turn_end !== null) {
    const turn = response.turn_end;
    events.push({
      type: 'turn_end',
      turn: {
        index: turn.turn_index,
        startMs: turn.start_offset_ms,
        endMs: turn.end_offset_ms,
        hadSpeech: turn.had_speech,
        reason: TURN_END_REASONS[turn.reason],
      },
    });
  }
  if (response.summary !== null) {
    events.push({ type: 'summary', summary: toSummary(response.summary) });
  }
  return events;
}

/** The domain view of a `WorkerLoad` (all zeros when the worker sent none). */
export function toWorkerLoad(load: WorkerLoad__Output | null): WorkerLoad {
  return {
    activeStreams: load?.active_streams ?? 0,
    maxStreams: load?.max_streams ?? 0,
    queueDepth: load?.queue_depth ?? 0,
    maxQueueDepth: load?.max_queue_depth ?? 0,
    realTimeFactor: roundFloat32(load?.real_time_factor ?? 0),
    liveStreams: load?.live_streams ?? 0,
    liveCycleMs: load?.live_cycle_ms ?? 0,
    maxLiveCycleMs: load?.max_live_cycle_ms ?? 0,
    fileBacklogMs: load?.file_backlog_ms ?? 0,
    meanBatchSize: roundFloat32(load?.mean_batch_size ?? 0),
  };
}

/** The domain view of `GetWorkerInfo`. */
export function toWorkerInfo(response: GetWorkerInfoResponse__Output): WorkerInfo {
  return {
    modelName: response.model?.name ?? '',
    isMultilingual: response.model?.is_multilingual ?? false,
    languages: response.model?.languages ?? [],
    backend: response.backend,
    device: response.device,
    load: toWorkerLoad(response.load),
    version: response.version,
  };
}
