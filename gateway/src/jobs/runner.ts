/**
 * The job runner: takes queued jobs from the store, at most `maxRunning` at once, and
 * transcribes each through the same path as the synchronous endpoints (the worker's
 * scheduler runs file streams behind live ones). Progress and segments become events,
 * progress is stored at most once per `progressIntervalMs`. A busy or missing worker puts
 * the job back in the queue with a back-off; cancelling aborts the worker stream at once.
 *
 * Restarts: jobs a stopped gateway left `running` are queued again at start and transcribed
 * from the beginning (the worker keeps no partial state to resume from); `stop()` puts
 * running jobs back in the queue the same way.
 */
import { rm } from 'node:fs/promises';

import { GatewayError, RequestCancelledError } from '../errors.js';
import { transcribeFile, type FileTranscriptionDeps } from '../file_transcription.js';
import type { Logger } from '../logger.js';
import type { Segment } from '../transcript.js';
import type { JobEventHub } from './events.js';
import {
  isFinalStatus,
  jobJson,
  progressOf,
  type JobError,
  type JobEventType,
  type JobRecord,
} from './job.js';
import type { JobStore } from './store.js';
import type { WebhookSender } from './webhook.js';

/** Options of {@link createJobRunner}. */
export interface JobRunnerOptions {
  readonly store: JobStore;
  readonly hub: JobEventHub;
  readonly transcription: FileTranscriptionDeps;
  readonly webhooks: WebhookSender;
  readonly logger: Logger;
  /** Jobs transcribed at once. */
  readonly maxRunning: number;
  /** Finished jobs are deleted this long after they finished, in ms. */
  readonly retentionMs: number;
  /** Shortest time between two stored progress updates of one job, in ms. */
  readonly progressIntervalMs?: number;
  /** How often the queue (back-offs) and retention are looked at, in ms. */
  readonly pollIntervalMs?: number;
  /** Clock (tests). */
  readonly now?: () => number;
}

/** Runs jobs. */
export interface JobRunner {
  /** Requeues jobs left running, then starts taking jobs. */
  start(): void;
  /** Looks at the queue now (after new jobs were stored). */
  wake(): void;
  /**
   * Cancels a queued or running job; resolves once it is `cancelled` (a running job's
   * worker stream is cancelled at once). False when the job is final or unknown.
   */
  cancel(id: string): Promise<boolean>;
  /** Jobs running now. */
  readonly runningCount: number;
  /** Stops taking jobs; running ones are cancelled and queued again. */
  stop(): Promise<void>;
}

/** Attempts after which a job that keeps meeting a busy or absent worker fails. */
const MAX_ATTEMPTS = 50;
/** Longest back-off between attempts, in ms. */
const MAX_BACKOFF_MS = 60_000;
/** Finished jobs deleted per retention sweep (bounds one sweep's time). */
const RETENTION_BATCH = 200;

type StopReason = 'cancel' | 'shutdown';

interface RunningJob {
  readonly controller: AbortController;
  reason: StopReason | undefined;
  readonly done: Promise<void>;
}

function jobError(error: unknown): JobError {
  if (error instanceof GatewayError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'The server had an error while processing the job.' };
}

function segmentData(segment: Segment): Record<string, unknown> {
  return {
    index: segment.index,
    start: segment.startMs / 1000,
    end: segment.endMs / 1000,
    text: segment.text,
  };
}

/** Creates the runner (nothing runs until `start()`). */
export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { store, hub, logger } = options;
  const now = options.now ?? Date.now;
  const progressIntervalMs = options.progressIntervalMs ?? 1000;
  const running = new Map<string, RunningJob>();
  let timer: NodeJS.Timeout | undefined;
  let isStopped = true;
  let lastSweepMs = 0;

  const emit = (id: string, type: JobEventType, data: Record<string, unknown>): void => {
    hub.publish(id, store.appendEvent(id, type, data));
  };

  const removeAudio = (path: string | undefined): void => {
    if (path === undefined) return;
    rm(path, { force: true }).catch((error: unknown) => {
      logger.warn('could not remove job audio', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  };

  /** Ends a job for good: stored, announced, audio removed, webhook sent. */
  const finish = (
    job: JobRecord,
    status: 'completed' | 'failed' | 'cancelled',
    outcome: Parameters<JobStore['finish']>[3],
  ): void => {
    store.finish(job.id, status, now(), outcome);
    const final = store.get(job.id);
    if (final === undefined) return;
    const json = jobJson(final);
    emit(job.id, 'done', { ...json });
    removeAudio(job.audioPath);
    logger.info('job finished', {
      request_id: job.requestId,
      job_id: job.id,
      status,
      error_code: outcome.error?.code,
    });
    if (final.webhookUrl !== undefined) {
      void options.webhooks.send(final.webhookUrl, json, job.requestId);
    }
  };

  const run = async (job: JobRecord, entry: RunningJob): Promise<void> => {
    const log = logger.child({ request_id: job.requestId, job_id: job.id });
    if (job.audioPath === undefined) {
      finish(job, 'failed', {
        error: { code: 'audio_missing', message: 'The job audio is gone.' },
      });
      return;
    }
    emit(job.id, 'status', { status: 'running', attempt: job.attempts });
    let lastStoredMs = 0;
    let totalMs = job.totalMs;
    const { params } = job;
    try {
      const transcript = await transcribeFile(options.transcription, {
        filePath: job.audioPath,
        settings: {
          task: params.task,
          languageCode: params.languageCode,
          model: params.model,
          prompt: params.prompt,
          temperature: params.temperature,
          hasWordTimestamps: params.granularities.includes('word'),
          // A job's result may be asked for in any format, so segments keep their times.
          hasCoarseSegments: false,
        },
        requestId: job.requestId,
        signal: entry.controller.signal,
        logger: log,
        onSegment: (segment) => {
          emit(job.id, 'segment', segmentData(segment));
        },
        onProgress: (processedMs, reportedTotalMs) => {
          if (reportedTotalMs > 0) totalMs = reportedTotalMs;
          const at = now();
          if (at - lastStoredMs < progressIntervalMs && processedMs < totalMs) return;
          lastStoredMs = at;
          store.setProgress(job.id, processedMs, totalMs);
          emit(job.id, 'progress', {
            progress: progressOf({ status: 'running', processedMs, totalMs }),
            audio_seconds_done: processedMs / 1000,
            audio_seconds_total: totalMs / 1000,
          });
        },
      });
      store.setProgress(job.id, transcript.audioMs, Math.max(totalMs, transcript.audioMs));
      finish(job, 'completed', { result: transcript });
    } catch (error) {
      if (entry.reason === 'cancel') {
        finish(job, 'cancelled', {});
        return;
      }
      if (entry.reason === 'shutdown') {
        store.requeue(job.id, 0);
        log.info('job requeued: the gateway is stopping');
        return;
      }
      const failure = error instanceof GatewayError ? error : undefined;
      const isRetryable =
        failure !== undefined &&
        failure.retryable &&
        failure.httpStatus === 503 &&
        !(failure instanceof RequestCancelledError);
      if (isRetryable && job.attempts < MAX_ATTEMPTS) {
        const backoffMs = Math.min(
          MAX_BACKOFF_MS,
          Math.max(failure.retryAfterMs ?? 1000, 1000 * 2 ** Math.min(job.attempts - 1, 6)),
        );
        store.requeue(job.id, now() + backoffMs, jobError(failure));
        emit(job.id, 'status', { status: 'queued', retry_in_s: backoffMs / 1000 });
        log.info('job requeued: no worker can take it now', {
          error_code: failure.code,
          retry_in_ms: backoffMs,
        });
        return;
      }
      log.warn('job failed', { error_code: jobError(error).code });
      finish(job, 'failed', { error: jobError(error) });
    }
  };

  const sweep = (): void => {
    const at = now();
    if (at - lastSweepMs < 60_000) return;
    lastSweepMs = at;
    for (const id of store.finishedBefore(at - options.retentionMs, RETENTION_BATCH)) {
      store.delete(id);
      logger.debug('job expired', { job_id: id });
    }
  };

  const fill = (): void => {
    if (isStopped) return;
    while (running.size < options.maxRunning) {
      const job = store.claimNext(now());
      if (job === undefined) break;
      const controller = new AbortController();
      let markDone: () => void = () => undefined;
      const entry: RunningJob = {
        controller,
        reason: undefined,
        done: new Promise((resolve) => {
          markDone = resolve;
        }),
      };
      running.set(job.id, entry);
      void run(job, entry)
        .catch((error: unknown) => {
          logger.error('job runner failed', {
            job_id: job.id,
            error: error instanceof Error ? error.stack : String(error),
          });
        })
        .finally(() => {
          running.delete(job.id);
          markDone();
          fill();
        });
    }
  };

  return {
    start() {
      if (!isStopped) return;
      isStopped = false;
      const requeued = store.requeueRunning();
      for (const id of requeued) emit(id, 'status', { status: 'queued', restarted: true });
      if (requeued.length > 0)
        logger.info('jobs requeued after a restart', { jobs: requeued.length });
      timer = setInterval(() => {
        try {
          sweep();
          fill();
        } catch (error) {
          logger.error('job queue check failed', {
            error: error instanceof Error ? error.stack : String(error),
          });
        }
      }, options.pollIntervalMs ?? 1000);
      timer.unref();
      sweep();
      fill();
    },
    wake() {
      fill();
    },
    async cancel(id) {
      const entry = running.get(id);
      if (entry !== undefined) {
        entry.reason = 'cancel';
        entry.controller.abort();
        await entry.done;
        return true;
      }
      const job = store.get(id);
      if (job === undefined || isFinalStatus(job.status)) return false;
      finish(job, 'cancelled', {});
      return true;
    },
    get runningCount() {
      return running.size;
    },
    async stop() {
      isStopped = true;
      if (timer !== undefined) clearInterval(timer);
      const entries = [...running.values()];
      for (const entry of entries) {
        entry.reason ??= 'shutdown';
        entry.controller.abort();
      }
      await Promise.all(entries.map((entry) => entry.done));
    },
  };
}
