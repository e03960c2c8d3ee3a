/**
 * The jobs API over HTTP: `POST /v1/jobs` (files or URLs → one queued job each), `GET
 * /v1/jobs`, `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/result`, `GET /v1/jobs/{id}/events`
 * (Server-Sent Events) and `DELETE /v1/jobs/{id}`. Every field is checked, and every file
 * sniffed, before a job is stored; a full queue or a full disk quota answers 503 with
 * `Retry-After` before the upload is read.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { Router, type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';

import {
  GatewayBusyError,
  GatewayError,
  InvalidRequestError,
  JobStateError,
  NotFoundError,
} from '../errors.js';
import { checkContainer, checkLanguageAndTask, checkModel } from '../file_transcription.js';
import { requestContext } from '../http/context.js';
import { formFields } from '../http/form.js';
import {
  isResponseFormat,
  renderTranscript,
  RESPONSE_FORMATS,
  type TimestampGranularity,
} from '../http/response_formats.js';
import { parseTranscriptionForm } from '../http/transcriptions.js';
import { multerToGatewayError } from '../http/upload.js';
import type { AddressPolicy } from '../net/address_policy.js';
import { downloadToFile, filenameFromUrl, parseHttpUrl } from '../net/download.js';
import type { Resolver } from '../net/resolve.js';
import type { Task } from '../transcript.js';
import { followJobEvents, type JobEventHub } from './events.js';
import { isFinalStatus, jobJson, type JobParams, type NewJob } from './job.js';
import type { JobRunner } from './runner.js';
import type { JobStore } from './store.js';

/** Most files and URLs in one `POST /v1/jobs`. */
export const MAX_FILES_PER_REQUEST = 32;
/** Most jobs one `GET /v1/jobs` lists. */
export const MAX_LIST_LIMIT = 100;
/** Event followers (SSE and WebSocket) at once, all jobs together. */
export const MAX_EVENT_FOLLOWERS = 1000;
/** Longest stored file name, in characters. */
const MAX_FILENAME_CHARS = 255;
/** What a client refused for a full queue or disk is told to wait, in ms. */
const QUEUE_RETRY_AFTER_MS = 30_000;
/** SSE comment sent this often so proxies keep an idle stream open, in ms. */
const SSE_HEARTBEAT_MS = 15_000;

/** Job ids: `job_` and 24 hex digits. */
const JOB_ID = /^job_[0-9a-f]{24}$/;

/** What the jobs routes need. */
export interface JobsRouterDeps {
  readonly store: JobStore;
  readonly runner: JobRunner;
  readonly hub: JobEventHub;
  /** Root of job audio (`<data dir>/audio`) and uploads in flight (`<data dir>/incoming`). */
  readonly dataDir: string;
  readonly maxUploadBytes: number;
  /** Jobs that may wait in the queue. */
  readonly maxQueued: number;
  /** Bytes of job audio kept on disk at most. */
  readonly maxDiskBytes: number;
  /** URL downloads. */
  readonly download: {
    readonly maxRedirects: number;
    readonly timeoutMs: number;
    readonly policy: AddressPolicy;
    readonly resolve?: Resolver;
  };
}

/** A new job id. */
export function newJobId(): string {
  return `job_${randomBytes(12).toString('hex')}`;
}

/** A file about to become a job. */
interface Incoming {
  readonly path: string;
  readonly filename: string;
  readonly bytes: number;
}

function parseTask(value: string | undefined): Task {
  if (value === undefined || value === 'transcribe') return 'transcribe';
  if (value === 'translate') return 'translate';
  throw new InvalidRequestError(
    `'${value}' is not a task; use 'transcribe' or 'translate'.`,
    'task',
    'invalid_task',
  );
}

/** Validates the fields of `POST /v1/jobs` (those of `/v1/audio/transcriptions` plus `task`). */
export function parseJobForm(body: unknown): {
  params: JobParams;
  urls: string[];
  webhookUrl: string | undefined;
} {
  const fields = formFields(body);
  const task = parseTask(fields.string('task'));
  const form = parseTranscriptionForm(body, task);
  if (form.isStream) {
    throw new InvalidRequestError(
      'Jobs are not streamed: follow GET /v1/jobs/{id}/events instead of stream=true.',
      'stream',
    );
  }
  const params: JobParams = {
    task,
    languageCode: form.languageCode,
    model: form.model,
    prompt: form.prompt,
    temperature: form.temperature,
    responseFormat: form.responseFormat,
    granularities: form.granularities,
  };
  checkModel(params.model, undefined);
  checkLanguageAndTask({ ...params, hasWordTimestamps: false }, undefined);
  const urls = fields.strings('url');
  for (const url of urls) parseHttpUrl(url);
  const rawWebhook = fields.string('webhook_url');
  let webhookUrl: string | undefined;
  if (rawWebhook !== undefined) {
    try {
      webhookUrl = parseHttpUrl(rawWebhook).href;
    } catch (error) {
      const message = error instanceof Error ? error.message : 'invalid URL';
      throw new InvalidRequestError(`webhook_url: ${message}`, 'webhook_url', 'invalid_url');
    }
  }
  return { params, urls, webhookUrl };
}

function jobIdParam(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !JOB_ID.test(id)) {
    throw new NotFoundError(`No job with id '${String(id)}'.`, 'job_not_found', 'id');
  }
  return id;
}

function parseLimit(value: unknown): number {
  if (value === undefined) return 20;
  const limit = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
    throw new InvalidRequestError(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`, 'limit');
  }
  return limit;
}

/** `Last-Event-ID` (header, or `last_event_id` in the query for clients that cannot set it). */
export function parseLastEventId(header: unknown, query: unknown): number {
  const raw = typeof header === 'string' ? header : query;
  if (raw === undefined || raw === '') return 0;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new InvalidRequestError('Last-Event-ID must be a non-negative integer.', 'last_event_id');
  }
  return Number(raw);
}

function queueFull(): GatewayBusyError {
  return new GatewayBusyError(
    'The job queue is full. Retry later.',
    QUEUE_RETRY_AFTER_MS,
    'job_queue_full',
  );
}

function diskFull(): GatewayBusyError {
  return new GatewayBusyError(
    'The job storage quota is used up. Retry when queued jobs have finished.',
    QUEUE_RETRY_AFTER_MS,
    'job_storage_full',
  );
}

/** Creates the router of the jobs API (mounted after authentication and the rate limits). */
export function createJobsRouter(deps: JobsRouterDeps): Router {
  const { store, runner, hub } = deps;
  const audioDir = path.join(deps.dataDir, 'audio');
  const incomingDir = path.join(deps.dataDir, 'incoming');
  mkdirSync(audioDir, { recursive: true, mode: 0o700 });
  mkdirSync(incomingDir, { recursive: true, mode: 0o700 });

  const upload = multer({
    storage: multer.diskStorage({
      destination: incomingDir,
      filename: (_req, _file, callback) => {
        callback(null, `upload-${randomBytes(12).toString('hex')}`);
      },
    }),
    limits: {
      fileSize: deps.maxUploadBytes,
      files: MAX_FILES_PER_REQUEST,
      fields: 100,
      fieldSize: 1024 * 1024,
      parts: 140,
    },
  }).array('file', MAX_FILES_PER_REQUEST);

  const router = Router();

  // Refused before the body is read: a full queue or disk.
  const admit = (_req: Request, _res: Response, next: NextFunction): void => {
    if (store.count('queued') >= deps.maxQueued) next(queueFull());
    else if (store.audioBytes() >= deps.maxDiskBytes) next(diskFull());
    else next();
  };

  const receive = (req: Request, res: Response, next: NextFunction): void => {
    upload(req, res, (error: unknown) => {
      const files = Array.isArray(req.files) ? req.files : [];
      // Every path that does not move a file into the store ends here.
      res.once('close', () => {
        for (const file of files) void rm(file.path, { force: true });
      });
      next(
        error === undefined || error === null
          ? undefined
          : multerToGatewayError(error, deps.maxUploadBytes),
      );
    });
  };

  router.post('/v1/jobs', admit, receive, async (req: Request, res: Response) => {
    const context = requestContext(res);
    const uploads = Array.isArray(req.files) ? req.files : [];
    const { params, urls, webhookUrl } = parseJobForm(req.body);
    if (uploads.length + urls.length === 0) {
      throw new InvalidRequestError(
        "No audio: send one or more files in 'file' fields, or URLs in 'url' fields.",
        'file',
        'missing_file',
      );
    }
    if (uploads.length + urls.length > MAX_FILES_PER_REQUEST) {
      throw new InvalidRequestError(
        `At most ${MAX_FILES_PER_REQUEST} files and URLs per request.`,
        'url',
      );
    }
    if (store.count('queued') + uploads.length + urls.length > deps.maxQueued) throw queueFull();

    const incoming: Incoming[] = uploads.map((file) => ({
      path: file.path,
      filename: file.originalname.slice(0, MAX_FILENAME_CHARS) || 'audio',
      bytes: file.size,
    }));
    const downloaded: string[] = [];
    try {
      for (const url of urls) {
        const destinationPath = path.join(
          incomingDir,
          `download-${randomBytes(12).toString('hex')}`,
        );
        downloaded.push(destinationPath);
        const result = await downloadToFile({
          url,
          destinationPath,
          maxBytes: deps.maxUploadBytes,
          maxRedirects: deps.download.maxRedirects,
          timeoutMs: deps.download.timeoutMs,
          policy: deps.download.policy,
          signal: context.signal,
          ...(deps.download.resolve === undefined ? {} : { resolve: deps.download.resolve }),
        });
        incoming.push({
          path: destinationPath,
          filename: filenameFromUrl(new URL(url)).slice(0, MAX_FILENAME_CHARS),
          bytes: result.bytes,
        });
      }
      for (const file of incoming) {
        try {
          await checkContainer(file.path);
        } catch (error) {
          if (error instanceof GatewayError) {
            // Name the file: a request may carry many.
            throw new GatewayError({
              message: `${file.filename}: ${error.message}`,
              code: error.code,
              httpStatus: error.httpStatus,
              param: 'file',
              cause: error,
            });
          }
          throw error;
        }
      }
      const newBytes = incoming.reduce((sum, file) => sum + file.bytes, 0);
      if (store.audioBytes() + newBytes > deps.maxDiskBytes) throw diskFull();

      const createdAtMs = Date.now();
      const jobs: NewJob[] = [];
      for (const file of incoming) {
        const id = newJobId();
        const audioPath = path.join(audioDir, id);
        await rename(file.path, audioPath);
        jobs.push({
          id,
          filename: file.filename,
          params,
          audioPath,
          audioBytes: (await stat(audioPath)).size,
          webhookUrl,
          requestId: context.requestId,
          createdAtMs,
        });
      }
      try {
        store.create(jobs);
      } catch (error) {
        for (const job of jobs) await rm(job.audioPath, { force: true });
        throw error;
      }
      for (const job of jobs) {
        hub.publish(job.id, store.appendEvent(job.id, 'status', { status: 'queued' }));
      }
      context.logger.info('jobs queued', { jobs: jobs.map((job) => job.id) });
      // Rendered before the runner may start one: the answer says what was queued.
      const stored = jobs.map((job) => store.get(job.id)).filter((job) => job !== undefined);
      runner.wake();
      res.status(202).json({ object: 'list', jobs: stored.map(jobJson) });
    } finally {
      for (const file of downloaded) await rm(file, { force: true });
    }
  });

  router.get('/v1/jobs', (req: Request, res: Response) => {
    const limit = parseLimit(req.query.limit);
    const jobs = store.list(limit + 1);
    res.json({
      object: 'list',
      data: jobs.slice(0, limit).map(jobJson),
      has_more: jobs.length > limit,
    });
  });

  router.get('/v1/jobs/:id', (req: Request, res: Response) => {
    const id = jobIdParam(req);
    const job = store.get(id);
    if (job === undefined)
      throw new NotFoundError(`No job with id '${id}'.`, 'job_not_found', 'id');
    res.json(jobJson(job));
  });

  router.get('/v1/jobs/:id/result', (req: Request, res: Response) => {
    const id = jobIdParam(req);
    const job = store.get(id);
    if (job === undefined)
      throw new NotFoundError(`No job with id '${id}'.`, 'job_not_found', 'id');
    const format = formFields(req.query).string('response_format') ?? job.params.responseFormat;
    if (!isResponseFormat(format)) {
      throw new InvalidRequestError(
        `'${format}' is not a valid response_format; use one of ${RESPONSE_FORMATS.join(', ')}.`,
        'response_format',
        'invalid_response_format',
      );
    }
    const queried = formFields(req.query).strings('timestamp_granularities');
    const granularities = (queried.length > 0 ? queried : job.params.granularities).filter(
      (value): value is TimestampGranularity => value === 'segment' || value === 'word',
    );
    if (job.status !== 'completed') {
      throw new JobStateError(
        job.status === 'failed' || job.status === 'cancelled'
          ? `Job ${id} is ${job.status}; it has no result.`
          : `Job ${id} is ${job.status}; its result is ready when its status is 'completed'.`,
        job.status === 'failed' || job.status === 'cancelled'
          ? 'job_not_completed'
          : 'job_not_ready',
      );
    }
    const transcript = store.result(id);
    if (transcript === undefined) throw new JobStateError(`Job ${id} has no stored result.`);
    const rendered = renderTranscript(format, transcript, granularities);
    res.status(200).type(rendered.contentType).send(rendered.body);
  });

  router.get('/v1/jobs/:id/events', (req: Request, res: Response) => {
    const id = jobIdParam(req);
    if (store.get(id) === undefined) {
      throw new NotFoundError(`No job with id '${id}'.`, 'job_not_found', 'id');
    }
    const afterId = parseLastEventId(req.get('last-event-id'), req.query.last_event_id);
    if (hub.size >= MAX_EVENT_FOLLOWERS) {
      throw new GatewayBusyError('Too many event streams are open. Retry shortly.', 5000);
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const heartbeat = setInterval(() => {
      res.write(': keep-alive\n\n');
    }, SSE_HEARTBEAT_MS);
    const stop = followJobEvents(
      store,
      hub,
      id,
      afterId,
      (event) => {
        res.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
      },
      () => {
        clearInterval(heartbeat);
        res.end();
      },
    );
    res.once('close', () => {
      clearInterval(heartbeat);
      stop();
    });
  });

  router.delete('/v1/jobs/:id', async (req: Request, res: Response) => {
    const id = jobIdParam(req);
    const job = store.get(id);
    if (job === undefined)
      throw new NotFoundError(`No job with id '${id}'.`, 'job_not_found', 'id');
    if (!isFinalStatus(job.status) && (await runner.cancel(id))) {
      const cancelled = store.get(id);
      if (cancelled !== undefined) {
        res.json(jobJson(cancelled));
        return;
      }
    }
    store.delete(id);
    if (job.audioPath !== undefined) await rm(job.audioPath, { force: true });
    res.json({ id, object: 'transcription.job.deleted', deleted: true });
  });

  return router;
}
