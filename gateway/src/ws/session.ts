/**
 * One WhisperLive session: one WebSocket ↔ one `StreamingTranscribe` call (LIVE mode).
 *
 * The session is an explicit state machine; every change of state goes through
 * `#transition`, which also runs the state's entry actions (timers, messages, cleanup):
 *
 * ```
 * awaiting_config ──options──▶ starting ──worker ack──▶ streaming ──END_OF_AUDIO──▶ draining
 *        │                        │                         │                          │
 *        └────────────────────────┴─────────────────────────┴──────────────────────────┴─▶ closed
 * ```
 *
 * `starting` (options accepted, waiting for the worker's ack) is a state of its own so that
 * nothing, `SERVER_READY` included, reaches the client before the worker took the session.
 * The socket itself is wired by `server.ts`; the session sees it through {@link SessionSocket}.
 *
 * The session keeps the state machine, the timers and the mapping of failures to messages
 * and close codes; two parts beside it do the rest, each testable alone:
 * {@link createAudioPump} (`audio_pump.ts`) moves client audio to the worker call with
 * bounded buffering and backpressure, and {@link createSegmentView} (`segment_view.ts`)
 * turns the worker's results into WhisperLive's segment messages. Close codes come from the
 * one table in `close_codes.ts`.
 */
import { GatewayError, WorkerBusyError, WorkerUnavailableError } from '../errors.js';
import type { WorkerPool } from '../grpc/pool.js';
import type { RecognizeStream } from '../grpc/recognize_stream.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics.js';
import type { StreamSettings, TranscriptEvent } from '../transcript.js';
import { createAudioPump, type AudioPump } from './audio_pump.js';
import { SessionRecord } from './session_record.js';
import { CLOSE_CODES } from './close_codes.js';
import { failureEnding, type Ending } from './endings.js';
import {
  audioBytesToMs,
  decodeAudioFrame,
  encodeDisconnect,
  encodeError,
  encodeServerReady,
  encodeWait,
  isEndOfAudio,
  parseOptionsMessage,
  unsupportedFeatures,
  workerEncodingFor,
  type ClientOptions,
} from './protocol.js';
import { createSegmentView, type SegmentView } from './segment_view.js';

export { CLOSE_CODES, type CloseCode } from './close_codes.js';

/** Where a session is in its life. */
export type SessionState = 'awaiting_config' | 'starting' | 'streaming' | 'draining' | 'closed';

/** The socket as a session uses it: a `ws` WebSocket in production, a fake in tests. */
export interface SessionSocket {
  /** Sends one text frame (dropped when the socket is no longer open). */
  send(text: string): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Stops reading frames from the client (TCP backpressure). */
  pause(): void;
  /** Reads frames again. */
  resume(): void;
  /** Bytes queued for the client but not yet written to the network. */
  readonly bufferedAmount: number;
}

/** Whether a session may start now. */
export type Admission =
  | { readonly isAdmitted: true }
  | {
      readonly isAdmitted: false;
      /** Minutes until a slot is expected to free up (may be ≤ 0). */
      readonly waitMinutes: number;
    };

/** Counts live sessions against the limit (`GATEWAY_WS_MAX_SESSIONS`). */
export interface SessionAdmission {
  /** Takes a slot for `sessionId`, or says how long to wait. */
  admit(sessionId: string): Admission;
  /** Gives the slot back; unknown ids are ignored. */
  release(sessionId: string): void;
}

/** Time and size limits of a session. */
export interface SessionLimits {
  /** How long a new connection may take to send its options, in ms. */
  readonly optionsTimeoutMs: number;
  /** How long the worker may take to accept the session, in ms. */
  readonly readyTimeoutMs: number;
  /** Longest session from admission, in ms; then `DISCONNECT`. */
  readonly maxConnectionMs: number;
  /** How long to wait for the worker's last results after `END_OF_AUDIO`, in ms. */
  readonly flushTimeoutMs: number;
  /** Audio that may wait for the worker, in ms; more closes the session. */
  readonly maxPendingAudioMs: number;
  /** Bytes that may wait to be written to a client that does not read; more closes it. */
  readonly maxSendBufferBytes: number;
}

/** Collaborators of {@link createWsSession}. */
export interface WsSessionDeps {
  /** Id of this session (unique; the admission's key), in logs as `session_id`. */
  readonly sessionId: string;
  /**
   * The upgrade's request id (the client's `x-request-id` or a generated one): in logs as
   * `request_id` and sent as the worker call's `x-request-id`, so the worker's log lines
   * about this stream carry it too.
   */
  readonly requestId: string;
  /** Session metrics. */
  readonly metrics: GatewayMetrics;
  /** The client connection. */
  readonly socket: SessionSocket;
  /** Workers. */
  readonly pool: WorkerPool;
  /** The session limit. */
  readonly admission: SessionAdmission;
  /** Limits. */
  readonly limits: SessionLimits;
  /** Logger; the session adds `session_id` and `uid`. */
  readonly logger: Logger;
  /** Wall clock in ms (tests inject their own). */
  readonly now?: () => number;
}

/** A WhisperLive session. */
export interface WsSession {
  /** The session id. */
  readonly id: string;
  /** The request id. */
  readonly requestId: string;
  /** The current state. */
  readonly state: SessionState;
  /** True while reading from the client is paused because the worker is behind. */
  readonly isReadPaused: boolean;
  /** Arms the options timeout. Call once, right after the socket opened. */
  start(): void;
  /** A frame from the client. */
  handleMessage(data: Buffer, isBinary: boolean): void;
  /** The socket closed (by the client, the network or us). */
  handleSocketClose(code: number): void;
  /** The gateway is shutting down: tell the client and close. */
  shutdown(): void;
}

/** States each state may move to. */
const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  awaiting_config: ['starting', 'closed'],
  starting: ['streaming', 'closed'],
  streaming: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

/** Extra time on the worker call's deadline beyond the session's own limits, in ms. */
const CALL_DEADLINE_MARGIN_MS = 30_000;

/** The worker settings of a WhisperLive session. */
export function toStreamSettings(options: ClientOptions): StreamSettings {
  const vad = options.vadParameters;
  return {
    mode: 'live',
    task: options.task,
    languageCode: options.language ?? undefined,
    model: options.model ?? undefined,
    prompt: options.initialPrompt ?? undefined,
    temperature: 0,
    hasWordTimestamps: options.wordTimestamps,
    hasInterimResults: true,
    encoding: workerEncodingFor(options.audioFormat),
    hotwords: options.hotwords ?? '',
    isVadEnabled: options.useVad,
    vad: vad ?? undefined,
    noSpeechThreshold: options.noSpeechThresh,
    sameOutputThreshold: options.sameOutputThreshold,
  };
}

class Session implements WsSession {
  readonly id: string;
  readonly requestId: string;
  readonly #deps: WsSessionDeps;
  readonly #socket: SessionSocket;
  readonly #limits: SessionLimits;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  #logger: Logger;
  #state: SessionState = 'awaiting_config';
  #options: ClientOptions | undefined;
  #stream: RecognizeStream | undefined;
  /** Audio on its way to the worker; exists once the call does. */
  #pump: AudioPump | undefined;
  /** What the client has been told; exists once the options are known. */
  #view: SegmentView | undefined;
  #isAdmitted = false;
  #isEndRequested = false;
  #isStreamEnded = false;
  #hasSentResult = false;
  #openedAtMs: number;
  readonly #record: SessionRecord;

  // Timers, one per purpose; all cleared on `closed`.
  #optionsTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #connectionTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(deps: WsSessionDeps) {
    this.id = deps.sessionId;
    this.requestId = deps.requestId;
    this.#deps = deps;
    this.#socket = deps.socket;
    this.#limits = deps.limits;
    this.#now = deps.now ?? Date.now;
    this.#openedAtMs = this.#now();
    this.#logger = deps.logger.child({ session_id: deps.sessionId, request_id: deps.requestId });
    this.#record = new SessionRecord('whisperlive', deps.metrics);
  }

  get state(): SessionState {
    return this.#state;
  }

  get isReadPaused(): boolean {
    return this.#pump?.isReadPaused ?? false;
  }

  /** Reads the state afresh (TypeScript would keep a narrowed `#state` across calls). */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  get #uid(): string {
    return this.#options?.uid ?? '';
  }

  start(): void {
    this.#optionsTimer = setTimeout(() => {
      this.#end({
        message: encodeError(
          '',
          `no options message within ${this.#limits.optionsTimeoutMs / 1000} s`,
        ),
        code: CLOSE_CODES.policyViolation,
        reason: 'no options message',
      });
    }, this.#limits.optionsTimeoutMs);
  }

  // -- state machine ------------------------------------------------------------------

  /** The only place the state changes; runs the entry actions of `next`. */
  #transition(next: SessionState): void {
    const previous = this.#state;
    if (!TRANSITIONS[previous].includes(next)) {
      // A bug, but one session's bug must not take the gateway down with a throw.
      this.#logger.error('ws session: illegal transition ignored', {
        state: previous,
        next_state: next,
      });
      return;
    }
    this.#state = next;
    this.#logger.debug('ws session state', { state: next, previous_state: previous });
    switch (next) {
      case 'awaiting_config':
        break;
      case 'starting':
        clearTimeout(this.#optionsTimer);
        this.#readyTimer = setTimeout(() => {
          this.#end({
            message: encodeError(this.#uid, 'the worker did not accept the session in time'),
            code: CLOSE_CODES.internalError,
            reason: 'worker did not answer',
          });
        }, this.#limits.readyTimeoutMs);
        this.#connectionTimer = setTimeout(() => {
          this.#logger.info('ws session reached its time limit');
          this.#end({
            message: encodeDisconnect(this.#uid),
            code: CLOSE_CODES.normal,
            reason: 'session time limit reached',
          });
        }, this.#limits.maxConnectionMs);
        break;
      case 'streaming':
        clearTimeout(this.#readyTimer);
        this.#send(encodeServerReady(this.#uid));
        break;
      case 'draining':
        clearTimeout(this.#connectionTimer);
        this.#flushTimer = setTimeout(() => {
          this.#sendFinalSegments();
          this.#end({
            message: encodeError(this.#uid, 'the worker did not send the final transcript in time'),
            code: CLOSE_CODES.internalError,
            reason: 'flush timed out',
          });
        }, this.#limits.flushTimeoutMs);
        this.#endStreamWhenSent();
        break;
      case 'closed':
        clearTimeout(this.#optionsTimer);
        clearTimeout(this.#readyTimer);
        clearTimeout(this.#connectionTimer);
        clearTimeout(this.#flushTimer);
        this.#abort.abort();
        // Resumes reading too: the closing handshake needs the client's close frame.
        this.#pump?.close();
        if (this.#isAdmitted) this.#deps.admission.release(this.id);
        this.#record.report(
          this.#logger,
          'ws session closed',
          this.#now() - this.#openedAtMs,
          this.#audioMs(),
          {
            previous_state: previous,
            language: this.#view?.languageCode === '' ? undefined : this.#view?.languageCode,
          },
        );
        break;
    }
  }

  /** Sends the ending's message (if any), closes the socket and moves to `closed`. */
  #end(ending: Ending): void {
    if (this.#state === 'closed') return;
    if (ending.message !== undefined) {
      this.#send(ending.message);
      // Sending can end the session itself (a client that does not read).
      if (this.#isClosed()) return;
    }
    this.#record.closing(ending.code, ending.reason);
    this.#socket.close(ending.code, ending.reason);
    this.#transition('closed');
  }

  // -- client frames ------------------------------------------------------------------

  handleMessage(data: Buffer, isBinary: boolean): void {
    switch (this.#state) {
      case 'awaiting_config':
        this.#handleOptions(data, isBinary);
        return;
      case 'starting':
      case 'streaming':
        if (isEndOfAudio(data, isBinary)) {
          this.#handleEndOfAudio();
        } else if (isBinary) {
          this.#handleAudio(data);
        } else {
          this.#logger.debug('ws text frame ignored', { bytes: data.length });
        }
        return;
      case 'draining':
        this.#logger.debug('ws frame after END_OF_AUDIO ignored', { bytes: data.length });
        return;
      case 'closed':
        return;
    }
  }

  handleSocketClose(code: number): void {
    if (this.#state === 'closed') return;
    this.#record.closedByClient(code);
    this.#transition('closed');
  }

  shutdown(): void {
    switch (this.#state) {
      case 'awaiting_config':
        this.#end({ message: undefined, code: CLOSE_CODES.goingAway, reason: 'server shutdown' });
        return;
      case 'starting':
        this.#end({
          message: encodeError(this.#uid, 'the server is shutting down'),
          code: CLOSE_CODES.goingAway,
          reason: 'server shutdown',
        });
        return;
      case 'streaming':
      case 'draining':
        this.#end({
          message: encodeDisconnect(this.#uid),
          code: CLOSE_CODES.goingAway,
          reason: 'server shutdown',
        });
        return;
      case 'closed':
        return;
    }
  }

  #handleOptions(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.#end({
        message: encodeError('', 'the first message must be a text frame with the options JSON'),
        code: CLOSE_CODES.policyViolation,
        reason: 'invalid options',
      });
      return;
    }
    const parsed = parseOptionsMessage(data.toString('utf8'));
    if (!parsed.isValid) {
      this.#logger.info('ws options refused', { uid: parsed.uid, reason: parsed.message });
      this.#end({
        message: encodeError(parsed.uid, parsed.message),
        code: CLOSE_CODES.policyViolation,
        reason: 'invalid options',
      });
      return;
    }
    const options = parsed.options;
    this.#options = options;
    this.#logger = this.#logger.child({ uid: options.uid });
    this.#view = createSegmentView({
      uid: options.uid,
      sendLastNSegments: options.sendLastNSegments,
      hasWordTimestamps: options.wordTimestamps,
      isDetectingLanguage: options.language === null,
      logger: this.#logger,
    });

    const admission = this.#deps.admission.admit(this.id);
    if (!admission.isAdmitted) {
      this.#logger.info('ws session refused: server full', {
        wait_minutes: admission.waitMinutes,
      });
      this.#deps.metrics.rejected('whisperlive', 'session_limit');
      this.#end({
        message: encodeWait(options.uid, admission.waitMinutes),
        code: CLOSE_CODES.tryAgainLater,
        reason: 'server full',
      });
      return;
    }
    this.#isAdmitted = true;
    this.#openedAtMs = this.#now();

    let stream: RecognizeStream;
    let worker: string;
    try {
      const lease = this.#deps.pool.acquire();
      worker = lease.id;
      stream = lease.startStream(toStreamSettings(options), {
        requestId: this.requestId,
        timeoutMs:
          this.#limits.readyTimeoutMs +
          this.#limits.maxConnectionMs +
          this.#limits.flushTimeoutMs +
          CALL_DEADLINE_MARGIN_MS,
      });
    } catch (error) {
      this.#fail(error, true);
      return;
    }
    this.#stream = stream;
    this.#pump = createAudioPump({
      sink: stream,
      reader: this.#socket,
      bytesToMs: (byteCount) => this.#bytesToMs(byteCount),
      maxPendingMs: this.#limits.maxPendingAudioMs,
      onDrained: () => {
        this.#endStreamWhenSent();
      },
    });
    this.#abort.signal.addEventListener(
      'abort',
      () => {
        stream.cancel();
      },
      { once: true },
    );
    this.#logger.info('ws session opened', {
      worker,
      language: options.language,
      task: options.task,
      model: options.model,
      audio_format: options.audioFormat,
      use_vad: options.useVad,
      word_timestamps: options.wordTimestamps,
      ...(unsupportedFeatures(options).length > 0
        ? { unsupported_options: unsupportedFeatures(options) }
        : {}),
    });
    this.#transition('starting');
    void this.#consume(stream);
  }

  #handleEndOfAudio(): void {
    this.#logger.debug('ws END_OF_AUDIO');
    if (this.#state === 'starting') {
      // SERVER_READY has not been sent yet; half-close right after it.
      this.#isEndRequested = true;
      return;
    }
    this.#transition('draining');
  }

  #handleAudio(frame: Buffer): void {
    const options = this.#options;
    const pump = this.#pump;
    if (options === undefined || pump === undefined) return;
    const decoded = decodeAudioFrame(frame, options.audioFormat);
    if (!decoded.isValid) {
      this.#end({
        message: encodeError(options.uid, decoded.message),
        code: CLOSE_CODES.invalidPayload,
        reason: 'invalid audio frame',
      });
      return;
    }
    if (this.#isEndRequested) return;
    const wasPaused = this.isReadPaused;
    if (pump.push(decoded.pcm) === 'overflow') {
      this.#logger.warn('ws audio backlog over the limit', { queued_ms: pump.pendingMs });
      this.#end({
        message: encodeError(options.uid, 'audio arrives faster than it can be processed'),
        code: CLOSE_CODES.policyViolation,
        reason: 'audio backlog over the limit',
      });
      return;
    }
    if (!wasPaused && pump.isReadPaused) {
      this.#logger.debug('ws reading paused: the worker is behind', {
        queued_ms: pump.pendingMs,
      });
    }
  }

  // -- audio to the worker ------------------------------------------------------------

  #bytesToMs(byteCount: number): number {
    return audioBytesToMs(byteCount, workerEncodingFor(this.#options?.audioFormat ?? 'float32'));
  }

  #audioMs(): number {
    return this.#bytesToMs(this.#pump?.writtenBytes ?? 0);
  }

  /** Half-closes the call once draining and every queued chunk was written. */
  #endStreamWhenSent(): void {
    if (this.#state !== 'draining' || this.#pump?.isIdle === false) return;
    if (this.#isStreamEnded) return;
    this.#isStreamEnded = true;
    this.#stream?.end();
  }

  // -- worker events ------------------------------------------------------------------

  async #consume(stream: RecognizeStream): Promise<void> {
    try {
      for await (const event of stream) {
        if (this.#state === 'closed') return;
        this.#handleEvent(event);
      }
    } catch (error) {
      if (this.#state !== 'closed') this.#fail(error, this.#state === 'starting');
      return;
    }
    this.#handleStreamDone();
  }

  #handleEvent(event: TranscriptEvent): void {
    if (this.#state === 'starting') {
      // The worker's first response (the ack) says it accepted the config.
      this.#transition('streaming');
      // Sending SERVER_READY can end the session (a client that does not read).
      if (this.#isClosed()) return;
      if (this.#isEndRequested) this.#transition('draining');
    }
    switch (event.type) {
      case 'results': {
        const notice = this.#view?.apply(event.segments);
        if (notice !== undefined) this.#send(notice);
        this.#sendSegments(false);
        return;
      }
      case 'summary':
        this.#view?.noteLanguage(event.summary.languageCode);
        this.#logger.debug('ws worker summary', {
          duration_ms: event.summary.durationMs,
          language: event.summary.languageCode,
        });
        return;
      case 'segment':
      case 'speech':
      case 'progress':
      case 'turn_end':
        return;
    }
  }

  /** Sends the view's segments message, if there is one to send now. */
  #sendSegments(isFinal: boolean): void {
    const message = this.#view?.nextMessage(isFinal);
    if (message === undefined) return;
    this.#logger.debug('ws segments sent', { is_final: isFinal });
    if (!this.#hasSentResult) {
      this.#hasSentResult = true;
      this.#deps.metrics.firstResult('whisperlive', (this.#now() - this.#openedAtMs) / 1000);
    }
    this.#send(message);
  }

  #sendFinalSegments(): void {
    this.#sendSegments(true);
  }

  #handleStreamDone(): void {
    switch (this.#state) {
      case 'draining':
        this.#sendFinalSegments();
        this.#end({ message: undefined, code: CLOSE_CODES.normal, reason: 'end of audio' });
        return;
      case 'starting':
      case 'streaming':
        // OK without our half-close: the worker gave up on the stream.
        this.#end({
          message: encodeError(this.#uid, 'the worker ended the stream unexpectedly'),
          code: CLOSE_CODES.internalError,
          reason: 'worker ended the stream',
        });
        return;
      case 'awaiting_config':
      case 'closed':
        return;
    }
  }

  /** Ends the session for a failed worker call (or no worker at all). */
  #fail(error: unknown, isStarting: boolean): void {
    const uid = this.#uid;
    if (isStarting && error instanceof WorkerBusyError) {
      const waitMinutes = (error.retryAfterMs ?? 1000) / 60_000;
      this.#logger.info('ws session refused: worker busy', { wait_minutes: waitMinutes });
      this.#deps.metrics.rejected('whisperlive', 'worker_busy');
      this.#end({
        message: encodeWait(uid, waitMinutes),
        code: CLOSE_CODES.tryAgainLater,
        reason: 'worker busy',
      });
      return;
    }
    const ending = failureEnding(uid, error);
    if (isStarting && error instanceof WorkerUnavailableError) {
      this.#deps.metrics.rejected('whisperlive', 'worker_unavailable');
    }
    const level = ending.code === CLOSE_CODES.policyViolation ? 'info' : 'warn';
    this.#logger.log(level, 'ws session failed', {
      reason: ending.reason,
      error: error instanceof Error ? error.message : String(error),
      error_code: error instanceof GatewayError ? error.code : undefined,
    });
    this.#end(ending);
  }

  #send(text: string): void {
    if (this.#state === 'closed') return;
    if (this.#socket.bufferedAmount > this.#limits.maxSendBufferBytes) {
      // A client that does not read its messages would make us buffer without end.
      this.#logger.warn('ws client does not read its messages', {
        buffered_bytes: this.#socket.bufferedAmount,
      });
      this.#end({
        message: undefined,
        code: CLOSE_CODES.policyViolation,
        reason: 'client does not read',
      });
      return;
    }
    this.#socket.send(text);
  }
}

/** Creates a session in `awaiting_config`; call `start()` once the socket is open. */
export function createWsSession(deps: WsSessionDeps): WsSession {
  return new Session(deps);
}
