/**
 * The audio pump of a live session: client audio waits in a bounded queue and is written to
 * the worker call one write at a time, each waiting for gRPC's send buffer (backpressure).
 * Reading from the client pauses while the queue holds `pauseAtMs` of audio and resumes when
 * it has drained, so TCP slows a fast client down; audio beyond `maxPendingMs` is refused and
 * the session closes rather than buffering without limit. Chunks that queued up while a
 * write was waiting go out together as one write. In turn mode the end of a turn queues
 * behind the audio pushed before it and goes to the worker in that order.
 */

/** Where the pump writes: the worker call. */
export interface AudioSink {
  /** Sends one chunk; resolves when there is buffer space again, rejects once the call failed. */
  write(chunk: Buffer): Promise<void>;
  /** Turn mode: ends the current turn after the audio written so far. */
  endTurn(): void;
}

/** Flow control towards the client. */
export interface ReadControl {
  /** Stops reading frames from the client. */
  pause(): void;
  /** Reads frames again. */
  resume(): void;
}

/** Options of {@link createAudioPump}. */
export interface AudioPumpOptions {
  /** The worker call. */
  readonly sink: AudioSink;
  /** The client socket's reading. */
  readonly reader: ReadControl;
  /** Duration of `byteCount` bytes of the session's audio, in ms. */
  readonly bytesToMs: (byteCount: number) => number;
  /** Audio that may wait for the sink, in ms; {@link AudioPump.push} refuses more. */
  readonly maxPendingMs: number;
  /** Reading pauses once this much audio waits, in ms; {@link defaultPauseAtMs} when unset. */
  readonly pauseAtMs?: number;
  /** Called each time all pushed audio has been written (nothing queued, no write running). */
  readonly onDrained?: () => void;
}

/** What {@link AudioPump.push} did with a chunk. */
export type PushResult = 'queued' | 'overflow';

/** The audio pump of one session. */
export interface AudioPump {
  /**
   * Queues a chunk for the worker. `'overflow'` when the queue now holds more than
   * `maxPendingMs`: the caller ends the session. Ignored after {@link close} and after a
   * write failed (the call is over; its iteration says why).
   */
  push(pcm: Buffer): PushResult;
  /** Queues the end of the current turn behind the audio pushed so far (turn mode). */
  endTurn(): void;
  /** Drops queued audio and resumes reading if paused (the close handshake needs it). */
  close(): void;
  /** Audio waiting for the worker, in ms (a write in flight included). */
  readonly pendingMs: number;
  /** Bytes the worker took. */
  readonly writtenBytes: number;
  /** Whether reading from the client is paused. */
  readonly isReadPaused: boolean;
  /** True when nothing is queued and no write runs. */
  readonly isIdle: boolean;
}

/** The end of a turn, in the queue between chunks. */
const END_TURN = Symbol('end of turn');

class QueuedAudioPump implements AudioPump {
  readonly #options: AudioPumpOptions & { readonly pauseAtMs: number };
  #queue: (Buffer | typeof END_TURN)[] = [];
  /** Queued bytes plus those of the write in flight: they count until gRPC took them. */
  #pendingBytes = 0;
  #writtenBytes = 0;
  #isWriting = false;
  #isReadPaused = false;
  #isClosed = false;
  /** A write failed: the call is over, later audio has nowhere to go. */
  #hasFailed = false;

  constructor(options: AudioPumpOptions & { readonly pauseAtMs: number }) {
    this.#options = options;
  }

  get pendingMs(): number {
    return this.#options.bytesToMs(this.#pendingBytes);
  }

  get writtenBytes(): number {
    return this.#writtenBytes;
  }

  get isReadPaused(): boolean {
    return this.#isReadPaused;
  }

  get isIdle(): boolean {
    return !this.#isWriting && this.#queue.length === 0;
  }

  push(pcm: Buffer): PushResult {
    if (this.#isClosed || this.#hasFailed || pcm.length === 0) return 'queued';
    this.#queue.push(pcm);
    this.#pendingBytes += pcm.length;
    const pendingMs = this.pendingMs;
    if (pendingMs > this.#options.maxPendingMs) return 'overflow';
    if (!this.#isReadPaused && pendingMs >= this.#options.pauseAtMs) {
      this.#isReadPaused = true;
      this.#options.reader.pause();
    }
    if (!this.#isWriting) void this.#run();
    return 'queued';
  }

  endTurn(): void {
    if (this.#isClosed || this.#hasFailed) return;
    this.#queue.push(END_TURN);
    if (!this.#isWriting) void this.#run();
  }

  close(): void {
    this.#isClosed = true;
    this.#queue = [];
    this.#pendingBytes = 0;
    this.#resumeReading();
  }

  #resumeReading(): void {
    if (!this.#isReadPaused) return;
    this.#isReadPaused = false;
    this.#options.reader.resume();
  }

  async #run(): Promise<void> {
    this.#isWriting = true;
    try {
      while (this.#queue.length > 0 && !this.#isClosed) {
        if (this.#queue[0] === END_TURN) {
          this.#queue.shift();
          this.#options.sink.endTurn();
          continue;
        }
        // The audio up to the next end of a turn goes out as one write.
        const boundary = this.#queue.indexOf(END_TURN);
        const taken = this.#queue.splice(0, boundary === -1 ? this.#queue.length : boundary);
        const chunks = taken.filter((item): item is Buffer => item !== END_TURN);
        const chunk = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        if (chunk === undefined) break;
        await this.#options.sink.write(chunk);
        this.#pendingBytes -= chunk.length;
        this.#writtenBytes += chunk.length;
      }
    } catch {
      // The call failed; its owner learns why from the call's iteration, not from here.
      this.#hasFailed = true;
      return;
    } finally {
      this.#isWriting = false;
    }
    if (this.#isClosed) return;
    this.#resumeReading();
    this.#options.onDrained?.();
  }
}

/** Reading from a live client pauses once this much audio waits for the worker, in ms. */
const PAUSE_READING_AFTER_MS = 1000;

/**
 * Where reading pauses by default: after a second of waiting audio, or half the backlog
 * allowed when that is shorter, so a paused client never reaches the limit by itself.
 */
export function defaultPauseAtMs(maxPendingMs: number): number {
  return Math.min(PAUSE_READING_AFTER_MS, maxPendingMs / 2);
}

/** Creates an empty pump; it writes as soon as audio is pushed. */
export function createAudioPump(options: AudioPumpOptions): AudioPump {
  return new QueuedAudioPump({
    ...options,
    pauseAtMs: options.pauseAtMs ?? defaultPauseAtMs(options.maxPendingMs),
  });
}
