/**
 * HTTP side of the client limits: request rates per client address (before authentication,
 * so key guessing is limited too) and per API key (after it), and uploads in flight per
 * client and in total. Refusals are OpenAI-shaped errors with `Retry-After`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';

import { GatewayBusyError, RateLimitError } from '../errors.js';
import { clientAddress } from '../limits/client_address.js';
import type { ConcurrencyLimit } from '../limits/concurrency.js';
import type { RateLimiter } from '../limits/rate_limit.js';
import { bearerToken } from './auth.js';

/** How long a client refused for too many uploads is told to wait, in ms. */
const UPLOAD_RETRY_AFTER_MS = 5_000;

function refusal(limit: 'client' | 'key', retryAfterMs: number): RateLimitError {
  const who = limit === 'client' ? 'this client address' : 'this API key';
  const seconds = Math.ceil(retryAfterMs / 1000);
  return new RateLimitError(`Rate limit reached for ${who}. Retry in ${seconds} s.`, retryAfterMs);
}

/**
 * Counts each request against its client address (`limit: 'client'`) or, when it carries a
 * bearer token, against that key (`limit: 'key'`; mount after authentication so only valid
 * keys are counted).
 */
export function createRateLimitMiddleware(
  limiter: RateLimiter,
  limit: 'client' | 'key',
  trustProxyHops: number,
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const id =
      limit === 'client'
        ? clientAddress(req, trustProxyHops)
        : bearerToken(req.get('authorization'));
    if (id === undefined) {
      next();
      return;
    }
    limiter.consume(limit, id).then(
      (verdict) => {
        next(verdict.isAllowed ? undefined : refusal(verdict.limit, verdict.retryAfterMs));
      },
      (error: unknown) => {
        next(error);
      },
    );
  };
}

/**
 * Holds an upload slot for each POST from its start to its response's end: per client
 * address over the limit → 429, all clients over the total → 503.
 */
export function createUploadSlotMiddleware(
  uploads: ConcurrencyLimit,
  trustProxyHops: number,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    const slot = uploads.acquire(clientAddress(req, trustProxyHops));
    if (slot === 'client') {
      next(
        new RateLimitError(
          'Too many uploads in flight from this client address. Wait for one to finish.',
          UPLOAD_RETRY_AFTER_MS,
          'too_many_uploads',
        ),
      );
      return;
    }
    if (slot === 'total') {
      next(
        new GatewayBusyError(
          'The server is receiving as many uploads as it accepts at once. Retry shortly.',
          UPLOAD_RETRY_AFTER_MS,
          'too_many_uploads',
        ),
      );
      return;
    }
    res.once('close', () => {
      slot.release();
    });
    next();
  };
}
