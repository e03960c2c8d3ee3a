/**
 * Request rates per client address and per API key, on `rate-limiter-flexible`'s in-memory
 * counters (one process; several gateways each count their own share). Shared by the HTTP
 * API and the WebSocket server so a client cannot dodge a limit by switching protocol.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** The window every rate is counted over, in seconds. */
const WINDOW_S = 60;

/** Limits of {@link createRateLimiter}; 0 switches one off. */
export interface RateLimits {
  /** Requests one client address may start per minute. */
  readonly perClientPerMinute: number;
  /** Requests one API key may start per minute. */
  readonly perKeyPerMinute: number;
}

/** The verdict on one request. */
export type RateVerdict =
  | { readonly isAllowed: true }
  | {
      readonly isAllowed: false;
      /** Which limit refused it. */
      readonly limit: 'client' | 'key';
      /** When the client may try again, in ms (at least 1000). */
      readonly retryAfterMs: number;
    };

/** Counts requests; see {@link createRateLimiter}. */
export interface RateLimiter {
  /**
   * Counts one request of a client address (`'client'`) or of an API key (`'key'`) and says
   * whether it is within the limit. A refused request still counts, so a client that keeps
   * hammering stays refused.
   */
  consume(limit: 'client' | 'key', id: string): Promise<RateVerdict>;
}

/** Creates the limiter (counts are in memory and expire by themselves). */
export function createRateLimiter(limits: RateLimits): RateLimiter {
  const make = (points: number, prefix: string): RateLimiterMemory | undefined =>
    points > 0
      ? new RateLimiterMemory({ points, duration: WINDOW_S, keyPrefix: prefix })
      : undefined;
  const limiters = {
    client: make(limits.perClientPerMinute, 'client'),
    key: make(limits.perKeyPerMinute, 'key'),
  };
  return {
    async consume(limit: 'client' | 'key', id: string): Promise<RateVerdict> {
      const limiter = limiters[limit];
      if (limiter === undefined) return { isAllowed: true };
      try {
        await limiter.consume(id);
        return { isAllowed: true };
      } catch (rejection) {
        // The library rejects with its result object when the limit is reached.
        if (rejection instanceof RateLimiterRes) {
          return { isAllowed: false, limit, retryAfterMs: Math.max(1000, rejection.msBeforeNext) };
        }
        throw rejection;
      }
    },
  };
}
