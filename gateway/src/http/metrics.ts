/**
 * `GET /metrics`: the gateway's Prometheus metrics in the text exposition format. Mounted
 * beside the health routes, so it needs no API key and counts against no rate limit (a
 * scraper comes every few seconds, from inside the deployment).
 */
import { Router, type Request, type Response } from 'express';

import type { GatewayMetrics } from '../metrics.js';

/** The router serving `GET /metrics` from `metrics.registry`. */
export function createMetricsRouter(metrics: GatewayMetrics): Router {
  const router = Router();
  router.get('/metrics', (_req: Request, res: Response, next) => {
    metrics.registry.metrics().then(
      (text) => {
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.setHeader('Cache-Control', 'no-store');
        res.send(text);
      },
      (error: unknown) => {
        next(error);
      },
    );
  });
  return router;
}
