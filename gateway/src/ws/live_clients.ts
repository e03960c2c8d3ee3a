/**
 * The open connections of a live-session server (WhisperLive's port, OpenAI Realtime on the
 * HTTP port): each `ws` socket wired to its session, a ping/pong heartbeat that drops clients
 * gone silent, and the graceful close (drain, then tell the sessions, then cut).
 */
import type { RawData, WebSocket } from 'ws';

import type { Logger } from '../logger.js';
import { CLOSE_CODES } from './close_codes.js';

/** What the registry needs of a session. */
export interface LiveSession {
  readonly id: string;
  readonly requestId: string;
  /** While reading is paused for backpressure, pongs cannot be read either. */
  readonly isReadPaused: boolean;
  handleMessage(data: Buffer, isBinary: boolean): void;
  handleSocketClose(code: number): void;
  /** The server is shutting down: tell the client and close. */
  shutdown(): void;
}

/** Options of {@link LiveClients}. */
export interface LiveClientsOptions {
  /** The server's name in log messages (`whisperlive`, `realtime`). */
  readonly name: string;
  readonly logger: Logger;
  /** Ping interval; a client that has not answered the previous ping is dropped, in ms. */
  readonly heartbeatMs: number;
  /** How long `close()` lets sessions say goodbye before cutting them, in ms. */
  readonly closeGraceMs: number;
}

interface Client {
  readonly ws: WebSocket;
  readonly session: LiveSession;
  isAlive: boolean;
}

/** A `ws` message as one Buffer. */
export function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** The connections of one server. */
export class LiveClients {
  readonly #options: LiveClientsOptions;
  readonly #clients = new Set<Client>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(options: LiveClientsOptions) {
    this.#options = options;
  }

  /** Connections open now. */
  get size(): number {
    return this.#clients.size;
  }

  /** Wires `ws` to `session` until the socket closes. */
  add(ws: WebSocket, session: LiveSession, logger: Logger): void {
    const client: Client = { ws, session, isAlive: true };
    this.#clients.add(client);
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
  }

  /** Starts the heartbeat. */
  startHeartbeat(): void {
    this.#heartbeat = setInterval(() => {
      this.#beat();
    }, this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  #beat(): void {
    for (const client of this.#clients) {
      if (client.session.isReadPaused) continue;
      if (!client.isAlive) {
        this.#options.logger.info('ws client missed a heartbeat; terminating', {
          session_id: client.session.id,
          request_id: client.session.requestId,
        });
        client.ws.terminate();
        continue;
      }
      client.isAlive = false;
      client.ws.ping();
    }
  }

  /**
   * Lets running sessions go on for up to `drainGraceMs` (nothing new is accepted by then),
   * then shuts the rest down, waits `closeGraceMs` for their goodbyes and cuts what is left.
   */
  async close(drainGraceMs: number): Promise<void> {
    clearInterval(this.#heartbeat);
    if (this.#clients.size > 0 && drainGraceMs > 0) {
      this.#options.logger.info(`${this.#options.name} draining`, {
        sessions: this.#clients.size,
        grace_ms: drainGraceMs,
      });
      const drainDeadline = Date.now() + drainGraceMs;
      while (this.#clients.size > 0 && Date.now() < drainDeadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    for (const client of this.#clients) client.session.shutdown();
    const deadline = Date.now() + this.#options.closeGraceMs;
    while (this.#clients.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const client of this.#clients) {
      client.ws.terminate();
      client.session.handleSocketClose(CLOSE_CODES.goingAway);
    }
    this.#clients.clear();
  }
}
