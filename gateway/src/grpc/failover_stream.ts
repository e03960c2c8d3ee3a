/**
 * A transcription stream that moves to another worker when the first one refuses it.
 *
 * Every worker acks a stream it accepts with an empty first response. Until that ack
 * nothing but the config has gone out (writes wait for it), so a stream a worker refuses —
 * RESOURCE_EXHAUSTED (full) or UNAVAILABLE (loading, draining, gone) — can be opened on the
 * next worker, and the client hears WAIT or 503 only when no worker takes it. After the
 * ack the stream belongs to that worker: its failures are the caller's.
 */
import { WorkerBusyError, WorkerUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TranscriptEvent } from '../transcript.js';
import type { WorkerStreamSettings } from './mapping.js';
import type { RecognizeStream } from './recognize_stream.js';

/** A worker a stream can be opened on. */
export interface StreamTarget {
  readonly id: string;
  startStream(settings: WorkerStreamSettings): RecognizeStream;
}

/** Options of {@link createFailoverStream}. */
export interface FailoverStreamOptions {
  /** The worker picked first. */
  readonly first: StreamTarget;
  /** The next worker to try, none of `tried`; undefined when there is none. */
  readonly next: (tried: ReadonlySet<string>) => StreamTarget | undefined;
  readonly settings: WorkerStreamSettings;
  readonly logger: Logger;
  /** Called with the worker that acked the stream. */
  readonly onAccepted?: (workerId: string) => void;
}

interface Accepted {
  readonly stream: RecognizeStream;
  readonly events: AsyncIterator<TranscriptEvent>;
  readonly ack: IteratorResult<TranscriptEvent>;
}

/** Whether a worker's answer before its ack means "not here, try elsewhere". */
function isRefusal(error: unknown): boolean {
  return error instanceof WorkerBusyError || error instanceof WorkerUnavailableError;
}

class FailoverStream implements RecognizeStream {
  readonly finished: Promise<void>;
  readonly #options: FailoverStreamOptions;
  readonly #accepted: Promise<Accepted>;
  #current: RecognizeStream | undefined;
  #isCancelled = false;

  constructor(options: FailoverStreamOptions) {
    this.#options = options;
    this.#accepted = this.#open();
    // Observed here so a refusal nobody awaits yet is not an unhandled rejection; callers
    // see it through write() and the iteration.
    this.#accepted.catch(() => undefined);
    this.finished = this.#accepted.then(
      (accepted) => accepted.stream.finished,
      () => undefined,
    );
  }

  async #open(): Promise<Accepted> {
    const { settings, logger } = this.#options;
    const tried = new Set<string>();
    let target = this.#options.first;
    for (;;) {
      tried.add(target.id);
      const stream = target.startStream(settings);
      this.#current = stream;
      if (this.#isCancelled) stream.cancel();
      const events = stream[Symbol.asyncIterator]();
      try {
        const ack = await events.next();
        this.#options.onAccepted?.(target.id);
        return { stream, events, ack };
      } catch (error) {
        const other =
          isRefusal(error) && !this.#isCancelled ? this.#options.next(tried) : undefined;
        if (other === undefined) throw error;
        logger.info('worker refused the stream; trying another', {
          worker: target.id,
          next_worker: other.id,
          error: error instanceof Error ? error.message : String(error),
        });
        target = other;
      }
    }
  }

  async write(pcm: Buffer): Promise<void> {
    const { stream } = await this.#accepted;
    await stream.write(pcm);
  }

  endTurn(): void {
    this.#accepted.then(
      ({ stream }) => {
        stream.endTurn();
      },
      () => undefined,
    );
  }

  end(): void {
    this.#accepted.then(
      ({ stream }) => {
        stream.end();
      },
      () => undefined,
    );
  }

  cancel(): void {
    this.#isCancelled = true;
    this.#current?.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TranscriptEvent> {
    const { events, ack } = await this.#accepted;
    if (ack.done === true) return;
    yield ack.value;
    for (;;) {
      const next = await events.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
}

/** Opens a stream on `first`, moving to the next worker while workers refuse it. */
export function createFailoverStream(options: FailoverStreamOptions): RecognizeStream {
  return new FailoverStream(options);
}
