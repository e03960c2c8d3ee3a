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

/** Whether a presented key is one of the configured keys (constant time per key). */
export type ApiKeyCheck = (key: string) => boolean;

/** Creates the key check shared by HTTP and the WebSocket upgrade. */
export function createApiKeyCheck(apiKeys: readonly string[]): ApiKeyCheck {
  const digests = apiKeys.map(digest);
  return (key: string): boolean => {
    // Compare fixed-length digests in constant time, so the comparison leaks nothing.
    const offered = digest(key);
    return digests.some((known) => timingSafeEqual(known, offered));
  };
}

/** The token of an `Authorization: Bearer <token>` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** Creates the middleware; with no keys it lets everything through. */
export function createAuthMiddleware(apiKeys: readonly string[]): RequestHandler {
  const isKnownKey = createApiKeyCheck(apiKeys);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (apiKeys.length === 0) {
      next();
      return;
    }
    const token = bearerToken(req.get('authorization'));
    if (token === undefined) {
      next(
        new AuthenticationError(
          "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
        ),
      );
      return;
    }
    if (!isKnownKey(token)) {
      next(new AuthenticationError('Incorrect API key provided.'));
      return;
    }
    next();
  };
}
