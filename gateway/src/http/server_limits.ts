/**
 * The raw HTTP servers of both ports, plain or TLS, and their limits, applied before any
 * route sees a request: head size, time to send the head and the whole request, and the
 * answer to requests Node cannot parse.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

import type { ClientLimits, TlsFiles } from '../config.js';

/** How often Node checks the header and request timeouts, in ms (its default is 30 s). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Options of `http.createServer` for a server bound by `limits`. */
export function serverOptions(limits: Pick<ClientLimits, 'maxHeaderBytes'>): http.ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
}

/**
 * Bounds how long a client may take to send a request: its head within
 * `headersTimeoutMs`, all of it (upload included) within `uploadTimeoutMs`; Node answers 408
 * and closes the socket when either passes. The response has no deadline here: the file call
 * has its own (`GATEWAY_REQUEST_TIMEOUT_S`).
 */
export function applyRequestLimits(
  server: Pick<http.Server, 'headersTimeout' | 'requestTimeout'>,
  limits: Pick<ClientLimits, 'headersTimeoutMs' | 'uploadTimeoutMs'>,
): void {
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.uploadTimeoutMs);
  server.requestTimeout = limits.uploadTimeoutMs;
}

const CLIENT_ERROR_RESPONSES: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Answers a request Node could not parse (or that timed out) with a plain status line and
 * closes the socket; `Connection: close` because the stream is no longer in step.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error.code === 'ECONNRESET' && socket.destroyed)) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_RESPONSES[error.code ?? ''] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * An HTTP server with {@link serverOptions}: HTTPS when `tls` is given (WebSocket upgrades on
 * it are then `wss:`), plain otherwise. Node's HTTP options hold for both.
 */
export function createServer(
  limits: Pick<ClientLimits, 'maxHeaderBytes'>,
  tls: TlsFiles | undefined,
  listener?: http.RequestListener,
): http.Server {
  const options = serverOptions(limits);
  if (tls === undefined) return http.createServer(options, listener);
  return https.createServer({ ...options, cert: tls.cert, key: tls.key }, listener);
}

/**
 * Serves new TLS connections of `server` (made by {@link createServer} with TLS) with these
 * files; connections already open keep the certificate they were made with.
 */
export function useTlsFiles(server: http.Server, tls: TlsFiles): void {
  (server as unknown as https.Server).setSecureContext({ cert: tls.cert, key: tls.key });
}
