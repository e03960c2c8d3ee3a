/**
 * Who a client is, for per-client limits: the socket's peer address, or, behind trusted
 * reverse proxies, the address the outermost trusted proxy saw (`X-Forwarded-For`).
 */
import { isIP } from 'node:net';

import type { IncomingMessage } from 'node:http';

/** Stands in for a peer whose address the socket no longer knows (it already closed). */
export const UNKNOWN_CLIENT = 'unknown';

function normalize(address: string): string {
  // One client, one key: IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return (mapped?.[1] ?? address).toLowerCase();
}

/**
 * The client address of a request.
 *
 * @param req - the request (HTTP or WebSocket upgrade).
 * @param trustedHops - how many proxies in front of us append to `X-Forwarded-For`; 0 trusts
 *   none of it. With N hops the N-th entry from the right is the client (entries further
 *   left are whatever the client wrote and cannot be trusted).
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = normalize(req.socket.remoteAddress ?? UNKNOWN_CLIENT);
  if (trustedHops === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const list = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const candidate = list[list.length - trustedHops];
  return candidate !== undefined && isIP(candidate) !== 0 ? normalize(candidate) : peer;
}
