/**
 * `GET /v1/jobs/{id}/events` opened as a WebSocket on the HTTP port: the same events as the
 * SSE stream, one JSON text message each (`{"id", "event", "data"}`), then close 1000 after
 * `done`. The upgrade is authenticated as the WhisperLive port does it (`Authorization:
 * Bearer`, a `bearer.<key>` subprotocol for browsers, or `?token=`), and counted against the
 * same rate limits. `?last_event_id=N` (or a `Last-Event-ID` header) resumes.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type WebSocket } from 'ws';

import { bearerToken, createApiKeyCheck } from '../http/auth.js';
import { acceptRequestId } from '../http/context.js';
import { clientAddress } from '../limits/client_address.js';
import type { RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import { KEY_PROTOCOL_PREFIXES } from '../ws/upgrade_gate.js';
import { followJobEvents, type JobEventHub } from './events.js';
import { MAX_EVENT_FOLLOWERS, parseLastEventId } from './routes.js';
import type { JobStore } from './store.js';

/** The path of a job's events; the id group is checked by the store lookup. */
const EVENTS_PATH = /^\/v1\/jobs\/(job_[0-9a-f]{24})\/events$/;

/** How often an open socket is pinged (keeps proxies from closing idle sockets), in ms. */
const PING_INTERVAL_MS = 30_000;

/** Collaborators of {@link createJobEventsUpgrade}. */
export interface JobEventsUpgradeDeps {
  readonly store: JobStore;
  readonly hub: JobEventHub;
  readonly apiKeys: readonly string[];
  readonly rateLimiter: RateLimiter;
  readonly trustProxyHops: number;
  readonly logger: Logger;
}

/** Handles upgrades on the HTTP server. */
export interface JobEventsUpgrade {
  /** The HTTP server's `upgrade` listener. */
  handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every open socket (shutdown). */
  close(): void;
}

function refuse(socket: Duplex, status: string, body: string, requestId: string): void {
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

function offeredKeys(req: http.IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  const keys: string[] = [];
  for (const item of (typeof header === 'string' ? header : '').split(',')) {
    const protocol = item.trim();
    const prefix = KEY_PROTOCOL_PREFIXES.find((p) => protocol.startsWith(p));
    if (prefix !== undefined) keys.push(protocol.slice(prefix.length));
  }
  return keys;
}

/** Creates the upgrade handler. */
export function createJobEventsUpgrade(deps: JobEventsUpgradeDeps): JobEventsUpgrade {
  const isKnownKey = createApiKeyCheck(deps.apiKeys);
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: 4096,
    perMessageDeflate: false,
    // A browser that sent its key as a subprotocol needs one echoed; never echo the key.
    handleProtocols: (offered) => (offered.has('jobs') ? 'jobs' : false),
  });
  wss.on('error', (error: Error) => {
    deps.logger.warn('job events ws server error', { error: error.message });
  });

  const serve = (ws: WebSocket, jobId: string, afterId: number): void => {
    sockets.add(ws);
    const ping = setInterval(() => {
      ws.ping();
    }, PING_INTERVAL_MS);
    const stop = followJobEvents(
      deps.store,
      deps.hub,
      jobId,
      afterId,
      (event) => {
        ws.send(JSON.stringify({ id: event.id, event: event.type, data: event.data }));
      },
      () => {
        ws.close(1000, 'done');
      },
    );
    ws.on('error', () => {
      // The client went away; 'close' follows.
    });
    // Messages from the client mean nothing here; they are read and dropped.
    ws.on('message', () => undefined);
    ws.once('close', () => {
      clearInterval(ping);
      sockets.delete(ws);
      stop();
    });
  };

  return {
    handle(req, socket, head) {
      socket.on('error', () => {
        // A client reset during the handshake; nothing to clean up.
      });
      const requestId = acceptRequestId(req.headers['x-request-id']);
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://gateway.invalid');
      } catch {
        refuse(socket, '400 Bad Request', 'Bad request target.\n', requestId);
        return;
      }
      const match = EVENTS_PATH.exec(url.pathname);
      if (match?.[1] === undefined) {
        refuse(
          socket,
          '404 Not Found',
          'WebSocket is only served at /v1/jobs/{id}/events.\n',
          requestId,
        );
        return;
      }
      const jobId = match[1];
      if (deps.apiKeys.length > 0) {
        const candidates = [
          bearerToken(req.headers.authorization),
          ...offeredKeys(req),
          url.searchParams.get('token') ?? undefined,
        ];
        if (!candidates.some((key) => key !== undefined && isKnownKey(key))) {
          refuse(socket, '401 Unauthorized', 'Unauthorized\n', requestId);
          return;
        }
      }
      let afterId: number;
      try {
        afterId = parseLastEventId(
          req.headers['last-event-id'],
          url.searchParams.get('last_event_id') ?? undefined,
        );
      } catch {
        refuse(
          socket,
          '400 Bad Request',
          'last_event_id must be a non-negative integer.\n',
          requestId,
        );
        return;
      }
      if (deps.store.get(jobId) === undefined) {
        refuse(socket, '404 Not Found', `No job with id '${jobId}'.\n`, requestId);
        return;
      }
      if (deps.hub.size >= MAX_EVENT_FOLLOWERS) {
        refuse(socket, '503 Service Unavailable', 'Too many event streams are open.\n', requestId);
        return;
      }
      const client = clientAddress(req, deps.trustProxyHops);
      deps.rateLimiter.consume('client', client).then(
        (verdict) => {
          if (socket.destroyed) return;
          if (!verdict.isAllowed) {
            refuse(socket, '429 Too Many Requests', 'Rate limit reached.\n', requestId);
            return;
          }
          wss.handleUpgrade(req, socket, head, (ws) => {
            serve(ws, jobId, afterId);
          });
        },
        (error: unknown) => {
          deps.logger.warn('rate limiter failed', {
            error: error instanceof Error ? error.message : String(error),
          });
          socket.destroy();
        },
      );
    },
    close() {
      for (const ws of sockets) ws.close(1001, 'server shutting down');
      wss.close();
    },
  };
}
