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
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocket, type RawData } from 'ws';

import type { GatewayConfig, TlsFiles } from '../config.js';
import {
  answerClientError,
  applyRequestLimits,
  createServer,
  useTlsFiles,
} from '../http/server_limits.js';
import type { WorkerPool } from '../grpc/pool.js';
import { createRateLimiter, type RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics, RejectionReason } from '../metrics.js';
import { LiveClients, toBuffer } from './live_clients.js';
import { rateRefusal, UpgradeGate, type UpgradeRefusal } from './upgrade_gate.js';
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
  | 'tls'
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
  /** Serves new connections with this certificate (the server was made with TLS). */
  useTlsFiles(tls: TlsFiles): void;
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
  readonly #gate: UpgradeGate;
  readonly #admission: CountingAdmission;
  readonly #rateLimiter: RateLimiter;
  readonly #clients: LiveClients;
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
    this.#rateLimiter =
      deps.rateLimiter ??
      createRateLimiter({
        perClientPerMinute: config.limits.ratePerClientPerMinute,
        perKeyPerMinute: config.limits.ratePerKeyPerMinute,
      });
    this.#gate = new UpgradeGate({
      api: 'whisperlive',
      config,
      isQueryTokenAllowed: true,
      maxPayloadBytes: this.#timings.maxPayloadBytes,
      refusals: {
        shuttingDown: SHUTTING_DOWN,
        unauthorized: UNAUTHORIZED,
        forbiddenOrigin: FORBIDDEN_ORIGIN,
      },
      metrics: deps.metrics,
      logger: deps.logger,
    });
    this.#http = createServer(config.limits, config.tls, (_req, res) => {
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

  #handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const admitted = this.#gate.check(req, socket, this.#isClosing);
    if (admitted === undefined) return;
    const { client, requestId, logger, key } = admitted;
    void this.#checkRates(client, key).then((refusal) => {
      if (socket.destroyed) return;
      this.#gate.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        if (refusal !== undefined) {
          this.#refuse(ws, logger, client, refusal, 'rate_limit');
          return;
        }
        const tooMany = this.#gate.takeConnectionSlot(client, ws);
        if (tooMany !== undefined) {
          this.#refuse(ws, logger, client, tooMany, 'concurrency');
          return;
        }
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

  useTlsFiles(tls: TlsFiles): void {
    useTlsFiles(this.#http, tls);
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
          tls: this.#deps.config.tls !== undefined,
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
    await this.#gate.close();
    this.#logger.info('whisperlive closed');
  }
}

/** Creates the server; nothing listens until `listen()`. */
export function createWhisperLiveServer(deps: WhisperLiveServerDeps): WhisperLiveServer {
  return new Server(deps);
}
