/**
 * Jobs: a file transcribed in the background, with progress. Domain types and their JSON
 * rendering for the API (pure; no SQLite, no HTTP).
 */
import type { ResponseFormat, TimestampGranularity } from '../http/response_formats.js';
import type { FileTranscript, Task } from '../transcript.js';

/** Where a job is in its life; the last three are final. */
export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/** One of {@link JOB_STATUSES}. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Whether a job in `status` is done for good (its audio is gone, its events are complete). */
export function isFinalStatus(status: JobStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** What the client asked for: the fields of `/v1/audio/transcriptions` plus `task`. */
export interface JobParams {
  readonly task: Task;
  readonly languageCode: string | undefined;
  readonly model: string | undefined;
  readonly prompt: string | undefined;
  readonly temperature: number;
  /** The format `GET /v1/jobs/{id}/result` answers in when the query names none. */
  readonly responseFormat: ResponseFormat;
  readonly granularities: readonly TimestampGranularity[];
}

/** Why a job failed. */
export interface JobError {
  /** Stable code (a `GatewayError.code`). */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
}

/** One job as stored. Times are Unix ms. */
export interface JobRecord {
  readonly id: string;
  readonly status: JobStatus;
  /** The upload's name, or the URL's last path segment. */
  readonly filename: string;
  readonly params: JobParams;
  readonly createdAtMs: number;
  /** When the latest run started. */
  readonly startedAtMs: number | undefined;
  readonly finishedAtMs: number | undefined;
  /** The stored audio while the job may still run; undefined once removed. */
  readonly audioPath: string | undefined;
  readonly audioBytes: number;
  /** Audio transcribed so far, in ms. */
  readonly processedMs: number;
  /** Audio duration, in ms; 0 until the decoder has read it. */
  readonly totalMs: number;
  /** Runs started (a restart or a busy worker means more than one). */
  readonly attempts: number;
  /** A queued job is not started before this (a retry's back-off). */
  readonly notBeforeMs: number;
  readonly error: JobError | undefined;
  /** Called when the job ends; undefined means none. */
  readonly webhookUrl: string | undefined;
  /** Correlation id of the request that created the job. */
  readonly requestId: string;
}

/** A job about to be stored (queued). */
export interface NewJob {
  readonly id: string;
  readonly filename: string;
  readonly params: JobParams;
  readonly audioPath: string;
  readonly audioBytes: number;
  readonly webhookUrl: string | undefined;
  readonly requestId: string;
  readonly createdAtMs: number;
}

/** Kinds of job events, as SSE `event:` names and WebSocket `event` fields. */
export type JobEventType = 'status' | 'progress' | 'segment' | 'done';

/** One stored event; `id` rises by one per job and is the SSE `id:`. */
export interface JobEvent {
  readonly id: number;
  readonly type: JobEventType;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The job's `progress`: audio done over audio total, in [0, 1]. */
export function progressOf(job: Pick<JobRecord, 'status' | 'processedMs' | 'totalMs'>): number {
  if (job.status === 'completed') return 1;
  if (job.totalMs <= 0) return 0;
  return Math.min(1, Math.max(0, job.processedMs / job.totalMs));
}

const unixSeconds = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.floor(ms / 1000);

/** The job as the API shows it (`object: "transcription.job"`). */
export interface JobJson {
  readonly id: string;
  readonly object: 'transcription.job';
  readonly status: JobStatus;
  readonly filename: string;
  readonly task: Task;
  readonly response_format: ResponseFormat;
  readonly progress: number;
  readonly audio_seconds_done: number;
  readonly audio_seconds_total: number | null;
  readonly created_at: number;
  readonly started_at: number | null;
  readonly finished_at: number | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** Renders a job for the API. */
export function jobJson(job: JobRecord): JobJson {
  return {
    id: job.id,
    object: 'transcription.job',
    status: job.status,
    filename: job.filename,
    task: job.params.task,
    response_format: job.params.responseFormat,
    progress: progressOf(job),
    audio_seconds_done: job.processedMs / 1000,
    audio_seconds_total: job.totalMs > 0 ? job.totalMs / 1000 : null,
    created_at: unixSeconds(job.createdAtMs) ?? 0,
    started_at: unixSeconds(job.startedAtMs),
    finished_at: unixSeconds(job.finishedAtMs),
    error: job.error === undefined ? null : { code: job.error.code, message: job.error.message },
  };
}

/** The stored transcript of a completed job. */
export type JobResult = FileTranscript;
