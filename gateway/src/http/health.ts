/**
 * Health: `GET /health` (the product's contract: 200 healthy while a worker is SERVING,
 * otherwise 503 unhealthy with a reason), `/healthz` (liveness: the process answers) and
 * `/readyz` (readiness, same rule as `/health`).
 */
import { Router, type Request, type Response } from 'express';

import type { WorkerPool } from '../grpc/pool.js';

/** The `service` field of `/health`. */
export const SERVICE_NAME = 'WhisperLive Hybrid Server';

/** Creates the health router (mounted before authentication). */
export function createHealthRouter(pool: WorkerPool): Router {
  const router = Router();
  router.get('/health', (_req: Request, res: Response) => {
    const health = pool.health();
    res.setHeader('Cache-Control', 'no-store');
    if (health.isReady) {
      res.status(200).json({ status: 'healthy', service: SERVICE_NAME });
    } else {
      res.setHeader('Retry-After', '1');
      res.status(503).json({ status: 'unhealthy', service: SERVICE_NAME, reason: health.reason });
    }
  });
  router.get('/healthz', (_req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ status: 'alive' });
  });
  router.get('/readyz', (_req: Request, res: Response) => {
    const health = pool.health();
    res.setHeader('Cache-Control', 'no-store');
    res.status(health.isReady ? 200 : 503).json({
      status: health.isReady ? 'ready' : 'not_ready',
      reason: health.reason,
      workers: health.workers,
    });
  });
  return router;
}
