/**
 * Keeps the pool's workers in line with `GATEWAY_WORKER_ADDRESS`: fixed addresses are added
 * once; `dns:///` names are resolved at start and then every `intervalMs`, each address a
 * worker of its own. A new address joins the pool; a vanished one is retired (it takes no
 * new work and leaves once its running sessions end), so a scaled-down or rescheduled
 * worker's sessions are not cut by the gateway. A failed resolution keeps the workers the
 * name last resolved to: their health checks say whether they still serve.
 */
import type { Logger } from '../logger.js';
import type { Resolver } from '../net/resolve.js';
import type { WorkerPool } from './pool.js';
import { joinHostPort, type WorkerTarget } from './targets.js';

/** Options of {@link startWorkerDiscovery}. */
export interface WorkerDiscoveryOptions {
  readonly targets: readonly WorkerTarget[];
  readonly pool: Pick<WorkerPool, 'upsert' | 'retire'>;
  readonly resolve: Resolver;
  /** Pause between two resolutions of the DNS targets, in ms. */
  readonly intervalMs: number;
  readonly logger: Logger;
}

/** Running discovery. */
export interface WorkerDiscovery {
  /** Resolves the DNS targets now (tests; the timer does it otherwise). */
  refresh(): Promise<void>;
  /** Stops re-resolving; the pool keeps its workers. */
  stop(): void;
}

/** Adds the fixed workers, resolves the DNS targets, and keeps them resolved. */
export function startWorkerDiscovery(options: WorkerDiscoveryOptions): WorkerDiscovery {
  const { pool, logger } = options;
  const dnsTargets = options.targets.filter((t) => t.kind === 'dns');
  for (const target of options.targets) {
    if (target.kind === 'static') pool.upsert(target.address, target.address);
  }
  /** Addresses each DNS target resolved to last time (kept when a resolution fails). */
  const resolved = new Map<string, ReadonlySet<string>>();
  const failing = new Set<string>();
  let current = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let isStopped = false;
  let running: Promise<void> | undefined;

  const resolveTarget = async (target: WorkerTarget & { kind: 'dns' }): Promise<void> => {
    try {
      const answers = await options.resolve(target.host);
      resolved.set(
        target.target,
        new Set(answers.map((a) => joinHostPort(a.address, target.port))),
      );
      if (failing.delete(target.target)) {
        logger.info('worker name resolves again', { target: target.target });
      }
    } catch (error) {
      if (!failing.has(target.target)) {
        failing.add(target.target);
        logger.warn('cannot resolve the worker name; keeping the workers it had', {
          target: target.target,
          error: error instanceof Error ? error.message : String(error),
          workers: [...(resolved.get(target.target) ?? [])],
        });
      }
    }
  };

  const round = async (): Promise<void> => {
    await Promise.all(dnsTargets.map(resolveTarget));
    if (isStopped) return;
    const next = new Set<string>();
    for (const addresses of resolved.values()) for (const address of addresses) next.add(address);
    const added = [...next].filter((a) => !current.has(a));
    const removed = [...current].filter((a) => !next.has(a));
    for (const address of added) pool.upsert(address, address);
    for (const address of removed) pool.retire(address);
    if (added.length > 0 || removed.length > 0) {
      logger.info('workers resolved', { added, removed, workers: [...next] });
    }
    current = next;
  };

  const schedule = (): void => {
    if (isStopped || dnsTargets.length === 0) return;
    timer = setTimeout(() => {
      void refresh().finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };

  const refresh = (): Promise<void> => {
    running ??= round().finally(() => {
      running = undefined;
    });
    return running;
  };

  if (dnsTargets.length > 0) void refresh().finally(schedule);
  return {
    refresh,
    stop(): void {
      isStopped = true;
      clearTimeout(timer);
    },
  };
}
