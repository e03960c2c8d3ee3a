import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobParams, NewJob } from '../../../gateway/src/jobs/job.js';
import { openSqliteJobStore, SCHEMA_VERSION } from '../../../gateway/src/jobs/store.js';
import { finalSegment } from '../support/fake_stream.js';

const PARAMS: JobParams = {
  task: 'transcribe',
  languageCode: 'en',
  model: undefined,
  prompt: undefined,
  temperature: 0,
  responseFormat: 'json',
  granularities: [],
};

function newJob(id: string, createdAtMs: number, audioBytes = 100): NewJob {
  return {
    id,
    filename: `${id}.wav`,
    params: PARAMS,
    audioPath: `/data/audio/${id}`,
    audioBytes,
    webhookUrl: undefined,
    requestId: `req-${id}`,
    createdAtMs,
  };
}

describe('SQLite job store', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'job-store-'));
    file = path.join(dir, 'jobs.sqlite');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a versioned schema in WAL mode', () => {
    openSqliteJobStore(file).close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('refuses a database written by a newer schema', () => {
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteJobStore(file)).toThrow(/newer than this gateway/);
  });

  it('claims the oldest queued job whose back-off has passed', () => {
    const store = openSqliteJobStore(file);
    store.create([newJob('a', 1000), newJob('b', 2000)]);
    store.requeue('a', 10_000);
    const claimed = store.claimNext(5000);
    expect(claimed?.id).toBe('b');
    expect(claimed?.status).toBe('running');
    expect(claimed?.attempts).toBe(1);
    expect(store.claimNext(5000)).toBeUndefined();
    expect(store.claimNext(10_000)?.id).toBe('a');
    store.close();
  });

  it('survives a reopen: running jobs are queued again with their events of that run dropped', () => {
    const first = openSqliteJobStore(file);
    first.create([newJob('a', 1000)]);
    first.appendEvent('a', 'status', { status: 'queued' });
    first.claimNext(2000);
    first.appendEvent('a', 'status', { status: 'running' });
    first.setProgress('a', 5000, 10_000);
    first.close(); // as a killed gateway leaves it

    const second = openSqliteJobStore(file);
    expect(second.get('a')?.status).toBe('running');
    expect(second.requeueRunning()).toEqual(['a']);
    const job = second.get('a');
    expect(job?.status).toBe('queued');
    expect(job?.processedMs).toBe(0);
    expect(job?.totalMs).toBe(10_000);
    // Event ids keep rising, so a follower's Last-Event-ID stays meaningful.
    expect(second.events('a', 0)).toEqual([]);
    expect(second.appendEvent('a', 'status', { status: 'queued' }).id).toBe(3);
    expect(second.claimNext(3000)?.attempts).toBe(2);
    second.close();
  });

  it('keeps the result, forgets the audio and counts the quota only for unfinished jobs', () => {
    const store = openSqliteJobStore(file);
    store.create([newJob('a', 1000, 300), newJob('b', 2000, 500)]);
    expect(store.audioBytes()).toBe(800);
    store.claimNext(3000);
    const result = {
      task: 'transcribe' as const,
      segments: [finalSegment(0, ' Hello.')],
      summary: {
        durationMs: 1000,
        durationAfterVadMs: 1000,
        languageCode: 'en',
        languageProbability: 1,
        options: undefined,
        model: 'tiny.en',
      },
      audioMs: 1000,
    };
    store.setProgress('a', 400, 1000);
    store.finish('a', 'completed', 4000, { result });
    expect(store.audioBytes()).toBe(500);
    const done = store.get('a');
    expect(done?.audioPath).toBeUndefined();
    expect(done?.processedMs).toBe(1000);
    expect(done?.finishedAtMs).toBe(4000);
    expect(store.result('a')).toEqual(JSON.parse(JSON.stringify(result)));
    store.close();
  });

  it('finds finished jobs past retention, oldest first, and deletes them with their events', () => {
    const store = openSqliteJobStore(file);
    store.create([newJob('a', 1), newJob('b', 2), newJob('c', 3)]);
    store.finish('a', 'failed', 100, { error: { code: 'x', message: 'y' } });
    store.finish('b', 'cancelled', 50, {});
    store.appendEvent('b', 'done', { status: 'cancelled' });
    expect(store.finishedBefore(120, 10)).toEqual(['b', 'a']);
    expect(store.finishedBefore(60, 10)).toEqual(['b']);
    store.delete('b');
    expect(store.get('b')).toBeUndefined();
    expect(store.events('b', 0)).toEqual([]);
    expect(store.get('a')?.error).toEqual({ code: 'x', message: 'y' });
    expect(store.list(10).map((job) => job.id)).toEqual(['c', 'a']);
    expect(store.count('queued')).toBe(1);
    store.close();
  });
});
