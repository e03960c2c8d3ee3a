/**
 * Optional bearer-token authentication (`GATEWAY_API_KEYS`): when keys are configured every
 * route after this middleware needs `Authorization: Bearer <key>`; 401 otherwise.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { NextFunction, Request, RequestHandler, Response } from 'express';

import { AuthenticationError } from '../errors.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Creates the middleware; with no keys it lets everything through. */
export function createAuthMiddleware(apiKeys: readonly string[]): RequestHandler {
  const digests = apiKeys.map(digest);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (digests.length === 0) {
      next();
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined) {
      next(
        new AuthenticationError(
          "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
        ),
      );
      return;
    }
    // Compare fixed-length digests in constant time, so the comparison leaks nothing.
    const offered = digest(match[1]);
    if (!digests.some((known) => timingSafeEqual(known, offered))) {
      next(new AuthenticationError('Incorrect API key provided.'));
      return;
    }
    next();
  };
}
