/**
 * In-memory doubles for unit tests: a scripted RecognizeStream (like livekit's FakeSTT), a
 * decoder that yields given chunks or fails, and a one-worker pool around them.
 */
import type { Decoder, DecodedAudio } from '../../../gateway/src/audio/decode.js';
import {
  RequestCancelledError,
  WorkerUnavailableError,
  type GatewayError,
} from '../../../gateway/src/errors.js';
import type { WorkerStreamSettings } from '../../../gateway/src/grpc/mapping.js';
import type { WorkerLease, WorkerPool } from '../../../gateway/src/grpc/pool.js';
import type { RecognizeStream } from '../../../gateway/src/grpc/recognize_stream.js';
import type {
  Segment,
  StreamSettings,
  TranscriptEvent,
  WorkerInfo,
} from '../../../gateway/src/transcript.js';

/** A stream that answers `events` after end(), or fails with `failure` once audio arrives. */
export class FakeRecognizeStream implements RecognizeStream {
  readonly writes: Buffer[] = [];
  isEnded = false;
  isCancelled = false;
  readonly finished: Promise<void>;
  readonly #events: TranscriptEvent[];
  readonly #failure: GatewayError | undefined;
  #wake: () => void = () => undefined;
  #finish: () => void = () => undefined;

  constructor(events: TranscriptEvent[], failure?: GatewayError) {
    this.#events = events;
    this.#failure = failure;
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  write(pcm: Buffer): Promise<void> {
    if (this.isCancelled) return Promise.reject(new Error('cancelled'));
    this.writes.push(pcm);
    this.#wake();
    return Promise.resolve();
  }

  endTurn(): void {
    // File streams never end turns.
  }

  end(): void {
    this.isEnded = true;
    this.#wake();
  }

  cancel(): void {
    this.isCancelled = true;
    this.#wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TranscriptEvent> {
    try {
      for (;;) {
        if (this.isCancelled) throw new Error('cancelled');
        if (this.#failure !== undefined && this.writes.length > 0) throw this.#failure;
        if (this.isEnded) break;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
      yield* this.#events;
    } finally {
      this.#finish();
    }
  }
}

/**
 * A decoder yielding `chunks`, then throwing `failure` if given; it reports `durationMs` as
 * the header's duration when given (and no duration at all otherwise, as a decoder may).
 */
export function fakeDecoder(
  chunks: Buffer[],
  failure?: Error,
  durationMs?: number,
): Decoder & { signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  async function* run(signal: AbortSignal): AsyncGenerator<Buffer> {
    signals.push(signal);
    for (const chunk of chunks) {
      await Promise.resolve();
      yield chunk;
    }
    if (failure !== undefined) throw failure;
  }
  return {
    signals,
    decode(_filePath: string, signal: AbortSignal): DecodedAudio {
      const audio = run(signal);
      return durationMs === undefined
        ? audio
        : { durationMs: Promise.resolve(durationMs), [Symbol.asyncIterator]: () => audio };
    },
  };
}

/** A pool with one serving worker whose streams come from `makeStream`. */
export function fakePool(
  makeStream: (settings: StreamSettings) => RecognizeStream,
  info?: WorkerInfo,
): WorkerPool & { settings: WorkerStreamSettings[] } {
  const settings: WorkerStreamSettings[] = [];
  const lease: WorkerLease = {
    id: 'fake',
    address: 'fake:1',
    info,
    startStream: (streamSettings) => {
      settings.push(streamSettings);
      return makeStream(streamSettings);
    },
    getWorkerInfo: () => Promise.reject(new WorkerUnavailableError('no info')),
  };
  return {
    settings,
    upsert: () => undefined,
    remove: () => undefined,
    retire: () => undefined,
    fail: () => undefined,
    health: () => ({ isReady: true, reason: undefined, workers: [] }),
    acquire: () => lease,
    close: () => undefined,
  };
}

/** A final segment. */
export function finalSegment(index: number, text: string): Segment {
  return {
    index,
    text,
    isFinal: true,
    stability: 0,
    startMs: index * 1000,
    endMs: index * 1000 + 1000,
    words: [],
    languageCode: 'en',
    languageProbability: 1,
    tokenIds: [],
    temperature: 0,
    avgLogprob: -0.1,
    compressionRatio: 1,
    noSpeechProbability: 0,
    windowOffsetMs: 0,
  };
}

/**
 * A live-mode stream driven by the test: `push()` events as the worker would send them,
 * then `finish()` (status OK) or `fail()`. `isWriteBlocked` holds writes until
 * `releaseWrites()`, like a full gRPC send buffer. Cancelling fails the iteration with
 * CANCELLED, as grpc-js does.
 */
export class ScriptedRecognizeStream implements RecognizeStream {
  readonly writes: Buffer[] = [];
  isEnded = false;
  isCancelled = false;
  isWriteBlocked = false;
  readonly finished: Promise<void>;
  #events: TranscriptEvent[] = [];
  #outcome: { readonly error: Error | undefined } | undefined;
  #waiting: (() => void)[] = [];
  #wake: () => void = () => undefined;
  #finish: () => void = () => undefined;

  constructor() {
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  /** Bytes written so far. */
  get writtenBytes(): number {
    return this.writes.reduce((total, chunk) => total + chunk.length, 0);
  }

  write(pcm: Buffer): Promise<void> {
    if (this.#outcome !== undefined) return Promise.reject(new Error('stream is done'));
    this.writes.push(pcm);
    if (!this.isWriteBlocked) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  /** Lets blocked writes complete. */
  releaseWrites(): void {
    this.isWriteBlocked = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** Bytes written before each `endTurn()`, in order. */
  readonly turnEnds: number[] = [];

  endTurn(): void {
    this.turnEnds.push(this.writtenBytes);
  }

  end(): void {
    this.isEnded = true;
  }

  cancel(): void {
    if (this.#outcome !== undefined) return;
    this.isCancelled = true;
    this.fail(new RequestCancelledError('The transcription was cancelled.'));
  }

  /** Events the worker sends. */
  push(...events: TranscriptEvent[]): void {
    this.#events.push(...events);
    this.#wake();
  }

  /** The worker's ack (an empty response: progress all zero). */
  ack(): void {
    this.push({ type: 'progress', processedAudioMs: 0, totalAudioMs: 0 });
  }

  /** The call ends with status OK. */
  finish(): void {
    this.#outcome ??= { error: undefined };
    this.#wake();
  }

  /** The call fails. */
  fail(error: Error): void {
    this.#outcome ??= { error };
    this.#wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TranscriptEvent> {
    try {
      for (;;) {
        const event = this.#events.shift();
        if (event !== undefined) {
          yield event;
          continue;
        }
        if (this.#outcome !== undefined) {
          if (this.#outcome.error !== undefined) throw this.#outcome.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.#finish();
    }
  }
}

/** A live segment (final or interim) over [startMs, endMs]. */
export function liveSegment(
  index: number,
  text: string,
  startMs: number,
  endMs: number,
  isFinal: boolean,
  languageCode = 'en',
  languageProbability = 1,
): Segment {
  return {
    ...finalSegment(index, text),
    isFinal,
    startMs,
    endMs,
    languageCode,
    languageProbability,
  };
}
