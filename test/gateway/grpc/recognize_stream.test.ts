import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { GatewayError, WorkerBusyError } from '../../../gateway/src/errors.js';
import { createWorkerPool, type WorkerPool } from '../../../gateway/src/grpc/pool.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type { StreamSettings, TranscriptEvent } from '../../../gateway/src/transcript.js';
import { startFakeWorker, type FakeWorker } from '../support/fake_worker.js';
import { waitFor } from '../support/harness.js';

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
      'segment',
      'progress',
      'segment',
      'progress',
      'summary',
    ]);
    const first = received[0];
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
      expect(pool.acquire().info).toMatchObject({ modelName: 'tiny.en', maxStreams: 4 });
      pool.upsert('local', second.address);
      expect(pool.health().workers).toEqual([
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
