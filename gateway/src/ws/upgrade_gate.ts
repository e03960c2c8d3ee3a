/**
 * The checks every live-session upgrade passes before it becomes a WebSocket (WhisperLive's
 * port and OpenAI Realtime on the HTTP port): not while shutting down, a valid API key when
 * keys are configured, an allowed browser `Origin`. A refusal is a plain HTTP answer with the
 * request id; an admitted upgrade gets its request id echoed in the handshake response.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import { type WebSocket, WebSocketServer } from 'ws';

import { bearerToken, createApiKeyCheck } from '../http/auth.js';
import { acceptRequestId } from '../http/context.js';
import type { ClientLimits, GatewayConfig } from '../config.js';
import { clientAddress } from '../limits/client_address.js';
import { createConcurrencyLimit, type ConcurrencyLimit } from '../limits/concurrency.js';
import type { RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import type { Api, GatewayMetrics } from '../metrics.js';

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

/** Options of {@link UpgradeGate}. */
export interface UpgradeGateOptions {
  /** The API in metrics and the prefix of log messages. */
  readonly api: Extract<Api, 'whisperlive' | 'realtime'>;
  /** The keys, origins, proxy hops and connections per client both ports share. */
  readonly config: Pick<GatewayConfig, 'apiKeys'> & {
    readonly limits: Pick<
      ClientLimits,
      'wsAllowedOrigins' | 'trustProxyHops' | 'wsMaxConnectionsPerClient'
    >;
  };
  /** Whether a key may come as `?token=` (WhisperLive's servers accept it). */
  readonly isQueryTokenAllowed: boolean;
  /** Largest message the WebSocket takes, in bytes. */
  readonly maxPayloadBytes: number;
  /** The answers to refused upgrades. */
  readonly refusals: {
    readonly shuttingDown: UpgradeRefusal;
    readonly unauthorized: UpgradeRefusal;
    readonly forbiddenOrigin: UpgradeRefusal;
  };
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

/** An upgrade that passed the checks. */
export interface AdmittedUpgrade {
  /** The client's address (for per-client limits). */
  readonly client: string;
  readonly requestId: string;
  /** The server's logger with the request id. */
  readonly logger: Logger;
  /** The valid key presented, or `''` when no keys are configured. */
  readonly key: string;
}

/** The checks and the `ws` server of one kind of live session. */
export class UpgradeGate {
  /** Completes admitted upgrades (`handleUpgrade`). */
  readonly wss: WebSocketServer;
  readonly #options: UpgradeGateOptions;
  readonly #isKnownKey: (key: string) => boolean;
  /** Open connections per client address (`GATEWAY_WS_MAX_CONNECTIONS_PER_CLIENT`). */
  readonly #connections: ConcurrencyLimit;
  /** The request id of each upgrade in progress, for the `headers` event. */
  readonly #requestIds = new WeakMap<http.IncomingMessage, string>();

  constructor(options: UpgradeGateOptions) {
    this.#options = options;
    this.#isKnownKey = createApiKeyCheck(options.config.apiKeys);
    this.#connections = createConcurrencyLimit({
      perClient: options.config.limits.wsMaxConnectionsPerClient,
      total: 0,
    });
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayloadBytes,
      perMessageDeflate: false,
      handleProtocols: selectProtocol,
    });
    this.wss.on('error', (error: Error) => {
      options.logger.warn(`${options.api} ws server error`, { error: error.message });
    });
    // The session's request id goes back in the upgrade response, as HTTP echoes it.
    this.wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
      const requestId = this.#requestIds.get(req);
      if (requestId !== undefined) headers.push(`x-request-id: ${requestId}`);
    });
  }

  /** Checks an upgrade; a refused one is answered here and gives undefined. */
  check(
    req: http.IncomingMessage,
    socket: Duplex,
    isClosing: boolean,
  ): AdmittedUpgrade | undefined {
    const { api, metrics, refusals } = this.#options;
    socket.on('error', (error: Error) => {
      this.#options.logger.debug(`${api} socket error`, { error: error.message });
    });
    const client = clientAddress(req, this.#options.config.limits.trustProxyHops);
    const requestId = acceptRequestId(req.headers['x-request-id']);
    const logger = this.#options.logger.child({ request_id: requestId });
    if (isClosing) {
      metrics.rejected(api, 'shutting_down');
      socket.end(httpRefusal(refusals.shuttingDown, requestId));
      return undefined;
    }
    const key = presentedKey(
      req,
      this.#options.config.apiKeys,
      this.#isKnownKey,
      this.#options.isQueryTokenAllowed,
    );
    if (key === null) {
      logger.info(`${api} upgrade refused: missing or wrong API key`, { client });
      metrics.rejected(api, 'auth');
      socket.end(httpRefusal(refusals.unauthorized, requestId));
      return undefined;
    }
    if (!isAllowedOrigin(this.#options.config.limits.wsAllowedOrigins, req)) {
      logger.info(`${api} upgrade refused: origin not allowed`, {
        client,
        origin: req.headers.origin,
      });
      metrics.rejected(api, 'origin');
      socket.end(httpRefusal(refusals.forbiddenOrigin, requestId));
      return undefined;
    }
    this.#requestIds.set(req, requestId);
    return { client, requestId, logger, key };
  }

  /**
   * Takes one of `client`'s connection slots for `ws` (given back when it closes), or says
   * why not, in words for the client.
   */
  takeConnectionSlot(client: string, ws: WebSocket): string | undefined {
    const slot = this.#connections.acquire(client);
    if (typeof slot === 'string') {
      return (
        'too many connections from this client address (at most ' +
        `${this.#options.config.limits.wsMaxConnectionsPerClient} at once)`
      );
    }
    ws.once('close', () => {
      slot.release();
    });
    return undefined;
  }

  /** Closes the WebSocket server (the sessions are closed by their owner first). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wss.close(() => {
        resolve();
      });
    });
  }
}
