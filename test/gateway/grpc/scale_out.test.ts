/**
 * Several workers behind one pool, over real gRPC: the pick by reported load, a refused
 * stream sent to the next worker, retiring a worker, and DNS discovery.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { WorkerBusyError } from '../../../gateway/src/errors.js';
import { startWorkerDiscovery } from '../../../gateway/src/grpc/discovery.js';
import { createWorkerPool, type WorkerPool } from '../../../gateway/src/grpc/pool.js';
import { parseWorkerTarget, type WorkerTarget } from '../../../gateway/src/grpc/targets.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type { ResolvedAddress } from '../../../gateway/src/net/resolve.js';
import type { TranscriptEvent } from '../../../gateway/src/transcript.js';
import { FAKE_LOAD, startFakeWorker, type FakeWorker } from '../support/fake_worker.js';
import { PLAIN_SETTINGS } from '../support/fixtures.js';
import { waitFor } from '../support/harness.js';
import { createMemoryLogger } from '../support/memory_logger.js';

const FILE = { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false } as const;
const BUSY = { code: grpc.status.RESOURCE_EXHAUSTED, details: 'the worker is full' } as const;
const DRAINING = { code: grpc.status.UNAVAILABLE, details: 'the worker is shutting down' } as const;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function worker(options: Parameters<typeof startFakeWorker>[0] = {}): Promise<FakeWorker> {
  const started = await startFakeWorker(options);
  cleanups.push(() => {
    started.kill();
  });
  return started;
}

function pool(logger = createSilentLogger()): WorkerPool {
  const created = createWorkerPool({ logger, keepaliveMs: 300_000, healthRetryMs: 100 });
  cleanups.push(() => {
    created.close();
  });
  return created;
}

/** Every worker of the pool serving and its load read. */
async function ready(workers: WorkerPool, count: number): Promise<void> {
  await waitFor(() => {
    const listed = workers.health().workers;
    return (
      listed.length === count && listed.every((w) => w.state === 'serving' && w.load !== undefined)
    );
  });
}

/** Sends 0.1 s of audio, half-closes and collects the events (or the error). */
async function transcribe(
  workers: WorkerPool,
  requestId: string,
): Promise<{ events: TranscriptEvent[]; error: unknown }> {
  const stream = workers.acquire().startStream(FILE, { requestId, timeoutMs: 10_000 });
  const events: TranscriptEvent[] = [];
  try {
    await stream.write(Buffer.alloc(3200));
    stream.end();
    for await (const event of stream) events.push(event);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

const load = (activeStreams: number, maxStreams = 4): typeof FAKE_LOAD => ({
  ...FAKE_LOAD,
  active_streams: activeStreams,
  max_streams: maxStreams,
  live_cycle_ms: 0,
  max_live_cycle_ms: 0,
});

describe('scale-out: picking a worker', () => {
  it('picks by the load each worker reports, counting the streams opened since', async () => {
    const busy = await worker({ load: load(3), script: { isHanging: true } });
    const idle = await worker({ load: load(0), script: { isHanging: true } });
    const workers = pool();
    workers.upsert('busy', busy.address);
    workers.upsert('idle', idle.address);
    await ready(workers, 2);
    // Other gateways' streams count: `busy` reports 3 of 4, so `idle` gets streams until it
    // holds as many (3 of 4 too), and the tie goes to the worker with fewer of ours.
    const streams = Array.from({ length: 4 }, (_, i) =>
      workers.acquire().startStream(FILE, { requestId: `pick-${i}`, timeoutMs: 10_000 }),
    );
    await waitFor(() => idle.sessions.length + busy.sessions.length === 4);
    expect([idle.sessions.length, busy.sessions.length]).toEqual([3, 1]);
    for (const stream of streams) stream.cancel();
  });

  it('sends a stream the first worker refuses (full, draining) to the next one', async () => {
    const full = await worker({ load: load(0), script: { failOnConfig: BUSY } });
    const draining = await worker({ load: load(1), script: { failOnConfig: DRAINING } });
    const spare = await worker({ load: load(2) });
    const { logger, entries } = createMemoryLogger();
    const workers = pool(logger);
    workers.upsert('full', full.address);
    workers.upsert('draining', draining.address);
    workers.upsert('spare', spare.address);
    await ready(workers, 3);

    const { events, error } = await transcribe(workers, 'moved');
    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'segment')).toHaveLength(2);
    expect(events.at(-1)?.type).toBe('summary');
    // Tried in order of load; each saw the config, only the last one the audio.
    expect([full, draining, spare].map((w) => w.sessions.map((s) => s.audioBytes))).toEqual([
      [0],
      [0],
      [3200],
    ]);
    expect(
      entries
        .filter((e) => e.message === 'worker refused the stream; trying another')
        .map((e) => [e.worker, e.next_worker]),
    ).toEqual([
      ['full', 'draining'],
      ['draining', 'spare'],
    ]);
  });

  it('answers busy only when every worker refused', async () => {
    const a = await worker({ script: { failOnConfig: { ...BUSY, retryAfterMs: 4000 } } });
    const b = await worker({ script: { failOnConfig: BUSY } });
    const workers = pool();
    workers.upsert('a', a.address);
    workers.upsert('b', b.address);
    await ready(workers, 2);
    const { error } = await transcribe(workers, 'refused');
    expect(error).toBeInstanceOf(WorkerBusyError);
    expect((error as WorkerBusyError).httpStatus).toBe(503);
    expect(a.sessions.length + b.sessions.length).toBe(2);
  });
});

describe('scale-out: retiring a worker', () => {
  it('gives a retired worker no new work and forgets it once its streams end', async () => {
    const old = await worker({ load: load(0), script: { isHanging: true } });
    const fresh = await worker({ load: load(2) });
    const workers = pool();
    workers.upsert('old', old.address);
    workers.upsert('fresh', fresh.address);
    await ready(workers, 2);
    const running = workers.acquire().startStream(FILE, { requestId: 'r', timeoutMs: 10_000 });
    await running.write(Buffer.alloc(3200));
    expect(old.sessions).toHaveLength(1);

    workers.retire('old');
    expect(workers.health().workers.map((w) => w.id)).toEqual(['old', 'fresh']);
    expect((await transcribe(workers, 'after')).error).toBeUndefined();
    expect(fresh.sessions).toHaveLength(1);
    expect(old.sessions).toHaveLength(1);

    running.cancel();
    await running.finished;
    await waitFor(() => workers.health().workers.length === 1);
    expect(workers.health().workers.map((w) => w.id)).toEqual(['fresh']);
  });
});

describe('scale-out: DNS discovery', () => {
  it('follows a dns:/// name as it gains and loses addresses', async () => {
    // Two workers on one port, as replicas behind one name are: 127.0.0.1 and 127.0.0.2.
    const first = await worker({ host: '127.0.0.1', load: load(1), script: { isHanging: true } });
    const second = await worker({ host: '127.0.0.2', port: first.port, load: load(0) });
    const target = parseWorkerTarget(`dns:///workers.test:${first.port}`) as WorkerTarget;
    let answer: readonly ResolvedAddress[] | Error = [{ address: '127.0.0.1', family: 4 }];
    const asked: string[] = [];
    const { logger, entries } = createMemoryLogger();
    const workers = pool();
    const discovery = startWorkerDiscovery({
      targets: [target],
      pool: workers,
      resolve: (hostname) => {
        asked.push(hostname);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
      intervalMs: 3_600_000,
      logger,
    });
    cleanups.push(() => {
      discovery.stop();
    });
    await discovery.refresh();
    await ready(workers, 1);
    const held = workers.acquire().startStream(FILE, { requestId: 'held', timeoutMs: 10_000 });
    await held.write(Buffer.alloc(3200));

    // A replica added: it joins and, idle, gets the next stream.
    answer = [
      { address: '127.0.0.1', family: 4 },
      { address: '127.0.0.2', family: 4 },
    ];
    await discovery.refresh();
    await ready(workers, 2);
    expect((await transcribe(workers, 'to-new')).error).toBeUndefined();
    expect([first.sessions.length, second.sessions.length]).toEqual([1, 1]);

    // The name fails to resolve: the workers it had stay.
    answer = new Error('queryA ESERVFAIL workers.test');
    await discovery.refresh();
    await discovery.refresh();
    expect(workers.health().workers).toHaveLength(2);
    expect(
      entries.filter((e) => e.message.startsWith('cannot resolve the worker name')),
    ).toHaveLength(1);

    // The first replica leaves DNS: retired, kept until its stream ends, then gone.
    answer = [{ address: '127.0.0.2', family: 4 }];
    await discovery.refresh();
    expect(workers.health().workers).toHaveLength(2);
    expect((await transcribe(workers, 'after-scale-down')).error).toBeUndefined();
    expect(second.sessions).toHaveLength(2);
    held.cancel();
    await waitFor(() => workers.health().workers.length === 1);
    expect(workers.health().workers[0]?.address).toBe(`127.0.0.2:${first.port}`);
    expect(new Set(asked)).toEqual(new Set(['workers.test']));
  });
});
