/**
 * The Realtime path answered over plain HTTP: a request without the WebSocket upgrade (a
 * browser address bar, curl, a client that lost its `Upgrade` header behind a proxy) hears
 * (GET or HEAD) 426 with `Upgrade: websocket` and how to connect, instead of a 404 that suggests the
 * endpoint does not exist. Upgrades never reach express: the HTTP server's `upgrade` listener
 * takes them (see `server.ts`).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';

import { UpgradeRequiredError } from '../errors.js';
import { REALTIME_PATH } from './server.js';

/** The router for {@link REALTIME_PATH} over plain HTTP. */
export function createRealtimeHttpRouter(): Router {
  const router = Router();
  router.get(REALTIME_PATH, (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Upgrade', 'websocket');
    res.setHeader('Connection', 'Upgrade');
    next(
      new UpgradeRequiredError(
        `${REALTIME_PATH} is a WebSocket endpoint: connect with a WebSocket client to ` +
          `${REALTIME_PATH}?intent=transcription (got a plain ${req.method}).`,
      ),
    );
  });
  return router;
}
