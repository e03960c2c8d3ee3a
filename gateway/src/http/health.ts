/**
 * Health: `GET /health` (the product's contract: 200 healthy while a worker is SERVING,
 * otherwise 503 unhealthy with a reason), `/healthz` (liveness: the process answers) and
 * `/readyz` (readiness, same rule as `/health`).
 *
 * When the workers' load is known, a healthy `/health` adds `load` (the serving workers'
 * load taken together, see {@link combineLoads}) and each `/readyz` worker carries its own
 * `load`; both in the snake_case of {@link LoadJson}.
 *
 * When the local worker failed for good (a configuration error: it is not restarted), the
 * 503 answer of `/health` adds `worker_failure` (`reason` and the worker's `message`) and has
 * no `Retry-After`: waiting does not help, fixing the configuration does.
 */
import { Router, type Request, type Response } from 'express';

import { publicWorkerName, type WorkerLoadReading, type WorkerPool } from '../grpc/pool.js';

/** The `service` field of `/health`. */
export const SERVICE_NAME = 'WhisperLive Hybrid Server';

/** `load` of `/health` and of each `/readyz` worker: `stt.v1.WorkerLoad` plus its age. */
export interface LoadJson {
  readonly active_streams: number;
  readonly max_streams: number;
  readonly live_streams: number;
  readonly queue_depth: number;
  readonly max_queue_depth: number;
  readonly real_time_factor: number;
  readonly live_cycle_ms: number;
  readonly max_live_cycle_ms: number;
  readonly file_backlog_ms: number;
  readonly mean_batch_size: number;
  /** Milliseconds since the worker reported this load. */
  readonly age_ms: number;
}

/** One worker's load reading as JSON. */
export function toLoadJson({ load, ageMs }: WorkerLoadReading): LoadJson {
  return {
    active_streams: load.activeStreams,
    max_streams: load.maxStreams,
    live_streams: load.liveStreams,
    queue_depth: load.queueDepth,
    max_queue_depth: load.maxQueueDepth,
    real_time_factor: load.realTimeFactor,
    live_cycle_ms: load.liveCycleMs,
    max_live_cycle_ms: load.maxLiveCycleMs,
    file_backlog_ms: load.fileBacklogMs,
    mean_batch_size: load.meanBatchSize,
    age_ms: ageMs,
  };
}

/**
 * Several workers' load as one, the view from in front of them all: stream and queue counts
 * and their limits are summed; the live cycle, the file backlog, the real-time factor and
 * the age are the worst (largest) of any worker; `max_live_cycle_ms` is the strictest
 * (smallest non-zero) limit, 0 when no worker has one; `mean_batch_size` is the workers'
 * mean. One worker's load comes back as it is. Undefined when there is no reading.
 */
export function combineLoads(readings: readonly WorkerLoadReading[]): LoadJson | undefined {
  const loads = readings.map(toLoadJson);
  const [first, ...rest] = loads;
  if (first === undefined) return undefined;
  if (rest.length === 0) return first;
  const sum = (key: keyof LoadJson): number => loads.reduce((total, l) => total + l[key], 0);
  const max = (key: keyof LoadJson): number => Math.max(...loads.map((l) => l[key]));
  const limits = loads.map((l) => l.max_live_cycle_ms).filter((limit) => limit > 0);
  return {
    active_streams: sum('active_streams'),
    max_streams: sum('max_streams'),
    live_streams: sum('live_streams'),
    queue_depth: sum('queue_depth'),
    max_queue_depth: sum('max_queue_depth'),
    real_time_factor: max('real_time_factor'),
    live_cycle_ms: max('live_cycle_ms'),
    max_live_cycle_ms: limits.length === 0 ? 0 : Math.min(...limits),
    file_backlog_ms: max('file_backlog_ms'),
    mean_batch_size: Number((sum('mean_batch_size') / loads.length).toPrecision(7)),
    age_ms: max('age_ms'),
  };
}

/** Creates the health router (mounted before authentication). */
export function createHealthRouter(pool: WorkerPool): Router {
  const router = Router();
  router.get('/health', (_req: Request, res: Response) => {
    const health = pool.health();
    res.setHeader('Cache-Control', 'no-store');
    if (health.isReady) {
      const load = combineLoads(
        health.workers.flatMap((w) =>
          w.state === 'serving' && w.load !== undefined ? [w.load] : [],
        ),
      );
      res.status(200).json({
        status: 'healthy',
        service: SERVICE_NAME,
        ...(load === undefined ? {} : { load }),
      });
    } else if (health.failure !== undefined) {
      res.status(503).json({
        status: 'unhealthy',
        service: SERVICE_NAME,
        reason: health.reason,
        worker_failure: { reason: health.failure.reason, message: health.failure.message },
      });
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
      // Unauthenticated: worker ids and states, never their internal addresses.
      workers: health.workers.map(({ load, id, address, state }, index) => {
        const worker = { id: publicWorkerName(id, address, index), state };
        return load === undefined ? worker : { ...worker, load: toLoadJson(load) };
      }),
    });
  });
  return router;
}
