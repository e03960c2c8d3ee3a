import type { ChildProcess } from 'node:child_process';

import { afterEach, describe, expect, it } from 'vitest';

import { WorkerUnavailableError, WorkerUnresponsiveError } from '../../../gateway/src/errors.js';
import { createWorkerPool, type WorkerPool } from '../../../gateway/src/grpc/pool.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type { TranscriptEvent } from '../../../gateway/src/transcript.js';
import { startFakeWorker } from '../support/fake_worker.js';
import { waitFor } from '../support/harness.js';
import { killProcess, spawnFakeWorker } from '../support/processes.js';
import { PLAIN_SETTINGS } from '../support/fixtures.js';

async function drain(stream: AsyncIterable<TranscriptEvent>): Promise<unknown> {
  try {
    const events: TranscriptEvent[] = [];
    for await (const event of stream) events.push(event);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('WorkerPool streams', () => {
  it('holds many streams on one worker without a listener-leak warning', async () => {
    const worker = await startFakeWorker({ script: { isHanging: true } });
    const pool = createWorkerPool({ logger: createSilentLogger(), keepaliveMs: 300_000 });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      pool.upsert('w', worker.address);
      await waitFor(() => pool.health().isReady);
      const settings = { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false } as const;
      const streams = Array.from({ length: 20 }, (_, i) =>
        pool.acquire().startStream(settings, { requestId: `many-${i}`, timeoutMs: 10_000 }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const stream of streams) stream.cancel();
      await Promise.all(streams.map((stream) => stream.finished));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      pool.close();
      await worker.stop();
    }
  });
});

describe('WorkerPool liveness', () => {
  let child: ChildProcess | undefined;
  let pool: WorkerPool | undefined;

  afterEach(async () => {
    pool?.close();
    if (child !== undefined) {
      child.kill('SIGCONT');
      await killProcess(child);
    }
  });

  it('fails the streams of a worker that stops answering, and serves again once it answers', async () => {
    const worker = await spawnFakeWorker([]);
    child = worker.child;
    pool = createWorkerPool({
      logger: createSilentLogger(),
      keepaliveMs: 300_000,
      healthRetryMs: 100,
      livenessIntervalMs: 100,
      livenessTimeoutMs: 500,
    });
    pool.upsert('w', worker.address);
    await waitFor(() => pool?.health().isReady === true);
    const stream = pool.acquire().startStream(
      { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false },
      {
        requestId: 'hung-1',
        timeoutMs: 60_000,
      },
    );
    await stream.write(Buffer.alloc(3200));
    const failed = drain(stream);

    const stoppedAt = performance.now();
    child.kill('SIGSTOP');
    const failure = await failed;
    const elapsedMs = performance.now() - stoppedAt;
    expect(failure).toBeInstanceOf(WorkerUnresponsiveError);
    expect(failure).toBeInstanceOf(WorkerUnavailableError);
    expect((failure as Error).message).toBe(
      'The transcription worker stopped responding (no answer to a health check within 0.5 s); retry shortly.',
    );
    // At most one interval plus one deadline after the stop (and some slack for a busy host).
    expect(elapsedMs).toBeLessThan(100 + 500 + 1000);
    await expect(stream.write(Buffer.alloc(2))).rejects.toBeInstanceOf(WorkerUnresponsiveError);
    expect(pool.health()).toMatchObject({
      isReady: false,
      reason: 'worker w is not responding (missed its health check)',
      workers: [{ id: 'w', state: 'unresponsive' }],
    });
    expect(() => pool?.acquire()).toThrow(/not responding/);

    child.kill('SIGCONT');
    await waitFor(() => pool?.health().isReady === true);
    const again = pool.acquire().startStream(
      { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false },
      {
        requestId: 'hung-2',
        timeoutMs: 10_000,
      },
    );
    await again.write(Buffer.alloc(3200));
    again.end();
    expect(await drain(again)).toBeUndefined();
  });
});
