/**
 * The WhisperLive-compatible WebSocket server: its own HTTP server on `PORT_WHISPERLIVE`
 * (any path), optional API-key check at the upgrade, one {@link WsSession} per connection,
 * the session limit, a ping/pong heartbeat and a graceful close.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { WebSocket, WebSocketServer, type RawData } from 'ws';

import type { GatewayConfig } from '../config.js';
import type { WorkerPool } from '../grpc/pool.js';
import { bearerToken, createApiKeyCheck } from '../http/auth.js';
import type { Logger } from '../logger.js';
import {
  CLOSE_CODES,
  createWsSession,
  type Admission,
  type SessionAdmission,
  type SessionLimits,
  type SessionSocket,
  type WsSession,
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

const UNAUTHORIZED_RESPONSE =
  'HTTP/1.1 401 Unauthorized\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  'Content-Length: 13\r\n' +
  'Connection: close\r\n' +
  '\r\n' +
  'Unauthorized\n';

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** The session's view of a `ws` WebSocket. */
function socketFor(ws: WebSocket, logger: Logger): SessionSocket {
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

interface Client {
  readonly ws: WebSocket;
  readonly session: WsSession;
  isAlive: boolean;
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
  readonly #clients = new Set<Client>();
  #heartbeat: NodeJS.Timeout | undefined;
  #isClosing = false;

  constructor(deps: WhisperLiveServerDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.#timings = { ...DEFAULT_TIMINGS, ...deps.timings };
    this.#logger = deps.logger;
    this.#limits = {
      optionsTimeoutMs: this.#timings.optionsTimeoutMs,
      readyTimeoutMs: config.wsReadyTimeoutMs,
      maxConnectionMs: config.wsMaxConnectionMs,
      flushTimeoutMs: config.wsFlushTimeoutMs,
      maxPendingAudioMs: config.wsMaxPendingAudioMs,
      maxSendBufferBytes: this.#timings.maxSendBufferBytes,
    };
    this.#admission = createSessionAdmission({
      maxSessions: config.wsMaxSessions,
      maxConnectionMs: config.wsMaxConnectionMs,
    });
    this.#isKnownKey = createApiKeyCheck(config.apiKeys);
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.#timings.maxPayloadBytes,
      perMessageDeflate: false,
    });
    this.#wss.on('error', (error: Error) => {
      this.#logger.warn('ws server error', { error: error.message });
    });
    this.#http = http.createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' });
      res.end('Upgrade Required: this port speaks the WhisperLive WebSocket protocol.\n');
    });
    this.#http.on('clientError', (error: Error, socket: Duplex) => {
      this.#logger.debug('ws http client error', { error: error.message });
      socket.destroy();
    });
    this.#http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#handleUpgrade(req, socket, head);
    });
  }

  get activeSessions(): number {
    return this.#admission.size;
  }

  #isAuthorized(req: http.IncomingMessage): boolean {
    if (this.#deps.config.apiKeys.length === 0) return true;
    const header = bearerToken(req.headers.authorization);
    if (header !== undefined && this.#isKnownKey(header)) return true;
    const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
    return token !== null && this.#isKnownKey(token);
  }

  #handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error: Error) => {
      this.#logger.debug('ws socket error', { error: error.message });
    });
    if (this.#isClosing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    if (!this.#isAuthorized(req)) {
      this.#logger.info('ws upgrade refused: missing or wrong API key', {
        remote_address: req.socket.remoteAddress,
      });
      socket.end(UNAUTHORIZED_RESPONSE);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      this.#accept(ws, req);
    });
  }

  #accept(ws: WebSocket, req: http.IncomingMessage): void {
    const sessionId = randomUUID();
    const logger = this.#logger.child({ session_id: sessionId });
    const session = createWsSession({
      sessionId,
      socket: socketFor(ws, logger),
      pool: this.#deps.pool,
      admission: this.#admission,
      limits: this.#limits,
      logger: this.#logger,
    });
    const client: Client = { ws, session, isAlive: true };
    this.#clients.add(client);
    logger.debug('ws connection', { remote_address: req.socket.remoteAddress });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      session.handleMessage(toBuffer(data), isBinary);
    });
    ws.on('pong', () => {
      client.isAlive = true;
    });
    ws.on('error', (error: Error) => {
      // ws closes the connection itself (bad frame, payload over maxPayload, ...).
      logger.info('ws protocol error', { error: error.message });
    });
    ws.on('close', (code: number) => {
      this.#clients.delete(client);
      session.handleSocketClose(code);
    });
    session.start();
  }

  #beat(): void {
    for (const client of this.#clients) {
      // While reading is paused for backpressure, pongs cannot be read either.
      if (client.session.isReadPaused) continue;
      if (!client.isAlive) {
        this.#logger.info('ws client missed a heartbeat; terminating', {
          session_id: client.session.id,
        });
        client.ws.terminate();
        continue;
      }
      client.isAlive = false;
      client.ws.ping();
    }
  }

  listen(): Promise<AddressInfo> {
    const { host, wsPort } = this.#deps.config;
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(wsPort, host, () => {
        this.#http.off('error', reject);
        this.#heartbeat = setInterval(() => {
          this.#beat();
        }, this.#timings.heartbeatMs);
        this.#heartbeat.unref();
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
    clearInterval(this.#heartbeat);
    const closed = this.#http.listening
      ? new Promise<void>((resolve) => {
          this.#http.close(() => {
            resolve();
          });
        })
      : Promise.resolve();
    for (const client of this.#clients) client.session.shutdown();
    const deadline = Date.now() + this.#timings.closeGraceMs;
    while (this.#clients.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const client of this.#clients) {
      client.ws.terminate();
      client.session.handleSocketClose(CLOSE_CODES.goingAway);
    }
    this.#clients.clear();
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
