/**
 * The jobs feature assembled: the store (opened here unless one is given), the event hub,
 * the runner, the webhook sender, the HTTP routes and the WebSocket upgrade. `start()` and
 * `stop()` are called by the gateway's `listen()` and `close()`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import type { Router } from 'express';

import type { JobsConfig } from '../config.js';
import type { FileTranscriptionDeps } from '../file_transcription.js';
import type { RateLimiter } from '../limits/rate_limit.js';
import type { Logger } from '../logger.js';
import type { AddressPolicy } from '../net/address_policy.js';
import type { Resolver } from '../net/resolve.js';
import { createJobEventHub } from './events.js';
import { createJobEventsUpgrade, type JobEventsUpgrade } from './events_ws.js';
import { createJobsRouter } from './routes.js';
import { createJobRunner, type JobRunner } from './runner.js';
import { openSqliteJobStore, type JobStore } from './store.js';
import { createWebhookSender } from './webhook.js';

/** Webhook attempts in all. */
const WEBHOOK_ATTEMPTS = 4;
/** Wait before the second webhook attempt, in ms (then doubled). */
const WEBHOOK_BACKOFF_MS = 2000;

/** Collaborators of {@link createJobs}. */
export interface JobsDeps {
  readonly config: JobsConfig;
  readonly transcription: FileTranscriptionDeps;
  readonly logger: Logger;
  readonly rateLimiter: RateLimiter;
  readonly apiKeys: readonly string[];
  readonly trustProxyHops: number;
  readonly maxUploadBytes: number;
  readonly download: {
    readonly maxRedirects: number;
    readonly timeoutMs: number;
    readonly policy: AddressPolicy;
    readonly resolve?: Resolver;
  };
  /** A store to use instead of `<dataDir>/jobs.sqlite` (tests). */
  readonly store?: JobStore;
  /** Runner timing overrides (tests). */
  readonly progressIntervalMs?: number;
  readonly pollIntervalMs?: number;
}

/** The jobs feature. */
export interface Jobs {
  readonly router: Router;
  readonly upgrade: JobEventsUpgrade;
  readonly runner: JobRunner;
  readonly store: JobStore;
  /** Requeues jobs a previous run left running and starts the runner. */
  start(): void;
  /** Puts running jobs back in the queue and closes event streams. */
  stop(): Promise<void>;
  /** Closes the store (after the HTTP server has closed). */
  close(): void;
}

/** Creates the jobs feature; opens (and migrates) the store now. */
export function createJobs(deps: JobsDeps): Jobs {
  const { config, logger } = deps;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = deps.store ?? openSqliteJobStore(path.join(config.dataDir, 'jobs.sqlite'));
  const hub = createJobEventHub();
  const webhooks = createWebhookSender({
    policy: deps.download.policy,
    timeoutMs: config.webhookTimeoutMs,
    maxAttempts: WEBHOOK_ATTEMPTS,
    backoffMs: WEBHOOK_BACKOFF_MS,
    logger,
    ...(deps.download.resolve === undefined ? {} : { resolve: deps.download.resolve }),
  });
  const runner = createJobRunner({
    store,
    hub,
    transcription: deps.transcription,
    webhooks,
    logger,
    maxRunning: config.maxRunning,
    retentionMs: config.retentionMs,
    ...(deps.progressIntervalMs === undefined
      ? {}
      : { progressIntervalMs: deps.progressIntervalMs }),
    ...(deps.pollIntervalMs === undefined ? {} : { pollIntervalMs: deps.pollIntervalMs }),
  });
  const router = createJobsRouter({
    store,
    runner,
    hub,
    dataDir: config.dataDir,
    maxUploadBytes: deps.maxUploadBytes,
    maxQueued: config.maxQueued,
    maxDiskBytes: config.maxDiskBytes,
    download: deps.download,
  });
  const upgrade = createJobEventsUpgrade({
    store,
    hub,
    apiKeys: deps.apiKeys,
    rateLimiter: deps.rateLimiter,
    trustProxyHops: deps.trustProxyHops,
    logger,
  });
  let isStopped = false;
  return {
    router,
    upgrade,
    runner,
    store,
    start() {
      runner.start();
      logger.info('jobs ready', {
        data_dir: config.dataDir,
        max_running: config.maxRunning,
        queued: store.count('queued'),
      });
    },
    async stop() {
      if (isStopped) return;
      isStopped = true;
      await runner.stop();
      webhooks.close();
      hub.closeAll();
      upgrade.close();
    },
    close() {
      if (deps.store === undefined) store.close();
    },
  };
}
