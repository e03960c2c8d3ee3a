/**
 * The job store: jobs, their events and their results in one SQLite file (better-sqlite3,
 * WAL, synchronous calls of a few µs on the event loop). Everything else reaches it through
 * {@link JobStore}, so a shared database can replace SQLite when several gateways must share
 * jobs. The schema is versioned with `PRAGMA user_version` and migrated at open.
 */
import Database, { type Connection } from 'better-sqlite3';

import type {
  JobError,
  JobEvent,
  JobEventType,
  JobParams,
  JobRecord,
  JobResult,
  JobStatus,
  NewJob,
} from './job.js';

/** What the job runner and the routes need from storage. */
export interface JobStore {
  /** Stores queued jobs, all or none. */
  create(jobs: readonly NewJob[]): void;
  get(id: string): JobRecord | undefined;
  /** Newest first. */
  list(limit: number): JobRecord[];
  /** Jobs in `status`. */
  count(status: JobStatus): number;
  /** Bytes of job audio on disk (jobs that are not final). */
  audioBytes(): number;
  /**
   * Marks the oldest queued job whose back-off has passed as running (one more attempt,
   * progress reset) and returns it.
   */
  claimNext(nowMs: number): JobRecord | undefined;
  /** Records progress of a running job. */
  setProgress(id: string, processedMs: number, totalMs: number): void;
  /** Appends an event; returns it with its id. */
  appendEvent(id: string, type: JobEventType, data: Record<string, unknown>): JobEvent;
  /** The job's events with an id above `afterId`, in order. */
  events(id: string, afterId: number): JobEvent[];
  /**
   * Puts a job back in the queue (after a restart, a shutdown or a busy worker): its events
   * of the abandoned run are dropped (ids keep rising), progress is reset.
   */
  requeue(id: string, notBeforeMs: number, error?: JobError): void;
  /** Requeues every job left `running` (by a gateway that stopped); returns their ids. */
  requeueRunning(): string[];
  /** Ends a job; the audio path is forgotten (the caller removes the file). */
  finish(
    id: string,
    status: 'completed' | 'failed' | 'cancelled',
    nowMs: number,
    outcome: { readonly result?: JobResult; readonly error?: JobError },
  ): void;
  /** The transcript of a completed job. */
  result(id: string): JobResult | undefined;
  /** Removes a job, its events and its result. */
  delete(id: string): void;
  /** Final jobs that finished before `beforeMs`, oldest first, at most `limit`. */
  finishedBefore(beforeMs: number, limit: number): string[];
  close(): void;
}

/** The schema version this code writes; older files are migrated at open. */
export const SCHEMA_VERSION = 1;

const MIGRATIONS: readonly string[] = [
  // 0 → 1: the first schema.
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    filename TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    started_at_ms INTEGER,
    finished_at_ms INTEGER,
    audio_path TEXT,
    audio_bytes INTEGER NOT NULL,
    processed_ms INTEGER NOT NULL DEFAULT 0,
    total_ms INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before_ms INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    webhook_url TEXT,
    request_id TEXT NOT NULL,
    last_event_id INTEGER NOT NULL DEFAULT 0,
    result TEXT
  );
  CREATE INDEX jobs_by_status ON jobs (status, created_at_ms);
  CREATE INDEX jobs_by_created ON jobs (created_at_ms);
  CREATE TABLE job_events (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, event_id)
  ) WITHOUT ROWID;
  `,
];

interface JobRow {
  id: string;
  status: JobStatus;
  filename: string;
  params: string;
  created_at_ms: number;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  audio_path: string | null;
  audio_bytes: number;
  processed_ms: number;
  total_ms: number;
  attempts: number;
  not_before_ms: number;
  error_code: string | null;
  error_message: string | null;
  webhook_url: string | null;
  request_id: string;
}

const JOB_COLUMNS =
  'id, status, filename, params, created_at_ms, started_at_ms, finished_at_ms, audio_path, ' +
  'audio_bytes, processed_ms, total_ms, attempts, not_before_ms, error_code, error_message, ' +
  'webhook_url, request_id';

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    status: row.status,
    filename: row.filename,
    params: JSON.parse(row.params) as JobParams,
    createdAtMs: row.created_at_ms,
    startedAtMs: row.started_at_ms ?? undefined,
    finishedAtMs: row.finished_at_ms ?? undefined,
    audioPath: row.audio_path ?? undefined,
    audioBytes: row.audio_bytes,
    processedMs: row.processed_ms,
    totalMs: row.total_ms,
    attempts: row.attempts,
    notBeforeMs: row.not_before_ms,
    error:
      row.error_code === null
        ? undefined
        : { code: row.error_code, message: row.error_message ?? '' },
    webhookUrl: row.webhook_url ?? undefined,
    requestId: row.request_id,
  };
}

function migrate(db: Connection): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `The job database has schema version ${version}, newer than this gateway's ` +
        `${SCHEMA_VERSION}; use a newer gateway or another GATEWAY_DATA_DIR.`,
    );
  }
  for (let next = version; next < SCHEMA_VERSION; next += 1) {
    const step = MIGRATIONS[next];
    if (step === undefined) throw new Error(`missing job store migration ${next}`);
    db.transaction(() => {
      db.exec(step);
      db.pragma(`user_version = ${next + 1}`);
    })();
  }
}

/**
 * Opens (creating or migrating) the SQLite job store at `filePath` (`:memory:` for tests).
 *
 * @throws Error when the file is not a job database this version can use.
 */
export function openSqliteJobStore(filePath: string): JobStore {
  const db = new Database(filePath, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  // WAL with NORMAL loses at most the last transactions on power loss, never consistency.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);

  const selectJob = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`);
  const insertJob = db.prepare(
    `INSERT INTO jobs (id, status, filename, params, created_at_ms, audio_path, audio_bytes,
       webhook_url, request_id)
     VALUES (@id, 'queued', @filename, @params, @createdAtMs, @audioPath, @audioBytes,
       @webhookUrl, @requestId)`,
  );
  const selectNext = db.prepare(
    `SELECT id FROM jobs WHERE status = 'queued' AND not_before_ms <= ?
     ORDER BY created_at_ms, rowid LIMIT 1`,
  );
  const markRunning = db.prepare(
    `UPDATE jobs SET status = 'running', started_at_ms = ?, attempts = attempts + 1,
       processed_ms = 0, error_code = NULL, error_message = NULL WHERE id = ?`,
  );
  const bumpEventId = db.prepare(
    'UPDATE jobs SET last_event_id = last_event_id + 1 WHERE id = ? RETURNING last_event_id',
  );
  const insertEvent = db.prepare(
    'INSERT INTO job_events (job_id, event_id, type, data) VALUES (?, ?, ?, ?)',
  );
  const selectEvents = db.prepare(
    'SELECT event_id, type, data FROM job_events WHERE job_id = ? AND event_id > ? ORDER BY event_id',
  );
  const deleteEvents = db.prepare('DELETE FROM job_events WHERE job_id = ?');

  const claim = db.transaction((nowMs: number): JobRecord | undefined => {
    const next = selectNext.get(nowMs) as { id: string } | undefined;
    if (next === undefined) return undefined;
    markRunning.run(nowMs, next.id);
    const row = selectJob.get(next.id) as JobRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  });
  const append = db.transaction(
    (id: string, type: JobEventType, data: Record<string, unknown>): JobEvent => {
      const bumped = bumpEventId.get(id) as { last_event_id: number } | undefined;
      if (bumped === undefined) throw new Error(`no job ${id}`);
      insertEvent.run(id, bumped.last_event_id, type, JSON.stringify(data));
      return { id: bumped.last_event_id, type, data };
    },
  );
  const requeueOne = db.transaction((id: string, notBeforeMs: number, error?: JobError) => {
    deleteEvents.run(id);
    db.prepare(
      `UPDATE jobs SET status = 'queued', processed_ms = 0, not_before_ms = ?,
         error_code = ?, error_message = ? WHERE id = ?`,
    ).run(notBeforeMs, error?.code ?? null, error?.message ?? null, id);
  });

  return {
    create: db.transaction((jobs: readonly NewJob[]) => {
      for (const job of jobs) {
        insertJob.run({
          id: job.id,
          filename: job.filename,
          params: JSON.stringify(job.params),
          createdAtMs: job.createdAtMs,
          audioPath: job.audioPath,
          audioBytes: job.audioBytes,
          webhookUrl: job.webhookUrl ?? null,
          requestId: job.requestId,
        });
      }
    }),
    get(id) {
      const row = selectJob.get(id) as JobRow | undefined;
      return row === undefined ? undefined : toRecord(row);
    },
    list(limit) {
      const rows = db
        .prepare(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY created_at_ms DESC, rowid DESC LIMIT ?`)
        .all(limit) as JobRow[];
      return rows.map(toRecord);
    },
    count(status) {
      const row = db.prepare('SELECT count(*) AS n FROM jobs WHERE status = ?').get(status) as {
        n: number;
      };
      return row.n;
    },
    audioBytes() {
      const row = db
        .prepare('SELECT coalesce(sum(audio_bytes), 0) AS n FROM jobs WHERE audio_path IS NOT NULL')
        .get() as { n: number };
      return row.n;
    },
    claimNext: (nowMs) => claim(nowMs),
    setProgress(id, processedMs, totalMs) {
      db.prepare('UPDATE jobs SET processed_ms = ?, total_ms = ? WHERE id = ?').run(
        Math.round(processedMs),
        Math.round(totalMs),
        id,
      );
    },
    appendEvent: (id, type, data) => append(id, type, data),
    events(id, afterId) {
      const rows = selectEvents.all(id, afterId) as {
        event_id: number;
        type: JobEventType;
        data: string;
      }[];
      return rows.map((row) => ({
        id: row.event_id,
        type: row.type,
        data: JSON.parse(row.data) as Record<string, unknown>,
      }));
    },
    requeue: (id, notBeforeMs, error) => {
      requeueOne(id, notBeforeMs, error);
    },
    requeueRunning: db.transaction((): string[] => {
      const rows = db.prepare("SELECT id FROM jobs WHERE status = 'running'").all() as {
        id: string;
      }[];
      for (const { id } of rows) requeueOne(id, 0);
      return rows.map((row) => row.id);
    }),
    finish(id, status, nowMs, outcome) {
      db.prepare(
        `UPDATE jobs SET status = ?, finished_at_ms = ?, audio_path = NULL,
           processed_ms = CASE WHEN ? = 'completed' THEN total_ms ELSE processed_ms END,
           error_code = ?, error_message = ?, result = ? WHERE id = ?`,
      ).run(
        status,
        nowMs,
        status,
        outcome.error?.code ?? null,
        outcome.error?.message ?? null,
        outcome.result === undefined ? null : JSON.stringify(outcome.result),
        id,
      );
    },
    result(id) {
      const row = db.prepare('SELECT result FROM jobs WHERE id = ?').get(id) as
        { result: string | null } | undefined;
      return row?.result == null ? undefined : (JSON.parse(row.result) as JobResult);
    },
    delete(id) {
      db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
    },
    finishedBefore(beforeMs, limit) {
      const rows = db
        .prepare(
          `SELECT id FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')
             AND finished_at_ms < ? ORDER BY finished_at_ms LIMIT ?`,
        )
        .all(beforeMs, limit) as { id: string }[];
      return rows.map((row) => row.id);
    },
    close() {
      db.close();
    },
  };
}
