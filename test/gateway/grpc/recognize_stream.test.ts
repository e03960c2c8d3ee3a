import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { GatewayError, WorkerBusyError } from '../../../gateway/src/errors.js';
import { createWorkerPool, type WorkerPool } from '../../../gateway/src/grpc/pool.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type {
  StreamSettings,
  TranscriptEvent,
  WorkerLoad,
} from '../../../gateway/src/transcript.js';
import { FAKE_LOAD, startFakeWorker, type FakeWorker } from '../support/fake_worker.js';
import { waitFor } from '../support/harness.js';
import { createMemoryLogger } from '../support/memory_logger.js';

const SETTINGS: StreamSettings = {
  mode: 'file',
  task: 'transcribe',
  languageCode: 'en',
  model: undefined,
  prompt: undefined,
  temperature: 0,
  hasWordTimestamps: true,
  hasInterimResults: false,
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** {@link FAKE_LOAD} as the pool maps it. */
const FAKE_LOAD_MAPPED: WorkerLoad = {
  activeStreams: 1,
  maxStreams: 4,
  queueDepth: 2,
  maxQueueDepth: 16,
  realTimeFactor: 0.3,
  liveStreams: 1,
  liveCycleMs: 420,
  maxLiveCycleMs: 1500,
  fileBacklogMs: 3000,
  meanBatchSize: 1.7,
};

async function collect(stream: AsyncIterable<TranscriptEvent>): Promise<TranscriptEvent[]> {
  const events: TranscriptEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe('RecognizeStream', () => {
  let worker: FakeWorker;
  let pool: WorkerPool;

  beforeAll(async () => {
    worker = await startFakeWorker();
    pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
    });
    pool.upsert('w', worker.address);
    await waitFor(() => pool.health().isReady);
  });

  afterEach(() => {
    worker.script = {};
  });

  afterAll(async () => {
    pool.close();
    await worker.stop();
  });

  it('sends config then audio, waits for buffer space, and yields domain events', async () => {
    const stream = pool.acquire().startStream(SETTINGS, { requestId: 'rs-1', timeoutMs: 10_000 });
    const events = collect(stream);
    // 2 MB in 32 kB chunks fills gRPC's buffers, so writes must wait for 'drain'.
    for (let i = 0; i < 64; i += 1) await stream.write(Buffer.alloc(32_000, i));
    stream.end();
    stream.end();
    const received = await events;
    const session = worker.sessions.at(-1);
    expect(session).toMatchObject({ audioBytes: 64 * 32_000, chunks: 64, requestId: 'rs-1' });
    expect(session?.config?.language_code).toBe('en');
    expect(received.map((e) => e.type)).toEqual([
      'progress', // the ack
      'segment',
      'progress',
      'segment',
      'progress',
      'summary',
    ]);
    const first = received[1];
    expect(first?.type === 'segment' ? first.segment : undefined).toMatchObject({
      index: 0,
      text: ' Hello world.',
      isFinal: true,
      startMs: 0,
      endMs: 1000,
      languageProbability: 0.98,
      avgLogprob: -0.25,
      compressionRatio: 1.2,
      words: [
        { word: ' Hello', startMs: 0, endMs: 500, probability: 0.9 },
        { word: ' world.', startMs: 500, endMs: 1000, probability: 0.9 },
      ],
    });
    const summary = received.at(-1);
    expect(summary?.type === 'summary' ? summary.summary : undefined).toMatchObject({
      durationMs: 64_000,
      languageCode: 'en',
      model: 'tiny.en',
      options: { beam_size: 5, temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1], initial_prompt: null },
    });
  });

  it('throws the mapped error from the iteration and from later writes', async () => {
    worker.script = {
      failOnConfig: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'full', retryAfterMs: 700 },
    };
    const stream = pool.acquire().startStream(SETTINGS, { requestId: 'rs-2', timeoutMs: 10_000 });
    const failure = await collect(stream).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkerBusyError);
    expect((failure as WorkerBusyError).retryAfterMs).toBe(700);
    await expect(stream.write(Buffer.alloc(2))).rejects.toBeInstanceOf(WorkerBusyError);
  });

  it('reports DEADLINE_EXCEEDED as 504', async () => {
    worker.script = { isHanging: true };
    const stream = pool.acquire().startStream(SETTINGS, { requestId: 'rs-3', timeoutMs: 200 });
    await stream.write(Buffer.alloc(3200));
    stream.end();
    const failure = await collect(stream).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayError);
    expect((failure as GatewayError).httpStatus).toBe(504);
  });

  it('cancels the call on the worker side', async () => {
    worker.script = { isHanging: true };
    const stream = pool.acquire().startStream(SETTINGS, { requestId: 'rs-4', timeoutMs: 10_000 });
    await stream.write(Buffer.alloc(3200));
    await waitFor(() => worker.sessions.at(-1)?.requestId === 'rs-4');
    stream.cancel();
    const failure = await collect(stream).catch((error: unknown) => error);
    expect((failure as GatewayError).code).toBe('request_cancelled');
    await waitFor(() => worker.sessions.at(-1)?.isCancelled === true);
  });
});

describe('WorkerPool', () => {
  it('picks the least-loaded serving worker and reports why none serves', async () => {
    const a = await startFakeWorker({ script: { isHanging: true } });
    const b = await startFakeWorker({ script: { isHanging: true }, health: 'NOT_SERVING' });
    const pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
    });
    try {
      expect(pool.health()).toMatchObject({
        isReady: false,
        reason: expect.stringMatching(/no worker/) as unknown,
      });
      pool.upsert('a', a.address);
      pool.upsert('b', b.address);
      await waitFor(() => pool.health().isReady);
      expect(
        pool
          .health()
          .workers.map((w) => w.state)
          .sort(),
      ).toEqual(['not_serving', 'serving']);
      expect(pool.acquire().id).toBe('a');

      b.setHealth('SERVING');
      await waitFor(() => pool.health().workers.every((w) => w.state === 'serving'));
      const busy = pool.acquire();
      const call = busy.startStream(SETTINGS, { requestId: 'p1', timeoutMs: 10_000 });
      expect(pool.acquire().id).not.toBe(busy.id);
      call.cancel();
      await call.finished;

      a.setHealth('NOT_SERVING');
      b.setHealth('NOT_SERVING');
      await waitFor(() => !pool.health().isReady);
      expect(pool.health().reason).toMatch(/not serving/);
      expect(() => pool.acquire()).toThrow(/No transcription worker is ready/);
    } finally {
      pool.close();
      await a.stop();
      await b.stop();
    }
  });

  it('moves a worker to a new address and fetches its info when it serves', async () => {
    const first = await startFakeWorker();
    const second = await startFakeWorker();
    const pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
    });
    try {
      pool.upsert('local', first.address);
      await waitFor(() => pool.health().isReady);
      await waitFor(() => pool.acquire().info !== undefined);
      expect(pool.acquire().info).toMatchObject({ modelName: 'tiny.en', load: { maxStreams: 4 } });
      pool.upsert('local', second.address);
      // A fresh connection: the first worker's load is not carried over.
      expect(pool.health().workers).toStrictEqual([
        { id: 'local', address: second.address, state: 'connecting' },
      ]);
      await waitFor(() => pool.health().isReady);
      pool.remove('local');
      expect(pool.health().isReady).toBe(false);
    } finally {
      pool.close();
      await first.stop();
      await second.stop();
    }
  });
});

describe('WorkerPool load', () => {
  it("reads each serving worker's load and refreshes it periodically", async () => {
    const a = await startFakeWorker();
    const b = await startFakeWorker({
      load: { ...FAKE_LOAD, active_streams: 3, live_cycle_ms: 0 },
    });
    const pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
      loadRefreshMs: 50,
    });
    const loadOf = (id: string): WorkerLoad | undefined =>
      pool.health().workers.find((w) => w.id === id)?.load?.load;
    try {
      pool.upsert('a', a.address);
      pool.upsert('b', b.address);
      await waitFor(() => loadOf('a') !== undefined && loadOf('b') !== undefined);
      expect(loadOf('a')).toEqual(FAKE_LOAD_MAPPED);
      expect(loadOf('b')).toEqual({ ...FAKE_LOAD_MAPPED, activeStreams: 3, liveCycleMs: 0 });
      for (const worker of pool.health().workers) {
        expect(worker.load?.ageMs).toBeGreaterThanOrEqual(0);
        expect(worker.load?.ageMs).toBeLessThan(2000);
      }

      a.load = { ...FAKE_LOAD, active_streams: 2, queue_depth: 7, file_backlog_ms: 12_345 };
      await waitFor(() => loadOf('a')?.fileBacklogMs === 12_345);
      expect(loadOf('a')).toEqual({
        ...FAKE_LOAD_MAPPED,
        activeStreams: 2,
        queueDepth: 7,
        fileBacklogMs: 12_345,
      });
    } finally {
      pool.close();
      await a.stop();
      await b.stop();
    }
  });

  it('refreshes only while the worker serves, keeps the last load, and stops on close', async () => {
    const worker = await startFakeWorker();
    const { logger, entries } = createMemoryLogger();
    const pool = createWorkerPool({
      logger,
      keepaliveMs: 300_000,
      healthRetryMs: 100,
      loadRefreshMs: 50,
    });
    try {
      pool.upsert('w', worker.address);
      await waitFor(() => worker.infoCalls >= 3);

      worker.setHealth('NOT_SERVING');
      await waitFor(() => !pool.health().isReady);
      await sleep(100);
      const whileNotServing = worker.infoCalls;
      await sleep(300);
      expect(worker.infoCalls).toBe(whileNotServing);
      const [kept] = pool.health().workers;
      expect(kept?.state).toBe('not_serving');
      expect(kept?.load?.load).toEqual(FAKE_LOAD_MAPPED);
      expect(kept?.load?.ageMs).toBeGreaterThanOrEqual(250);

      worker.setHealth('SERVING');
      await waitFor(() => worker.infoCalls >= whileNotServing + 3);

      pool.close();
      const loggedAtClose = entries.length;
      await sleep(100);
      const atClose = worker.infoCalls;
      await sleep(300);
      expect(worker.infoCalls).toBe(atClose);
      // No timer survives the pool: nothing more is tried, so nothing more is logged.
      expect(entries.slice(loggedAtClose)).toEqual([]);
    } finally {
      pool.close();
      await worker.stop();
    }
  });

  it('warns once when refreshing fails, logs the rest at debug, and recovers', async () => {
    const worker = await startFakeWorker({
      infoError: { code: grpc.status.INTERNAL, details: 'info broken' },
    });
    const { logger, entries } = createMemoryLogger();
    const pool = createWorkerPool({ logger, keepaliveMs: 300_000, loadRefreshMs: 50 });
    const failures = (level: string): number =>
      entries.filter((e) => e.message === 'GetWorkerInfo failed' && e.level === level).length;
    try {
      pool.upsert('w', worker.address);
      await waitFor(() => worker.infoCalls >= 5);
      expect(failures('warn')).toBe(1);
      expect(failures('debug')).toBeGreaterThanOrEqual(3);
      expect(pool.health().workers[0]?.load).toBeUndefined();

      worker.infoError = undefined;
      await waitFor(() => pool.health().workers[0]?.load !== undefined);
      const calls = worker.infoCalls;
      await waitFor(() => worker.infoCalls >= calls + 3);
      expect(entries.filter((e) => e.message === 'worker info')).toHaveLength(1);
      expect(failures('warn')).toBe(1);
    } finally {
      pool.close();
      await worker.stop();
    }
  });

  it('reads the load only when the worker starts serving when refreshing is off', async () => {
    const worker = await startFakeWorker();
    const pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
      loadRefreshMs: 0,
    });
    try {
      pool.upsert('w', worker.address);
      await waitFor(() => pool.health().workers[0]?.load !== undefined);
      worker.load = { ...FAKE_LOAD, active_streams: 4 };
      await sleep(300);
      expect(worker.infoCalls).toBe(1);
      expect(pool.health().workers[0]?.load?.load.activeStreams).toBe(1);
      expect(pool.health().workers[0]?.load?.ageMs).toBeGreaterThanOrEqual(250);
    } finally {
      pool.close();
      await worker.stop();
    }
  });
});
