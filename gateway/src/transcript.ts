/**
 * Domain types of transcription, shared by HTTP and WebSocket code. Nothing here knows about
 * protobuf or HTTP: `grpc/` maps worker messages into these types once. Times are integer
 * milliseconds from the first sample of the stream.
 */

/** What Whisper produces. */
export type Task = 'transcribe' | 'translate';

/** The decoding policy: a complete file, or a live stream paced in real time. */
export type TranscriptionMode = 'file' | 'live';

/** Sample format of the audio sent to the worker (16 kHz mono, little-endian). */
export type AudioEncoding = 'linear16' | 'float32';

/** Voice-activity tuning of a stream; unset fields take the worker's defaults. */
export interface VadSettings {
  /** Speech probability above which a frame counts as speech, in (0, 1). */
  readonly threshold?: number | undefined;
  /** Speech shorter than this is dropped, in ms. */
  readonly minSpeechMs?: number | undefined;
  /** Silence at least this long ends a speech region, in ms. */
  readonly minSilenceMs?: number | undefined;
  /** Padding added on both sides of each speech region, in ms. */
  readonly speechPadMs?: number | undefined;
  /** Longest speech region before a forced split, in ms. */
  readonly maxSpeechMs?: number | undefined;
}

/**
 * Turn mode of a live stream (OpenAI Realtime's items): the stream is split into turns, each
 * ended by silence after speech or by the client ({@link RecognizeStream.endTurn}).
 */
export interface TurnSettings {
  /** Silence after speech that ends a turn, in ms; 0: turns end only when asked. */
  readonly silenceDurationMs: number;
  /** Audio kept before the detected start of speech, in ms. */
  readonly prefixPaddingMs: number;
  /** Voice-activity threshold in (0, 1); undefined: the stream's VAD threshold. */
  readonly threshold?: number | undefined;
}

/** Settings of one transcription stream (the first message to the worker). */
export interface StreamSettings {
  /** Decoding policy. */
  readonly mode: TranscriptionMode;
  /** Transcribe or translate to English. */
  readonly task: Task;
  /** ISO-639-1 code of the spoken language; undefined means detect. */
  readonly languageCode: string | undefined;
  /** Model the client asked for; undefined means the worker's model. */
  readonly model: string | undefined;
  /** Initial prompt; undefined means none. */
  readonly prompt: string | undefined;
  /** Start temperature in [0, 1]; the worker falls back to higher ones. */
  readonly temperature: number;
  /** Whether to compute per-word timings. */
  readonly hasWordTimestamps: boolean;
  /** Whether to send interim (non-final) results (live mode only). */
  readonly hasInterimResults: boolean;
  /** Sample format of the audio chunks; LINEAR16 when unset. */
  readonly encoding?: AudioEncoding | undefined;
  /** Words or phrases to bias decoding towards; undefined means none. */
  readonly hotwords?: string | undefined;
  /** Whether to run voice-activity detection; undefined means the worker's default. */
  readonly isVadEnabled?: boolean | undefined;
  /** Voice-activity tuning; undefined means the worker's defaults. */
  readonly vad?: VadSettings | undefined;
  /** No-speech threshold in [0, 1]; undefined means the worker's default. */
  readonly noSpeechThreshold?: number | undefined;
  /** Live mode: repeats before a partial is committed; undefined means the worker's default. */
  readonly sameOutputThreshold?: number | undefined;
  /**
   * Files: only the text is needed, not fine segment times, so a file chunk may come back as
   * one segment and the worker skips the word alignment that would cut it into sentences.
   */
  readonly hasCoarseSegments?: boolean | undefined;
  /** Live mode: split the stream into turns; undefined: one turn. */
  readonly turns?: TurnSettings | undefined;
}

/** One word with its timing. */
export interface Word {
  /** The word as Whisper wrote it (usually with a leading space). */
  readonly word: string;
  /** Start, in ms. */
  readonly startMs: number;
  /** End, in ms. */
  readonly endMs: number;
  /** Probability in [0, 1]. */
  readonly probability: number;
}

/** One segment (a span of transcript). */
export interface Segment {
  /** Index in the stream; an interim segment and the final one replacing it share it. */
  readonly index: number;
  /** Text as Whisper wrote it (usually with a leading space). */
  readonly text: string;
  /** True when the text will not change any more. */
  readonly isFinal: boolean;
  /** Interim only: estimated stability in (0, 1]; 0 means unset. */
  readonly stability: number;
  /** Start, in ms. */
  readonly startMs: number;
  /** End, in ms. */
  readonly endMs: number;
  /** Words, when word timings were asked for. */
  readonly words: readonly Word[];
  /** Language of the segment (ISO-639-1). */
  readonly languageCode: string;
  /** Probability of `languageCode`. */
  readonly languageProbability: number;
  /** Whisper token ids. */
  readonly tokenIds: readonly number[];
  /** Temperature used, after any fallback. */
  readonly temperature: number;
  /** Average log-probability of the tokens. */
  readonly avgLogprob: number;
  /** gzip compression ratio of the text. */
  readonly compressionRatio: number;
  /** Probability that the window holds no speech. */
  readonly noSpeechProbability: number;
  /** Start of the 30 s decoding window, in ms. */
  readonly windowOffsetMs: number;
}

/** Decoding options the worker actually used (faster-whisper's names). */
export interface TranscriptionOptionsUsed {
  readonly beam_size: number;
  readonly best_of: number;
  readonly temperatures: readonly number[];
  readonly condition_on_previous_text: boolean;
  readonly initial_prompt: string | null;
  readonly hotwords: string | null;
  readonly word_timestamps: boolean;
  readonly vad_filter: boolean;
  readonly no_speech_threshold: number;
  readonly compression_ratio_threshold: number;
  readonly log_prob_threshold: number;
  readonly task: string;
}

/** The closing summary of a stream. */
export interface TranscriptionSummary {
  /** All audio received, in ms. */
  readonly durationMs: number;
  /** Audio left after voice-activity detection, in ms. */
  readonly durationAfterVadMs: number;
  /** Language of the stream (ISO-639-1); empty if no speech. */
  readonly languageCode: string;
  /** Probability of `languageCode`. */
  readonly languageProbability: number;
  /** Options used, or undefined if the worker sent none. */
  readonly options: TranscriptionOptionsUsed | undefined;
  /** Model that served the stream. */
  readonly model: string;
}

/** A voice-activity boundary (live mode). */
export type SpeechBoundary = 'speech_begin' | 'speech_end';

/** Why a turn ended. */
export type TurnEndReason = 'silence' | 'requested' | 'stream_end';

/** The end of one turn of a turn-mode stream; every result of the turn came before it. */
export interface TurnEnd {
  /** 0-based index of the turn in the stream. */
  readonly index: number;
  /** Where the turn's audio starts, in ms of the stream. */
  readonly startMs: number;
  /** Where the turn's audio ends, in ms of the stream. */
  readonly endMs: number;
  /** Whether voice activity was detected in the turn. */
  readonly hadSpeech: boolean;
  /** Why it ended. */
  readonly reason: TurnEndReason;
}

/**
 * One thing a transcription stream reports, in order. File streams report each result as a
 * `segment`; live streams report the results of one worker response together as `results`
 * (final segments first, then at most one interim segment: the current partial, which a
 * response without an interim segment withdraws).
 */
export type TranscriptEvent =
  | { readonly type: 'segment'; readonly segment: Segment }
  | { readonly type: 'results'; readonly segments: readonly Segment[] }
  | { readonly type: 'speech'; readonly boundary: SpeechBoundary; readonly offsetMs: number }
  | { readonly type: 'progress'; readonly processedAudioMs: number; readonly totalAudioMs: number }
  | { readonly type: 'summary'; readonly summary: TranscriptionSummary }
  | { readonly type: 'turn_end'; readonly turn: TurnEnd };

/** The result of transcribing a whole file. */
export interface FileTranscript {
  /** Task performed. */
  readonly task: Task;
  /** Final segments in the order the worker sent them. */
  readonly segments: readonly Segment[];
  /** The worker's summary (synthesised from the audio when the worker sent none). */
  readonly summary: TranscriptionSummary;
  /** Audio sent to the worker, in ms. */
  readonly audioMs: number;
}

/** A worker's load at one moment (`stt.v1.WorkerLoad`). */
export interface WorkerLoad {
  /** Streams being served now. */
  readonly activeStreams: number;
  /** Most streams served at once before new ones are refused. */
  readonly maxStreams: number;
  /** Engine jobs waiting in the worker's scheduler queue. */
  readonly queueDepth: number;
  /** Most jobs that queue holds before new work is refused. */
  readonly maxQueueDepth: number;
  /** Recent seconds of compute per second of audio (below 1: faster than real time); 0 before the first job. */
  readonly realTimeFactor: number;
  /** Live streams among the active ones. */
  readonly liveStreams: number;
  /**
   * Predicted live decode cycle with the current live streams, in ms (words commit about two
   * cycles after they are spoken); 0 when nothing was measured lately.
   */
  readonly liveCycleMs: number;
  /** Longest live decode cycle at which a new live stream is still admitted, in ms; 0: no such limit. */
  readonly maxLiveCycleMs: number;
  /** Predicted time to decode the file audio already admitted, in ms. */
  readonly fileBacklogMs: number;
  /** Recent mean number of windows decoded per engine call (batching); 1 when none. */
  readonly meanBatchSize: number;
}

/** What the worker is and how loaded it is (from `GetWorkerInfo`). */
export interface WorkerInfo {
  /** Name the model is served under (`'tiny.en'`, `'base'`, a directory's last component). */
  readonly modelName: string;
  /** Whether the model knows languages other than English (and can translate). */
  readonly isMultilingual: boolean;
  /** ISO-639-1 codes the model can transcribe. */
  readonly languages: readonly string[];
  /** Engine backend. */
  readonly backend: string;
  /** Device the engine runs on. */
  readonly device: string;
  /** Load when the info was fetched. */
  readonly load: WorkerLoad;
  /** Worker software version. */
  readonly version: string;
}

/**
 * The text of a transcript as OpenAI writes it: each segment's text stripped, empty ones
 * dropped, joined by single spaces.
 */
export function joinSegmentTexts(segments: readonly Pick<Segment, 'text'>[]): string {
  return segments
    .map((segment) => segment.text.trim())
    .filter((text) => text !== '')
    .join(' ');
}
