/**
 * The WhisperLive-compatible WebSocket server: its own HTTP server on `PORT_WHISPERLIVE`
 * (any path), the checks at the upgrade (API key, browser `Origin`), the per-client limits
 * (connections open, connections per minute), one {@link WsSession} per connection, the
 * session limit, a ping/pong heartbeat and a graceful close.
 *
 * Everything read from the upgrade request is untrusted: the path may not parse as a URL,
 * headers may repeat. Nothing here may throw outside a handler, since an exception in an
 * `upgrade` listener would end the process for every client.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocket, WebSocketServer, type RawData } from 'ws';

import type { GatewayConfig } from '../config.js';
import { answerClientError, applyRequestLimits, serverOptions } from '../http/server_limits.js';
import type { WorkerPool } from '../grpc/pool.js';
import { bearerToken, createApiKeyCheck } from '../http/auth.js';
import { acceptRequestId } from '../http/context.js';
import { clientAddress } from '../limits/client_address.js';
import { createConcurrencyLimit, type ConcurrencyLimit } from '../limits/concurrency.js';
import { createRateLimiter, type RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics, RejectionReason } from '../metrics.js';
import { LiveClients, toBuffer } from './live_clients.js';
import { encodeError } from './protocol.js';
import {
  CLOSE_CODES,
  createWsSession,
  type Admission,
  type SessionAdmission,
  type SessionLimits,
  type SessionSocket,
} from './session.js';

/** The configuration the WebSocket server reads. */
export type WhisperLiveConfig = Pick<
  GatewayConfig,
  | 'host'
  | 'wsPort'
  | 'apiKeys'
  | 'wsMaxSessions'
  | 'wsMaxConnectionMs'
  | 'wsMaxPendingAudioMs'
  | 'wsReadyTimeoutMs'
  | 'wsFlushTimeoutMs'
  | 'drainGraceMs'
  | 'limits'
>;

/** Fixed protocol timings, overridable for tests. */
export interface WhisperLiveTimings {
  /** Ping interval; a client that has not answered the previous ping is dropped, in ms. */
  readonly heartbeatMs: number;
  /** How long a new connection may take to send its options, in ms. */
  readonly optionsTimeoutMs: number;
  /** How long `close()` lets sessions say goodbye before cutting them, in ms. */
  readonly closeGraceMs: number;
  /** Largest accepted frame, in bytes. */
  readonly maxPayloadBytes: number;
  /** Bytes that may wait to be written to a client that does not read, in bytes. */
  readonly maxSendBufferBytes: number;
}

/** Defaults of {@link WhisperLiveTimings}. */
export const DEFAULT_TIMINGS: WhisperLiveTimings = Object.freeze({
  heartbeatMs: 30_000,
  optionsTimeoutMs: 10_000,
  closeGraceMs: 2_000,
  maxPayloadBytes: 1024 * 1024,
  maxSendBufferBytes: 4 * 1024 * 1024,
});

/** Collaborators of {@link createWhisperLiveServer}. */
export interface WhisperLiveServerDeps {
  /** Configuration. */
  readonly config: WhisperLiveConfig;
  /** Root logger. */
  readonly logger: Logger;
  /** Workers. */
  readonly pool: WorkerPool;
  /** Timing overrides (tests). */
  readonly timings?: Partial<WhisperLiveTimings>;
  /** Request-rate counters shared with the HTTP API; a private one by default. */
  readonly rateLimiter?: RateLimiter;
  /** Session and rejection metrics. */
  readonly metrics: GatewayMetrics;
  /**
   * The live-session limit (`GATEWAY_WS_MAX_SESSIONS`), shared with the OpenAI Realtime
   * sessions of the HTTP port; a private one by default.
   */
  readonly admission?: CountingAdmission;
}

/** The running WebSocket server. */
export interface WhisperLiveServer {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, sends live sessions `DISCONNECT`, closes them and the server. */
  close(): Promise<void>;
  /** Sessions holding a slot now. */
  readonly activeSessions: number;
}

/** Options of {@link createSessionAdmission}. */
export interface SessionAdmissionOptions {
  /** Most sessions at once. */
  readonly maxSessions: number;
  /** Longest session, in ms (to estimate when a slot frees up). */
  readonly maxConnectionMs: number;
  /** Clock in ms. */
  readonly now?: () => number;
}

/** A {@link SessionAdmission} that also reports how many slots are taken. */
export interface CountingAdmission extends SessionAdmission {
  /** Slots taken. */
  readonly size: number;
}

/**
 * The session limit. A refused session is told the minutes until the oldest session reaches
 * its time limit, as WhisperLive does.
 */
export function createSessionAdmission(options: SessionAdmissionOptions): CountingAdmission {
  const now = options.now ?? Date.now;
  const admittedAt = new Map<string, number>();
  return {
    get size(): number {
      return admittedAt.size;
    },
    admit(sessionId: string): Admission {
      if (admittedAt.size < options.maxSessions) {
        admittedAt.set(sessionId, now());
        return { isAdmitted: true };
      }
      const oldest = Math.min(...admittedAt.values());
      const waitMs = oldest + options.maxConnectionMs - now();
      return { isAdmitted: false, waitMinutes: Math.round(waitMs / 60) / 1000 };
    },
    release(sessionId: string): void {
      admittedAt.delete(sessionId);
    },
  };
}

/** A plain HTTP answer to an upgrade we refuse before any WebSocket exists. */
export interface UpgradeRefusal {
  readonly status: string;
  readonly body: string;
  /** Default `text/plain; charset=utf-8`. */
  readonly contentType?: string;
}

/** The raw HTTP answer to a refused upgrade; `requestId` is already a safe token. */
export function httpRefusal(
  { status, body, contentType = 'text/plain; charset=utf-8' }: UpgradeRefusal,
  requestId: string,
): string {
  return (
    `HTTP/1.1 ${status}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n` +
    'Connection: close\r\n' +
    '\r\n' +
    body
  );
}

/** WhisperLive's own answer to a missing or wrong key (spec §1). */
const UNAUTHORIZED: UpgradeRefusal = { status: '401 Unauthorized', body: 'Unauthorized\n' };
const FORBIDDEN_ORIGIN: UpgradeRefusal = {
  status: '403 Forbidden',
  body: 'Forbidden: this Origin may not open WhisperLive sessions.\n',
};
const SHUTTING_DOWN: UpgradeRefusal = {
  status: '503 Service Unavailable',
  body: 'Shutting down.\n',
};

/**
 * Subprotocol prefixes that carry an API key, for browsers (which cannot set headers on a
 * WebSocket): `new WebSocket(url, ['whisperlive', 'bearer.' + key])`. OpenAI's browser form
 * is accepted too.
 */
export const KEY_PROTOCOL_PREFIXES = ['bearer.', 'openai-insecure-api-key.'] as const;

/** The subprotocol a browser client offers beside its key; echoed when offered. */
export const WHISPERLIVE_PROTOCOL = 'whisperlive';

/** The key carried by one offered subprotocol, or undefined. */
export function keyOfProtocol(protocol: string): string | undefined {
  const prefix = KEY_PROTOCOL_PREFIXES.find((p) => protocol.startsWith(p));
  return prefix === undefined ? undefined : protocol.slice(prefix.length);
}

/** The subprotocols a client offered (`Sec-WebSocket-Protocol`), in order. */
export function offeredProtocols(req: http.IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return (typeof header === 'string' ? header : '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/**
 * The subprotocol to answer with: browsers fail the handshake unless the server picks one
 * of those offered. A protocol without a key is preferred, so the key is not echoed.
 */
export function selectProtocol(offered: ReadonlySet<string>): string | false {
  const protocols = [...offered];
  return (
    protocols.find((p) => keyOfProtocol(p) === undefined) ??
    protocols.find((p) => keyOfProtocol(p) !== undefined) ??
    false
  );
}

/** `?token=` of a request target, or null; a target that is no valid URL has none. */
function queryToken(target: string | undefined): string | null {
  try {
    return new URL(target ?? '/', 'http://localhost').searchParams.get('token');
  } catch {
    return null;
  }
}

/**
 * The valid API key an upgrade presents (`Authorization: Bearer`, a key subprotocol, or
 * `?token=` when `isQueryTokenAllowed`), `null` when keys are configured and none is valid,
 * or `''` when no keys are configured.
 */
export function presentedKey(
  req: http.IncomingMessage,
  apiKeys: readonly string[],
  isKnownKey: (key: string) => boolean,
  isQueryTokenAllowed: boolean,
): string | null {
  if (apiKeys.length === 0) return '';
  const candidates = [
    bearerToken(req.headers.authorization),
    ...offeredProtocols(req).map(keyOfProtocol),
    isQueryTokenAllowed ? (queryToken(req.url) ?? undefined) : undefined,
  ];
  return candidates.find((key) => key !== undefined && isKnownKey(key)) ?? null;
}

/** Whether a browser's `Origin` may open a session (`allowed` empty: every origin). */
export function isAllowedOrigin(allowed: readonly string[], req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  // Non-browser clients send no Origin; browsers always do and cannot forge it.
  if (allowed.length === 0 || origin === undefined) return true;
  return allowed.includes(origin.toLowerCase());
}

/**
 * Why the rate limits (per client address, then per key) refuse a new connection, or
 * undefined when they allow it. A failing limiter lets the connection through.
 */
export async function rateRefusal(
  rateLimiter: RateLimiter,
  client: string,
  key: string,
  logger: Logger,
): Promise<string | undefined> {
  try {
    const verdict = await rateLimiter.consume('client', client);
    const keyVerdict =
      verdict.isAllowed && key !== '' ? await rateLimiter.consume('key', key) : verdict;
    if (keyVerdict.isAllowed) return undefined;
    const who = keyVerdict.limit === 'client' ? 'this client address' : 'this API key';
    return `rate limit reached for ${who}; retry in ${Math.ceil(keyVerdict.retryAfterMs / 1000)} s`;
  } catch (error) {
    logger.warn('rate limiter failed; letting the connection through', {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

/** How long a refused client may take to send its options (for its uid), in ms. */
const REFUSAL_UID_WAIT_MS = 2_000;

/** The `uid` of an options message, for refusals only: `''` when it cannot be read. */
function uidOf(frame: Buffer): string {
  if (frame.length > 65_536) return '';
  try {
    const parsed: unknown = JSON.parse(frame.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'uid' in parsed) {
      const { uid } = parsed;
      return typeof uid === 'string' && uid.length <= 256 ? uid : '';
    }
  } catch {
    // Not JSON: the refusal goes out without a uid.
  }
  return '';
}

/** The session's view of a `ws` WebSocket. */
export function socketFor(ws: WebSocket, logger: Logger): SessionSocket {
  return {
    send(text: string): void {
      if (ws.readyState !== WebSocket.OPEN) return;
      // ws calls back with null on success, although its types say undefined.
      ws.send(text, (error?: Error | null) => {
        if (error instanceof Error) logger.debug('ws send failed', { error: error.message });
      });
    },
    close(code: number, reason: string): void {
      ws.close(code, reason);
    },
    pause(): void {
      ws.pause();
    },
    resume(): void {
      ws.resume();
    },
    get bufferedAmount(): number {
      return ws.bufferedAmount;
    },
  };
}

class Server implements WhisperLiveServer {
  readonly #deps: WhisperLiveServerDeps;
  readonly #timings: WhisperLiveTimings;
  readonly #limits: SessionLimits;
  readonly #logger: Logger;
  readonly #http: http.Server;
  readonly #wss: WebSocketServer;
  readonly #admission: CountingAdmission;
  readonly #isKnownKey: (key: string) => boolean;
  readonly #rateLimiter: RateLimiter;
  readonly #connections: ConcurrencyLimit;
  readonly #clients: LiveClients;
  /** The request id of each upgrade in progress, for the `headers` event. */
  readonly #requestIds = new WeakMap<http.IncomingMessage, string>();
  #isClosing = false;

  constructor(deps: WhisperLiveServerDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.#timings = {
      ...DEFAULT_TIMINGS,
      optionsTimeoutMs: config.limits.wsOptionsTimeoutMs,
      maxPayloadBytes: config.limits.wsMaxFrameBytes,
      ...deps.timings,
    };
    this.#logger = deps.logger;
    this.#clients = new LiveClients({
      name: 'whisperlive',
      logger: deps.logger,
      heartbeatMs: this.#timings.heartbeatMs,
      closeGraceMs: this.#timings.closeGraceMs,
    });
    this.#limits = {
      optionsTimeoutMs: this.#timings.optionsTimeoutMs,
      readyTimeoutMs: config.wsReadyTimeoutMs,
      maxConnectionMs: config.wsMaxConnectionMs,
      flushTimeoutMs: config.wsFlushTimeoutMs,
      maxPendingAudioMs: config.wsMaxPendingAudioMs,
      maxSendBufferBytes: this.#timings.maxSendBufferBytes,
    };
    this.#admission =
      deps.admission ??
      createSessionAdmission({
        maxSessions: config.wsMaxSessions,
        maxConnectionMs: config.wsMaxConnectionMs,
      });
    this.#isKnownKey = createApiKeyCheck(config.apiKeys);
    this.#rateLimiter =
      deps.rateLimiter ??
      createRateLimiter({
        perClientPerMinute: config.limits.ratePerClientPerMinute,
        perKeyPerMinute: config.limits.ratePerKeyPerMinute,
      });
    this.#connections = createConcurrencyLimit({
      perClient: config.limits.wsMaxConnectionsPerClient,
      total: 0,
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#timings.maxPayloadBytes,
      perMessageDeflate: false,
      handleProtocols: selectProtocol,
    });
    this.#wss.on('error', (error: Error) => {
      this.#logger.warn('ws server error', { error: error.message });
    });
    // The session's request id goes back in the upgrade response, as HTTP echoes it.
    this.#wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
      const requestId = this.#requestIds.get(req);
      if (requestId !== undefined) headers.push(`x-request-id: ${requestId}`);
    });
    this.#http = http.createServer(serverOptions(config.limits), (_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' });
      res.end('Upgrade Required: this port speaks the WhisperLive WebSocket protocol.\n');
    });
    applyRequestLimits(this.#http, config.limits);
    this.#http.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      this.#logger.debug('ws http client error', { error: error.message, code: error.code });
      answerClientError(error, socket);
    });
    this.#http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#handleUpgrade(req, socket, head);
      } catch (error) {
        // Last line of defence: a bug here must cost this one connection, not the process.
        this.#logger.error('ws upgrade failed', {
          error: error instanceof Error ? error.stack : String(error),
        });
        socket.destroy();
      }
    });
  }

  get activeSessions(): number {
    return this.#admission.size;
  }

  #presentedKey(req: http.IncomingMessage): string | null {
    return presentedKey(req, this.#deps.config.apiKeys, this.#isKnownKey, true);
  }

  #handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error: Error) => {
      this.#logger.debug('ws socket error', { error: error.message });
    });
    const client = clientAddress(req, this.#deps.config.limits.trustProxyHops);
    const requestId = acceptRequestId(req.headers['x-request-id']);
    const logger = this.#logger.child({ request_id: requestId });
    const { metrics } = this.#deps;
    if (this.#isClosing) {
      metrics.rejected('whisperlive', 'shutting_down');
      socket.end(httpRefusal(SHUTTING_DOWN, requestId));
      return;
    }
    const key = this.#presentedKey(req);
    if (key === null) {
      logger.info('ws upgrade refused: missing or wrong API key', { client });
      metrics.rejected('whisperlive', 'auth');
      socket.end(httpRefusal(UNAUTHORIZED, requestId));
      return;
    }
    if (!isAllowedOrigin(this.#deps.config.limits.wsAllowedOrigins, req)) {
      logger.info('ws upgrade refused: origin not allowed', {
        client,
        origin: req.headers.origin,
      });
      metrics.rejected('whisperlive', 'origin');
      socket.end(httpRefusal(FORBIDDEN_ORIGIN, requestId));
      return;
    }
    this.#requestIds.set(req, requestId);
    void this.#checkRates(client, key).then((refusal) => {
      if (socket.destroyed) return;
      this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        if (refusal !== undefined) {
          this.#refuse(ws, logger, client, refusal, 'rate_limit');
          return;
        }
        const slot = this.#connections.acquire(client);
        if (typeof slot === 'string') {
          this.#refuse(
            ws,
            logger,
            client,
            `too many connections from this client address (at most ` +
              `${this.#deps.config.limits.wsMaxConnectionsPerClient} at once)`,
            'concurrency',
          );
          return;
        }
        ws.once('close', () => {
          slot.release();
        });
        this.#accept(ws, client, requestId);
      });
    });
  }

  #checkRates(client: string, key: string): Promise<string | undefined> {
    return rateRefusal(this.#rateLimiter, client, key, this.#logger);
  }

  /**
   * Refuses an upgraded connection the WhisperLive way: an `ERROR` status carrying the
   * client's uid (read from its options message when it comes soon enough), then close 1013
   * (try again later).
   */
  #refuse(
    ws: WebSocket,
    logger: Logger,
    client: string,
    reason: string,
    rejection: RejectionReason,
  ): void {
    logger.info('ws connection refused', { client, reason });
    this.#deps.metrics.rejected('whisperlive', rejection);
    ws.on('error', () => undefined);
    const finish = (uid: string): void => {
      clearTimeout(timer);
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(encodeError(uid, reason));
      ws.close(CLOSE_CODES.tryAgainLater, 'try again later');
    };
    const timer = setTimeout(() => {
      finish('');
    }, REFUSAL_UID_WAIT_MS);
    ws.once('message', (data: RawData, isBinary: boolean) => {
      finish(isBinary ? '' : uidOf(toBuffer(data)));
    });
    ws.once('close', () => {
      clearTimeout(timer);
    });
  }

  #accept(ws: WebSocket, address: string, requestId: string): void {
    const sessionId = randomUUID();
    const logger = this.#logger.child({ session_id: sessionId, request_id: requestId });
    const session = createWsSession({
      sessionId,
      requestId,
      metrics: this.#deps.metrics,
      socket: socketFor(ws, logger),
      pool: this.#deps.pool,
      admission: this.#admission,
      limits: this.#limits,
      logger: this.#logger,
    });
    this.#clients.add(ws, session, logger);
    logger.debug('ws connection', { client: address });
    session.start();
  }

  listen(): Promise<AddressInfo> {
    const { host, wsPort } = this.#deps.config;
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(wsPort, host, () => {
        this.#http.off('error', reject);
        this.#clients.startHeartbeat();
        const address = this.#http.address() as AddressInfo;
        this.#logger.info('whisperlive listening', {
          host: address.address,
          port: address.port,
          max_sessions: this.#deps.config.wsMaxSessions,
        });
        resolve(address);
      });
    });
  }

  async close(): Promise<void> {
    if (this.#isClosing) return;
    this.#isClosing = true;
    const closed = this.#http.listening
      ? new Promise<void>((resolve) => {
          this.#http.close(() => {
            resolve();
          });
        })
      : Promise.resolve();
    // Drain: nothing new is accepted (the listener is closed); running sessions go on until
    // their clients end them or the grace runs out, then hear DISCONNECT.
    await this.#clients.close(this.#deps.config.drainGraceMs);
    this.#http.closeAllConnections();
    await closed;
    await new Promise<void>((resolve) => {
      this.#wss.close(() => {
        resolve();
      });
    });
    this.#logger.info('whisperlive closed');
  }
}

/** Creates the server; nothing listens until `listen()`. */
export function createWhisperLiveServer(deps: WhisperLiveServerDeps): WhisperLiveServer {
  return new Server(deps);
}
