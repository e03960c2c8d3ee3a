/**
 * One `StreamingTranscribe` call as the rest of the gateway sees it: `write(pcm)` (which
 * waits while gRPC's send buffer is full), `end()` (half-close: end of audio), `cancel()`,
 * and an async iteration of domain {@link TranscriptEvent}s that throws a
 * {@link GatewayError} when the call fails.
 */
import { once } from 'node:events';

import type * as grpc from '@grpc/grpc-js';

import { GatewayError, InternalError } from '../errors.js';
import type { TranscriptEvent, TranscriptionMode } from '../transcript.js';
import type { StreamingTranscribeRequest } from './generated/stt/v1/StreamingTranscribeRequest.js';
import type { StreamingTranscribeResponse__Output } from './generated/stt/v1/StreamingTranscribeResponse.js';
import { responseToEvents, toProtoConfig, type WorkerStreamSettings } from './mapping.js';
import { toGatewayError } from './status.js';

/** The duplex call type of `StreamingTranscribe`. */
export type StreamingTranscribeCall = grpc.ClientDuplexStream<
  StreamingTranscribeRequest,
  StreamingTranscribeResponse__Output
>;

/** A transcription stream to a worker. */
export interface RecognizeStream extends AsyncIterable<TranscriptEvent> {
  /**
   * Sends one chunk of audio in the stream's encoding (LINEAR16 unless the settings name
   * another). Resolves once gRPC has buffer space again; rejects
   * with a {@link GatewayError} when the call has already failed or ended.
   */
  write(pcm: Buffer): Promise<void>;
  /**
   * Turn mode only: ends the current turn at the end of the audio written so far (call it
   * once the last write of the turn has resolved, so nothing overtakes it). Ignored once the
   * call is over or half-closed.
   */
  endTurn(): void;
  /** Half-closes the request side: no more audio. Idempotent. */
  end(): void;
  /** Cancels the call (the worker sees CANCELLED). Idempotent. */
  cancel(): void;
  /** Resolves when the call has finished, whatever its status. */
  readonly finished: Promise<void>;
}

/** Options of {@link createRecognizeStream}. */
export interface RecognizeStreamOptions {
  /**
   * Fails the stream from outside: when it aborts, the call is cancelled and the stream
   * reports the signal's reason (a {@link GatewayError}) instead of CANCELLED. The pool uses
   * it to end the calls of a worker that stopped responding.
   */
  readonly signal?: AbortSignal;
}

class GrpcRecognizeStream implements RecognizeStream {
  readonly finished: Promise<void>;
  readonly #call: StreamingTranscribeCall;
  readonly #mode: TranscriptionMode;
  #status: grpc.StatusObject | undefined;
  #failure: unknown;
  #isEnded = false;
  /**
   * grpc-js starts a call on the wire a turn of the event loop after it is made; a cancel
   * before that ends the call here only, while the worker still receives the stream and
   * holds its slot until the deadline (minutes). So an early cancel waits for that turn.
   */
  #isOnWire = false;
  #isCancelWanted = false;

  constructor(
    call: StreamingTranscribeCall,
    settings: WorkerStreamSettings,
    options: RecognizeStreamOptions,
  ) {
    this.#call = call;
    this.#mode = settings.mode;
    // Without a listener an 'error' would crash the process; the failure surfaces through
    // write() and the iteration instead.
    call.on('error', (error: unknown) => {
      this.#failure ??= error;
    });
    this.finished = new Promise<void>((resolve) => {
      call.once('status', (status: grpc.StatusObject) => {
        this.#status = status;
        resolve();
      });
      call.once('close', () => {
        resolve();
      });
    });
    call.write({ config: toProtoConfig(settings) });
    setImmediate(() => {
      this.#isOnWire = true;
      if (this.#isCancelWanted) this.#cancelCall();
    });
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.#abort(signal.reason);
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void this.finished.then(() => {
          signal.removeEventListener('abort', onAbort);
        });
      }
    }
  }

  /** Cancels the call so that it reports `reason` (set first: the CANCELLED comes after). */
  #abort(reason: unknown): void {
    if (this.#status !== undefined) return;
    this.#failure ??=
      reason instanceof GatewayError ? reason : new InternalError(undefined, reason);
    this.#cancelCall();
  }

  #cancelCall(): void {
    if (this.#isOnWire) this.#call.cancel();
    else this.#isCancelWanted = true;
  }

  #isDone(): boolean {
    return this.#status !== undefined || this.#failure !== undefined;
  }

  #doneError(): GatewayError {
    if (this.#failure !== undefined) return toGatewayError(this.#failure);
    return new InternalError('The worker closed the stream before all audio was sent.');
  }

  async write(pcm: Buffer): Promise<void> {
    if (this.#isDone()) throw this.#doneError();
    if (this.#isEnded) throw new InternalError('write() after end() on a transcription stream.');
    if (this.#call.write({ audio: pcm })) return;
    const stop = new AbortController();
    const drained = once(this.#call, 'drain', { signal: stop.signal }).then(
      () => undefined,
      () => undefined,
    );
    try {
      await Promise.race([drained, this.finished]);
    } finally {
      stop.abort();
    }
    if (this.#isDone()) throw this.#doneError();
  }

  endTurn(): void {
    if (this.#isEnded || this.#isDone()) return;
    this.#call.write({ end_turn: {} });
  }

  end(): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    this.#call.end();
  }

  cancel(): void {
    if (this.#status === undefined) this.#cancelCall();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TranscriptEvent> {
    const responses: AsyncIterable<StreamingTranscribeResponse__Output> = this.#call;
    try {
      for await (const response of responses) {
        yield* responseToEvents(response, this.#mode);
      }
    } catch (error) {
      throw toGatewayError(this.#failure ?? error);
    }
    // The read side can end a moment before the status arrives; a failure must not pass
    // for a clean end.
    await this.finished;
    if (this.#failure !== undefined) throw toGatewayError(this.#failure);
  }
}

/**
 * Wraps a freshly started `StreamingTranscribe` call and sends `settings` as its first
 * message.
 */
export function createRecognizeStream(
  call: StreamingTranscribeCall,
  settings: WorkerStreamSettings,
  options: RecognizeStreamOptions = {},
): RecognizeStream {
  return new GrpcRecognizeStream(call, settings, options);
}
