/**
 * The OpenAI Realtime transcription endpoint on the HTTP port: WebSocket upgrades of
 * `GET /v1/realtime?intent=transcription`, checked as the HTTP API checks requests (the API
 * key as `Authorization: Bearer`, or for browsers as an `openai-insecure-api-key.<key>`
 * subprotocol beside `realtime`, which is echoed), the browser `Origin`, the rate limits and
 * the connections per client; then one Realtime session per connection, a ping/pong
 * heartbeat and a graceful close. A `model` in the URL (without the transcription intent)
 * asks for a conversation session, which this server does not have: it hears an `error`
 * event and the close.
 *
 * Nothing here may throw out of the `upgrade` listener: the request is untrusted.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import type { WebSocket } from 'ws';

import type { GatewayConfig } from '../config.js';
import type { WorkerPool } from '../grpc/pool.js';
import type { RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics.js';
import { CLOSE_CODES } from '../ws/close_codes.js';
import { LiveClients } from '../ws/live_clients.js';
import { socketFor, type CountingAdmission } from '../ws/server.js';
import {
  offeredProtocols,
  rateRefusal,
  UpgradeGate,
  type UpgradeRefusal,
} from '../ws/upgrade_gate.js';
import { encodeServerEvent, errorEvent, type Dialect } from './protocol.js';
import { createRealtimeSession, type RealtimeLimits } from './session.js';

/** The path of the endpoint. */
export const REALTIME_PATH = '/v1/realtime';

/** The configuration the endpoint reads. */
export type RealtimeConfig = Pick<
  GatewayConfig,
  'apiKeys' | 'realtime' | 'wsMaxPendingAudioMs' | 'wsReadyTimeoutMs' | 'drainGraceMs' | 'limits'
>;

/** Timings overridable for tests. */
export interface RealtimeTimings {
  /** Ping interval; a client that has not answered the previous ping is dropped, in ms. */
  readonly heartbeatMs: number;
  /** How long `close()` lets sessions say goodbye before cutting them, in ms. */
  readonly closeGraceMs: number;
  /** Bytes that may wait to be written to a client that does not read. */
  readonly maxSendBufferBytes: number;
}

const DEFAULT_TIMINGS: RealtimeTimings = {
  heartbeatMs: 30_000,
  closeGraceMs: 2_000,
  maxSendBufferBytes: 4 * 1024 * 1024,
};

/** Collaborators of {@link createRealtimeEndpoint}. */
export interface RealtimeEndpointDeps {
  readonly config: RealtimeConfig;
  readonly logger: Logger;
  readonly pool: WorkerPool;
  /** The live-session limit shared with the WhisperLive port. */
  readonly admission: CountingAdmission;
  readonly rateLimiter: RateLimiter;
  readonly metrics: GatewayMetrics;
  readonly timings?: Partial<RealtimeTimings>;
}

/** The endpoint, driven by the HTTP server's `upgrade` event. */
export interface RealtimeEndpoint {
  /** Whether an upgrade request is for this endpoint. */
  matches(req: http.IncomingMessage): boolean;
  /** The `upgrade` listener for requests that match. */
  handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Starts the heartbeat. */
  start(): void;
  /** Refuses new sessions, lets running ones end within the drain grace, then closes them. */
  close(): Promise<void>;
}

/** The request target's path and query; undefined when it does not parse. */
function targetOf(req: http.IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://gateway.invalid');
  } catch {
    return undefined;
  }
}

/** An OpenAI-shaped JSON refusal of an upgrade. */
function jsonRefusal(status: string, code: string, message: string): UpgradeRefusal {
  return {
    status,
    contentType: 'application/json',
    body: JSON.stringify({
      error: {
        message,
        type: status.startsWith('401') ? 'invalid_request_error' : 'server_error',
        code,
        param: null,
      },
    }),
  };
}

const UNAUTHORIZED = jsonRefusal(
  '401 Unauthorized',
  'invalid_api_key',
  "Missing or incorrect API key. Send it as 'Authorization: Bearer <key>' (browsers: the " +
    "'openai-insecure-api-key.<key>' subprotocol).",
);
const FORBIDDEN_ORIGIN = jsonRefusal(
  '403 Forbidden',
  'origin_not_allowed',
  'This Origin may not open Realtime sessions.',
);
const SHUTTING_DOWN = jsonRefusal(
  '503 Service Unavailable',
  'server_shutting_down',
  'The server is shutting down.',
);

/**
 * Why a connection URL asks for something other than a transcription session, or undefined.
 * The beta SDK always puts a `model` in the URL, so one beside `intent=transcription` is
 * accepted (and ignored: the session's `transcription.model` picks the model).
 */
export function intentProblem(url: URL): string | undefined {
  const intent = url.searchParams.get('intent');
  if (intent === 'transcription') return undefined;
  if (intent !== null) {
    return `Unsupported intent '${intent}': this server serves transcription sessions only (intent=transcription).`;
  }
  if (url.searchParams.has('model')) {
    return (
      'A model in the URL asks for a conversation session, which this server does not serve: ' +
      'connect with ?intent=transcription and choose the model with session.update ' +
      '(session.audio.input.transcription.model).'
    );
  }
  return undefined;
}

/** The beta dialect: `OpenAI-Beta: realtime=v1`, or its browser subprotocol. */
function dialectOf(req: http.IncomingMessage): Dialect {
  const header = req.headers['openai-beta'];
  const values = Array.isArray(header) ? header : [header ?? ''];
  const isBeta =
    values.some((value) => /(^|,)\s*realtime=v1\s*(,|$)/.test(value)) ||
    offeredProtocols(req).includes('openai-beta.realtime-v1');
  return isBeta ? 'beta' : 'ga';
}

class Endpoint implements RealtimeEndpoint {
  readonly #deps: RealtimeEndpointDeps;
  readonly #timings: RealtimeTimings;
  readonly #limits: RealtimeLimits;
  readonly #gate: UpgradeGate;
  readonly #clients: LiveClients;
  #isClosing = false;

  constructor(deps: RealtimeEndpointDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.#timings = { ...DEFAULT_TIMINGS, ...deps.timings };
    this.#clients = new LiveClients({
      name: 'realtime',
      logger: deps.logger,
      heartbeatMs: this.#timings.heartbeatMs,
      closeGraceMs: this.#timings.closeGraceMs,
    });
    this.#limits = {
      maxSessionMs: config.realtime.maxSessionMs,
      idleTimeoutMs: config.realtime.idleTimeoutMs,
      maxPendingAudioMs: config.wsMaxPendingAudioMs,
      readyTimeoutMs: config.wsReadyTimeoutMs,
      maxSendBufferBytes: this.#timings.maxSendBufferBytes,
    };
    this.#gate = new UpgradeGate({
      api: 'realtime',
      config,
      // The HTTP API's key forms only: `?token=` would land in proxies' access logs.
      isQueryTokenAllowed: false,
      maxPayloadBytes: config.realtime.maxEventBytes,
      refusals: {
        shuttingDown: SHUTTING_DOWN,
        unauthorized: UNAUTHORIZED,
        forbiddenOrigin: FORBIDDEN_ORIGIN,
      },
      metrics: deps.metrics,
      logger: deps.logger,
    });
  }

  matches(req: http.IncomingMessage): boolean {
    return targetOf(req)?.pathname === REALTIME_PATH;
  }

  start(): void {
    this.#clients.startHeartbeat();
  }

  handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    try {
      this.#handle(req, socket, head);
    } catch (error) {
      this.#deps.logger.error('realtime upgrade failed', {
        error: error instanceof Error ? error.stack : String(error),
      });
      socket.destroy();
    }
  }

  #handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const admitted = this.#gate.check(req, socket, this.#isClosing);
    if (admitted === undefined) return;
    const { client, requestId, logger, key } = admitted;
    const { metrics } = this.#deps;
    const url = targetOf(req);
    const problem = url === undefined ? 'The request target does not parse.' : intentProblem(url);
    const dialect = dialectOf(req);
    void rateRefusal(this.#deps.rateLimiter, client, key, logger).then((refusal) => {
      if (socket.destroyed) return;
      this.#gate.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const reason =
          refusal ??
          (problem === undefined ? this.#gate.takeConnectionSlot(client, ws) : undefined);
        if (reason !== undefined) {
          metrics.rejected('realtime', refusal === undefined ? 'concurrency' : 'rate_limit');
          this.#refuse(ws, logger, 'rate_limit_exceeded', reason, CLOSE_CODES.tryAgainLater);
          return;
        }
        if (problem !== undefined) {
          this.#refuse(ws, logger, 'invalid_intent', problem, CLOSE_CODES.policyViolation);
          return;
        }
        this.#accept(ws, dialect, requestId, client);
      });
    });
  }

  /** An `error` event, then the close. */
  #refuse(ws: WebSocket, logger: Logger, code: string, message: string, closeCode: number): void {
    logger.info('realtime connection refused', { reason: message });
    ws.on('error', () => undefined);
    const type =
      closeCode === CLOSE_CODES.tryAgainLater ? 'rate_limit_error' : 'invalid_request_error';
    ws.send(encodeServerEvent(errorEvent({ type, code, message, param: null, event_id: null })));
    ws.close(closeCode, code);
  }

  #accept(ws: WebSocket, dialect: Dialect, requestId: string, address: string): void {
    const sessionId = randomUUID();
    const logger = this.#deps.logger.child({ session_id: sessionId, request_id: requestId });
    const session = createRealtimeSession({
      sessionId,
      requestId,
      dialect,
      socket: socketFor(ws, logger),
      pool: this.#deps.pool,
      admission: this.#deps.admission,
      limits: this.#limits,
      metrics: this.#deps.metrics,
      logger: this.#deps.logger,
    });
    this.#clients.add(ws, session, logger);
    logger.debug('realtime connection', { client: address, dialect });
    session.start();
  }

  async close(): Promise<void> {
    if (this.#isClosing) return;
    this.#isClosing = true;
    await this.#clients.close(this.#deps.config.drainGraceMs);
    await this.#gate.close();
  }
}

/** Creates the endpoint. */
export function createRealtimeEndpoint(deps: RealtimeEndpointDeps): RealtimeEndpoint {
  return new Endpoint(deps);
}
