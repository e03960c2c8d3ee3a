import type { IncomingMessage } from 'node:http';

import { describe, expect, it } from 'vitest';

import { clientAddress } from '../../../gateway/src/limits/client_address.js';
import { createConcurrencyLimit } from '../../../gateway/src/limits/concurrency.js';
import { createRateLimiter } from '../../../gateway/src/limits/rate_limit.js';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it("uses the socket's peer and folds IPv4-mapped IPv6 into IPv4", () => {
    expect(clientAddress(request('::ffff:10.1.2.3'), 0)).toBe('10.1.2.3');
    expect(clientAddress(request('2001:DB8::1'), 0)).toBe('2001:db8::1');
  });

  it('ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(clientAddress(request('10.0.0.5', '203.0.113.9'), 0)).toBe('10.0.0.5');
  });

  it('takes the entry the trusted proxies added, not what the client wrote', () => {
    // The client wrote 1.1.1.1 itself; the one trusted proxy appended the real peer.
    expect(clientAddress(request('10.0.0.5', '1.1.1.1, 203.0.113.9'), 1)).toBe('203.0.113.9');
    expect(clientAddress(request('10.0.0.5', '1.1.1.1, 203.0.113.9, 10.0.0.4'), 2)).toBe(
      '203.0.113.9',
    );
  });

  it('falls back to the peer when the header is short or not an address', () => {
    expect(clientAddress(request('10.0.0.5', 'garbage'), 1)).toBe('10.0.0.5');
    expect(clientAddress(request('10.0.0.5', '203.0.113.9'), 2)).toBe('10.0.0.5');
  });
});

describe('createConcurrencyLimit', () => {
  it('refuses past the per-client and total limits and frees a slot once', () => {
    const limit = createConcurrencyLimit({ perClient: 2, total: 3 });
    const a1 = limit.acquire('a');
    const a2 = limit.acquire('a');
    expect(limit.acquire('a')).toBe('client');
    const b1 = limit.acquire('b');
    expect(limit.acquire('c')).toBe('total');
    if (typeof a1 === 'string' || typeof a2 === 'string' || typeof b1 === 'string') {
      throw new Error('expected slots');
    }
    a1.release();
    a1.release();
    expect(limit.size).toBe(2);
    expect(limit.heldBy('a')).toBe(1);
    expect(typeof limit.acquire('c')).toBe('object');
  });

  it('has no limit on an axis set to 0', () => {
    const limit = createConcurrencyLimit({ perClient: 0, total: 0 });
    for (let i = 0; i < 100; i += 1) expect(typeof limit.acquire('a')).toBe('object');
    expect(limit.size).toBe(100);
  });
});

describe('createRateLimiter', () => {
  it('allows the configured requests per minute, then refuses with a wait', async () => {
    const limiter = createRateLimiter({ perClientPerMinute: 3, perKeyPerMinute: 0 });
    for (let i = 0; i < 3; i += 1) {
      expect(await limiter.consume('client', '10.0.0.1')).toEqual({ isAllowed: true });
    }
    const refused = await limiter.consume('client', '10.0.0.1');
    expect(refused).toMatchObject({ isAllowed: false, limit: 'client' });
    if (refused.isAllowed) throw new Error('expected a refusal');
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Another client is unaffected; keys have no limit here.
    expect(await limiter.consume('client', '10.0.0.2')).toEqual({ isAllowed: true });
    expect(await limiter.consume('key', 'k')).toEqual({ isAllowed: true });
  });
});
