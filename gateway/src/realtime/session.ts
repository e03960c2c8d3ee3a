/**
 * One OpenAI Realtime transcription session: one WebSocket on `/v1/realtime` ↔ (once audio
 * arrives) one turn-mode `StreamingTranscribe` call.
 *
 * The session owns the timers, the limits, the worker call and the mapping of failures to
 * error events and close codes. Three parts beside it do the rest, each testable alone:
 * `protocol.ts` (client events in, server events out), `items.ts` (which item a worker event
 * belongs to and what the client hears about it) and `audio.ts` (client audio to 16 kHz).
 * Audio reaches the worker through the same {@link createAudioPump} as WhisperLive sessions
 * (bounded buffering, backpressure), which also keeps each end of a turn behind its audio.
 *
 * Bad client events are answered with an `error` event and the session goes on; the session
 * ends (an `error` event, then the close frame) on its time limit, an idle client, a worker
 * failure, audio faster than the worker takes it, a client that does not read, or shutdown.
 */
import { checkLanguageAndTask, checkModel, OPENAI_MODEL_ALIAS } from '../file_transcription.js';
import { GatewayError, InternalError, WorkerBusyError, WorkerUnavailableError } from '../errors.js';
import type { WorkerPool } from '../grpc/pool.js';
import type { RecognizeStream } from '../grpc/recognize_stream.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics.js';
import { linear16BytesToMs } from '../audio/pcm.js';
import type { StreamSettings, TranscriptEvent, WorkerInfo } from '../transcript.js';
import { createAudioPump, type AudioPump } from '../ws/audio_pump.js';
import { SessionRecord } from '../ws/session_record.js';
import { CLOSE_CODES } from '../ws/close_codes.js';
import type { SessionAdmission, SessionSocket } from '../ws/session.js';
import { createAudioConverter, type AudioConverter } from './audio.js';
import { ItemTracker } from './items.js';
import {
  applySessionPatch,
  cleared,
  commitEmptyError,
  defaultSessionConfig,
  encodeServerEvent,
  errorEvent,
  invalidEventError,
  MIN_COMMIT_MS,
  newId,
  parseClientEvent,
  sessionCreated,
  sessionUpdated,
  type ClientEvent,
  type Dialect,
  type ErrorDetail,
  type ServerEvent,
  type SessionConfig,
  type SessionIdentity,
  type SessionPatch,
} from './protocol.js';

/** Limits of a Realtime session. */
export interface RealtimeLimits {
  /** Longest session from its start, in ms. */
  readonly maxSessionMs: number;
  /** A session without client events this long is closed, in ms. */
  readonly idleTimeoutMs: number;
  /** Audio that may wait for the worker, in ms; more closes the session. */
  readonly maxPendingAudioMs: number;
  /** How long the worker may take to accept the stream, in ms. */
  readonly readyTimeoutMs: number;
  /** Bytes that may wait to be written to a client that does not read; more closes it. */
  readonly maxSendBufferBytes: number;
}

/** Collaborators of {@link createRealtimeSession}. */
export interface RealtimeSessionDeps {
  readonly sessionId: string;
  readonly requestId: string;
  /** The dialect of the first event (the beta one when the client sent `OpenAI-Beta: realtime=v1`). */
  readonly dialect: Dialect;
  readonly socket: SessionSocket;
  readonly pool: WorkerPool;
  /** The live-session limit, shared with WhisperLive sessions. */
  readonly admission: SessionAdmission;
  readonly limits: RealtimeLimits;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Wall clock in ms (tests). */
  readonly now?: () => number;
}

/** A Realtime session. */
export interface RealtimeSession {
  readonly id: string;
  readonly requestId: string;
  /** Whether the session has ended. */
  readonly isClosed: boolean;
  /** True while reading from the client is paused because the worker is behind. */
  readonly isReadPaused: boolean;
  /** Takes a slot, sends `session.created` and arms the timers. Call once the socket is open. */
  start(): void;
  /** A frame from the client. */
  handleMessage(data: Buffer, isBinary: boolean): void;
  /** The socket closed. */
  handleSocketClose(code: number): void;
  /** The gateway is shutting down. */
  shutdown(): void;
}

/** Extra time on the worker call's deadline beyond the session's time limit, in ms. */
const CALL_DEADLINE_MARGIN_MS = 30_000;

/** How a session ends: the error event the client gets (if any), then the close frame. */
interface Ending {
  readonly error: Omit<ErrorDetail, 'event_id'> | undefined;
  readonly code: number;
  readonly reason: string;
}

/** The error detail of a gateway error (worker failures): its own client-safe words. */
function detailOf(error: unknown): Omit<ErrorDetail, 'event_id'> {
  const failure = error instanceof GatewayError ? error : new InternalError(undefined, error);
  return {
    type: failure.type,
    code: failure.code,
    message: failure.message,
    param: failure.param,
  };
}

/** Whether a patch changes what the worker stream was opened with. */
function changesStream(before: SessionConfig, after: SessionConfig): boolean {
  return (
    JSON.stringify([before.transcription, before.turnDetection]) !==
    JSON.stringify([after.transcription, after.turnDetection])
  );
}

/** The worker settings of a session's configuration. */
export function toStreamSettings(config: SessionConfig): StreamSettings {
  const { transcription, turnDetection } = config;
  return {
    mode: 'live',
    task: 'transcribe',
    languageCode: transcription.language ?? undefined,
    model: transcription.model,
    prompt: transcription.prompt === '' ? undefined : transcription.prompt,
    temperature: 0,
    hasWordTimestamps: false,
    // Deltas are append-only: only final text reaches the client.
    hasInterimResults: false,
    encoding: 'linear16',
    turns:
      turnDetection === null
        ? { silenceDurationMs: 0, prefixPaddingMs: 0 }
        : {
            silenceDurationMs: turnDetection.silence_duration_ms,
            prefixPaddingMs: turnDetection.prefix_padding_ms,
            threshold: turnDetection.threshold,
          },
  };
}

class Session implements RealtimeSession {
  readonly id: string;
  readonly requestId: string;
  readonly #deps: RealtimeSessionDeps;
  readonly #socket: SessionSocket;
  readonly #limits: RealtimeLimits;
  readonly #now: () => number;
  readonly #items = new ItemTracker();
  readonly #identity: SessionIdentity;
  readonly #defaults: SessionConfig;
  #logger: Logger;
  #config: SessionConfig;
  #converter: AudioConverter;
  #stream: RecognizeStream | undefined;
  #pump: AudioPump | undefined;
  /** Where the current worker stream's audio starts in the session, in ms. */
  #streamBaseMs = 0;
  /** Streams half-closed after a settings change: they finish on their own, unheard. */
  readonly #retired: RecognizeStream[] = [];
  #isAdmitted = false;
  #isClosed = false;
  #isAcked = false;
  #hasSentResult = false;
  readonly #record: SessionRecord;
  readonly #openedAtMs: number;
  /** Client audio appended so far, in ms. */
  #appendedMs = 0;
  /** Where the audio not yet in a turn starts (the last commit, clear or turn end), in ms. */
  #boundaryMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #sessionTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;

  constructor(deps: RealtimeSessionDeps) {
    this.id = deps.sessionId;
    this.requestId = deps.requestId;
    this.#deps = deps;
    this.#socket = deps.socket;
    this.#limits = deps.limits;
    this.#now = deps.now ?? Date.now;
    this.#openedAtMs = this.#now();
    this.#logger = deps.logger.child({ session_id: deps.sessionId, request_id: deps.requestId });
    this.#defaults = defaultSessionConfig(this.#workerInfo()?.modelName ?? OPENAI_MODEL_ALIAS);
    this.#config = this.#defaults;
    this.#converter = createAudioConverter(this.#config.format);
    this.#identity = {
      id: newId('sess'),
      expiresAtS: Math.floor((this.#openedAtMs + deps.limits.maxSessionMs) / 1000),
    };
    this.#record = new SessionRecord('realtime', deps.metrics);
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Reads the flag afresh (TypeScript would keep a narrowed `#isClosed` across calls). */
  #hasEnded(): boolean {
    return this.#isClosed;
  }

  get isReadPaused(): boolean {
    return this.#pump?.isReadPaused ?? false;
  }

  /** The model the workers serve, when one has told us. */
  #workerInfo(): WorkerInfo | undefined {
    try {
      return this.#deps.pool.acquire().info;
    } catch {
      return undefined;
    }
  }

  start(): void {
    const admission = this.#deps.admission.admit(this.id);
    if (!admission.isAdmitted) {
      this.#logger.info('realtime session refused: server full');
      this.#deps.metrics.rejected('realtime', 'session_limit');
      this.#end({
        error: {
          type: 'server_error',
          code: 'server_busy',
          message:
            'The server is serving as many live sessions as it can; try again in about ' +
            `${Math.max(1, Math.ceil(admission.waitMinutes))} minute(s).`,
          param: null,
        },
        code: CLOSE_CODES.tryAgainLater,
        reason: 'server full',
      });
      return;
    }
    this.#isAdmitted = true;
    this.#logger.info('realtime session opened', { dialect: this.#deps.dialect });
    this.#send(sessionCreated(this.#deps.dialect, this.#config, this.#identity));
    this.#sessionTimer = setTimeout(() => {
      this.#logger.info('realtime session reached its time limit');
      this.#end({
        error: {
          type: 'invalid_request_error',
          code: 'session_expired',
          message: `Your session hit the maximum duration of ${this.#limits.maxSessionMs / 1000} seconds.`,
          param: null,
        },
        code: CLOSE_CODES.normal,
        reason: 'session time limit reached',
      });
    }, this.#limits.maxSessionMs);
    this.#armIdleTimer();
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#logger.info('realtime session idle; closing');
      this.#end({
        error: {
          type: 'invalid_request_error',
          code: 'idle_timeout',
          message: `No client event for ${this.#limits.idleTimeoutMs / 1000} seconds; the session is closed.`,
          param: null,
        },
        code: CLOSE_CODES.normal,
        reason: 'idle',
      });
    }, this.#limits.idleTimeoutMs);
  }

  // -- client events ------------------------------------------------------------------

  handleMessage(data: Buffer, isBinary: boolean): void {
    if (this.#isClosed || !this.#isAdmitted) return;
    this.#armIdleTimer();
    if (isBinary) {
      this.#sendError(
        invalidEventError(
          'invalid_type',
          'Binary frames are not accepted: send each event as a JSON text message.',
          null,
          null,
        ),
      );
      return;
    }
    const parsed = parseClientEvent(data.toString('utf8'));
    if (!parsed.isValid) {
      this.#logger.debug('realtime client event refused', { ...parsed.error });
      this.#sendError(parsed.error);
      return;
    }
    this.#handleEvent(parsed.event);
  }

  #handleEvent(event: ClientEvent): void {
    switch (event.type) {
      case 'session.update':
        this.#update(event.patch, event.dialect, event.eventId);
        return;
      case 'input_audio_buffer.append':
        this.#append(event.audio);
        return;
      case 'input_audio_buffer.commit':
        this.#commit(event.eventId);
        return;
      case 'input_audio_buffer.clear':
        this.#clear();
        return;
    }
  }

  #update(patch: SessionPatch, dialect: Dialect, eventId: string | null): void {
    const next = applySessionPatch(this.#config, patch, this.#defaults);
    const info = this.#workerInfo();
    try {
      checkModel(next.transcription.model, info);
      checkLanguageAndTask(toStreamSettings(next), info);
    } catch (error) {
      const failure = error instanceof GatewayError ? error : new InternalError(undefined, error);
      const field = failure.param === 'model' ? 'model' : 'language';
      const param =
        dialect === 'ga'
          ? `session.audio.input.transcription.${field}`
          : `session.input_audio_transcription.${field}`;
      this.#sendError(invalidEventError(failure.code, failure.message, param, eventId));
      return;
    }
    if (this.#stream !== undefined && changesStream(this.#config, next)) {
      if (this.#items.openItems > 0) {
        this.#sendError(
          invalidEventError(
            'turn_in_progress',
            'The transcription settings and turn detection cannot change while a turn is ' +
              'being transcribed; send the update between turns (after its completed event), ' +
              'or commit or clear first.',
            null,
            eventId,
          ),
        );
        return;
      }
      this.#retireStream();
    }
    if (next.format.type !== this.#config.format.type) {
      // What the old format's filter still holds belongs to the audio before the change.
      this.#pushAudio(this.#converter.flush());
      this.#converter = createAudioConverter(next.format);
    }
    this.#config = next;
    this.#logger.info('realtime session updated', {
      format: next.format.type,
      model: next.transcription.model,
      language: next.transcription.language ?? undefined,
      turn_detection: next.turnDetection?.type ?? 'none',
    });
    this.#send(sessionUpdated(dialect, next, this.#identity));
  }

  /**
   * Half-closes the worker stream (between turns: nothing of it is owed to the client), so
   * the next audio opens one with the new settings.
   */
  #retireStream(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#pump?.close();
    stream.end();
    this.#retired.push(stream);
    this.#stream = undefined;
    this.#pump = undefined;
    clearTimeout(this.#readyTimer);
    // The old stream's open turn (silence) is gone with it.
    this.#boundaryMs = this.#appendedMs;
    this.#logger.info('realtime worker stream retired for new settings');
  }

  #append(audio: Buffer): void {
    if (audio.length === 0) return;
    if (this.#stream === undefined && !this.#startStream()) return;
    this.#appendedMs += this.#converter.bytesToMs(audio.length);
    this.#pushAudio(this.#converter.convert(audio));
  }

  #pushAudio(pcm: Buffer): void {
    const pump = this.#pump;
    if (pump === undefined || pcm.length === 0) return;
    if (pump.push(pcm) === 'overflow') {
      this.#logger.warn('realtime audio backlog over the limit', { queued_ms: pump.pendingMs });
      this.#end({
        error: {
          type: 'invalid_request_error',
          code: 'audio_backlog',
          message: 'Audio arrives faster than it can be transcribed; send it at most in real time.',
          param: null,
        },
        code: CLOSE_CODES.policyViolation,
        reason: 'audio backlog over the limit',
      });
    }
  }

  /** Audio appended since the last turn boundary, in ms. */
  #bufferedMs(): number {
    return Math.max(0, this.#appendedMs - this.#boundaryMs);
  }

  #commit(eventId: string | null): void {
    const bufferedMs = this.#bufferedMs();
    if (bufferedMs < MIN_COMMIT_MS || this.#pump === undefined) {
      this.#sendError(commitEmptyError(bufferedMs, eventId));
      return;
    }
    this.#boundaryMs = this.#appendedMs;
    this.#sendAll(this.#items.commit(this.#config.turnDetection !== null));
    this.#pump.endTurn();
  }

  #clear(): void {
    if (this.#bufferedMs() > 0 && this.#pump !== undefined) {
      this.#boundaryMs = this.#appendedMs;
      this.#items.clear(this.#config.turnDetection !== null);
      this.#pump.endTurn();
    }
    this.#send(cleared());
  }

  // -- the worker call ----------------------------------------------------------------

  /** Opens the worker call; false when that failed (the session is over then). */
  #startStream(): boolean {
    let stream: RecognizeStream;
    try {
      const lease = this.#deps.pool.acquire();
      stream = lease.startStream(toStreamSettings(this.#config), {
        requestId: this.requestId,
        timeoutMs: this.#limits.maxSessionMs + CALL_DEADLINE_MARGIN_MS,
      });
      this.#logger.info('realtime worker stream opened', { worker: lease.id });
    } catch (error) {
      this.#fail(error);
      return false;
    }
    this.#stream = stream;
    this.#streamBaseMs = this.#appendedMs;
    this.#isAcked = false;
    this.#pump = createAudioPump({
      sink: stream,
      reader: this.#socket,
      bytesToMs: linear16BytesToMs,
      maxPendingMs: this.#limits.maxPendingAudioMs,
    });
    this.#readyTimer = setTimeout(() => {
      this.#end({
        error: {
          type: 'server_error',
          code: 'worker_timeout',
          message: 'The transcription worker did not accept the session in time.',
          param: null,
        },
        code: CLOSE_CODES.internalError,
        reason: 'worker did not answer',
      });
    }, this.#limits.readyTimeoutMs);
    void this.#consume(stream);
    return true;
  }

  async #consume(stream: RecognizeStream): Promise<void> {
    // A retired stream's last events (an empty turn, the summary) and its end are nobody's.
    const isCurrent = (): boolean => !this.#isClosed && stream === this.#stream;
    try {
      for await (const event of stream) {
        if (!isCurrent()) continue;
        this.#handleWorkerEvent(event);
      }
    } catch (error) {
      if (isCurrent()) this.#fail(error);
      return;
    }
    if (!isCurrent()) return;
    // OK without our half-close: the worker gave up on the stream.
    this.#fail(new InternalError('The transcription worker ended the stream unexpectedly.'));
  }

  #handleWorkerEvent(event: TranscriptEvent): void {
    if (!this.#isAcked) {
      this.#isAcked = true;
      clearTimeout(this.#readyTimer);
    }
    switch (event.type) {
      case 'results': {
        const events = this.#items.results(event.segments);
        if (events.length > 0 && !this.#hasSentResult) {
          this.#hasSentResult = true;
          this.#deps.metrics.firstResult('realtime', (this.#now() - this.#openedAtMs) / 1000);
        }
        this.#sendAll(events);
        return;
      }
      case 'speech':
        if (event.boundary === 'speech_begin' && this.#config.turnDetection !== null) {
          this.#sendAll(this.#items.speechBegan(this.#streamBaseMs + event.offsetMs));
        }
        return;
      case 'turn_end': {
        // Worker times are the stream's; the client's are the session's.
        const turn = {
          ...event.turn,
          startMs: this.#streamBaseMs + event.turn.startMs,
          endMs: this.#streamBaseMs + event.turn.endMs,
        };
        this.#boundaryMs = Math.max(this.#boundaryMs, turn.endMs);
        this.#sendAll(this.#items.turnEnded(turn));
        return;
      }
      case 'segment':
      case 'progress':
      case 'summary':
        return;
    }
  }

  /** Ends the session for a failed worker call (or no worker at all). */
  #fail(error: unknown): void {
    const detail = detailOf(error);
    const isRefusal =
      !this.#isAcked &&
      (error instanceof WorkerBusyError || error instanceof WorkerUnavailableError);
    if (isRefusal) {
      this.#deps.metrics.rejected(
        'realtime',
        error instanceof WorkerBusyError ? 'worker_busy' : 'worker_unavailable',
      );
    }
    this.#logger.warn('realtime session failed', {
      error: error instanceof Error ? error.message : String(error),
      error_code: detail.code,
    });
    this.#sendAll(this.#items.fail(detail));
    const code = error instanceof GatewayError ? error.wsCloseCode : CLOSE_CODES.internalError;
    this.#end({ error: detail, code, reason: detail.code ?? 'worker failure' });
  }

  // -- the end ------------------------------------------------------------------------

  #end(ending: Ending): void {
    if (this.#isClosed) return;
    if (ending.error !== undefined) this.#sendError({ ...ending.error, event_id: null });
    // Sending can end the session itself (a client that does not read).
    if (this.#hasEnded()) return;
    this.#record.closing(ending.code, ending.reason);
    this.#socket.close(ending.code, ending.reason);
    this.#close();
  }

  #close(): void {
    this.#isClosed = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#sessionTimer);
    clearTimeout(this.#readyTimer);
    this.#stream?.cancel();
    for (const stream of this.#retired) stream.cancel();
    this.#pump?.close();
    if (this.#isAdmitted) this.#deps.admission.release(this.id);
    this.#record.report(
      this.#logger,
      'realtime session closed',
      this.#now() - this.#openedAtMs,
      this.#appendedMs,
    );
  }

  handleSocketClose(code: number): void {
    if (this.#isClosed) return;
    this.#record.closedByClient(code);
    this.#close();
  }

  shutdown(): void {
    this.#end({
      error: {
        type: 'server_error',
        code: 'server_shutting_down',
        message: 'The server is shutting down.',
        param: null,
      },
      code: CLOSE_CODES.goingAway,
      reason: 'server shutdown',
    });
  }

  // -- sending ------------------------------------------------------------------------

  #sendError(error: ErrorDetail): void {
    this.#send(errorEvent(error));
  }

  #sendAll(events: readonly ServerEvent[]): void {
    for (const event of events) this.#send(event);
  }

  #send(event: ServerEvent): void {
    if (this.#isClosed) return;
    if (this.#socket.bufferedAmount > this.#limits.maxSendBufferBytes) {
      this.#logger.warn('realtime client does not read its events', {
        buffered_bytes: this.#socket.bufferedAmount,
      });
      this.#record.closing(CLOSE_CODES.policyViolation, 'client does not read');
      this.#socket.close(CLOSE_CODES.policyViolation, 'client does not read');
      this.#close();
      return;
    }
    this.#socket.send(encodeServerEvent(event));
  }
}

/** Creates a session; call `start()` once the socket is open. */
export function createRealtimeSession(deps: RealtimeSessionDeps): RealtimeSession {
  return new Session(deps);
}
