import { readFile } from 'node:fs/promises';

import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { WorkerLoadReading } from '../../../gateway/src/grpc/pool.js';
import { combineLoads, type LoadJson } from '../../../gateway/src/http/health.js';
import type { WorkerLoad } from '../../../gateway/src/transcript.js';
import { fixtureDir, IDLE_LOAD, makeSine } from '../support/fixtures.js';
import { startFakeWorker } from '../support/fake_worker.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';
import { freePort, killProcess, spawnFakeWorker } from '../support/processes.js';

let wav: Buffer;

/** The fake worker's default load (`FAKE_LOAD`) as `/health` reports it, without `age_ms`. */
const FAKE_LOAD_JSON = {
  active_streams: 1,
  max_streams: 4,
  live_streams: 1,
  queue_depth: 2,
  max_queue_depth: 16,
  real_time_factor: 0.3,
  live_cycle_ms: 420,
  max_live_cycle_ms: 1500,
  file_backlog_ms: 3000,
  mean_batch_size: 1.7,
};

interface HealthBody {
  status: string;
  service: string;
  reason?: string;
  load?: LoadJson;
}

interface ReadyBody {
  status: string;
  workers: { id: string; state: string; load?: LoadJson }[];
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

beforeAll(async () => {
  wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
});

describe('health endpoints', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("answers healthy with the legacy keys plus the worker's load while it serves", async () => {
    harness = await startHarness();
    const { baseUrl } = harness;
    await waitFor(async () => (await getJson<HealthBody>(`${baseUrl}/health`)).load !== undefined);
    const response = await fetch(`${baseUrl}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as HealthBody;
    expect(body).toEqual({
      status: 'healthy',
      service: 'WhisperLive Hybrid Server',
      load: { ...FAKE_LOAD_JSON, age_ms: expect.any(Number) as number },
    });
    // Read when the worker started serving; the default refresh is every 2 s.
    expect(body.load?.age_ms).toBeGreaterThanOrEqual(0);
    expect(body.load?.age_ms).toBeLessThan(5000);
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);

    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as ReadyBody).workers).toEqual([
      {
        id: 'worker',
        state: 'serving',
        load: { ...FAKE_LOAD_JSON, age_ms: expect.any(Number) as number },
      },
    ]);
  });

  it("follows the worker's load as it changes", async () => {
    harness = await startHarness({ env: { GATEWAY_WORKER_LOAD_REFRESH_MS: '100' } });
    const { baseUrl, worker } = harness;
    if (worker === undefined) throw new Error('no fake worker');
    await waitFor(async () => (await getJson<HealthBody>(`${baseUrl}/health`)).load !== undefined);
    expect((await getJson<HealthBody>(`${baseUrl}/health`)).load).toMatchObject(FAKE_LOAD_JSON);

    worker.load = {
      active_streams: 3,
      max_streams: 4,
      queue_depth: 5,
      max_queue_depth: 16,
      real_time_factor: 0.45,
      live_streams: 2,
      live_cycle_ms: 910,
      max_live_cycle_ms: 1500,
      file_backlog_ms: 60_000,
      mean_batch_size: 2.6,
    };
    await waitFor(
      async () => (await getJson<HealthBody>(`${baseUrl}/health`)).load?.active_streams === 3,
    );
    const body = await getJson<HealthBody>(`${baseUrl}/health`);
    expect(body).toEqual({
      status: 'healthy',
      service: 'WhisperLive Hybrid Server',
      load: {
        active_streams: 3,
        max_streams: 4,
        live_streams: 2,
        queue_depth: 5,
        max_queue_depth: 16,
        real_time_factor: 0.45,
        live_cycle_ms: 910,
        max_live_cycle_ms: 1500,
        file_backlog_ms: 60_000,
        mean_batch_size: 2.6,
        age_ms: expect.any(Number) as number,
      },
    });
    // Refreshed every 100 ms: the reading is recent.
    expect(body.load?.age_ms).toBeLessThan(1500);
    const ready = await getJson<ReadyBody>(`${baseUrl}/readyz`);
    expect(ready.workers[0]?.load).toMatchObject({ active_streams: 3, file_backlog_ms: 60_000 });
  });

  it('keeps the legacy shape while the load is unknown, and adds it once it is read', async () => {
    harness = await startHarness({
      env: { GATEWAY_WORKER_LOAD_REFRESH_MS: '100' },
      worker: { infoError: { code: grpc.status.UNIMPLEMENTED, details: 'no GetWorkerInfo' } },
    });
    const { baseUrl, worker } = harness;
    if (worker === undefined) throw new Error('no fake worker');
    // The pool has asked (and keeps asking) but never got an answer.
    await waitFor(() => worker.infoCalls >= 2);
    const response = await fetch(`${baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toStrictEqual({
      status: 'healthy',
      service: 'WhisperLive Hybrid Server',
    });
    const ready = await getJson<ReadyBody>(`${baseUrl}/readyz`);
    expect(ready.workers).toStrictEqual([{ id: 'worker', state: 'serving' }]);

    worker.infoError = undefined;
    await waitFor(async () => (await getJson<HealthBody>(`${baseUrl}/health`)).load !== undefined);
    expect((await getJson<HealthBody>(`${baseUrl}/health`)).load).toMatchObject(FAKE_LOAD_JSON);
  });

  it('answers 503 with a reason until a worker is reachable, then 200', async () => {
    const port = await freePort();
    harness = await startHarness({ worker: false, workerAddress: `127.0.0.1:${port}` });
    const response = await fetch(`${harness.baseUrl}/health`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'unhealthy', service: 'WhisperLive Hybrid Server' });
    expect(Object.keys(body).sort()).toEqual(['reason', 'service', 'status']);
    expect(typeof body.reason).toBe('string');
    expect((await fetch(`${harness.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${harness.baseUrl}/readyz`)).status).toBe(503);

    const legacy = await fetch(`${harness.baseUrl}/transcribe`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav'),
    });
    expect(legacy.status).toBe(503);
    expect(legacy.headers.get('retry-after')).not.toBeNull();
    expect(await legacy.json()).toMatchObject({ success: false });
    expect(await harness.tempFiles()).toEqual([]);

    const worker = await startFakeWorker({ port });
    try {
      await harness.waitForHealth(200);
      const ok = await fetch(`${harness.baseUrl}/transcribe`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      expect(ok.status).toBe(200);
    } finally {
      await worker.stop();
    }
  });

  it('answers 503 with the worker failure, without Retry-After, once the worker failed for good', async () => {
    harness = await startHarness({ worker: false });
    const { baseUrl, pool } = harness;
    // What the supervisor does when the local worker exits with a configuration error.
    pool.remove('worker');
    const message =
      "model directory '/models/x' is an OpenVINO model directory: set WORKER_ENGINE__BACKEND=openvino";
    pool.fail({ reason: 'configuration', message });
    const reason = `the worker failed to start because of a configuration error: ${message}`;

    const response = await fetch(`${baseUrl}/health`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(await response.json()).toStrictEqual({
      status: 'unhealthy',
      service: 'WhisperLive Hybrid Server',
      reason,
      worker_failure: { reason: 'configuration', message },
    });
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toStrictEqual({ status: 'not_ready', reason, workers: [] });

    // Work is refused as when no worker is ready, with the reason and no "retry shortly".
    const refused = await fetch(`${baseUrl}/v1/audio/transcriptions`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav'),
    });
    expect(refused.status).toBe(503);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error).toMatchObject({
      code: 'worker_unavailable',
      message: `No transcription worker is ready: ${reason}.`,
    });
    expect(await harness.tempFiles()).toEqual([]);
  });

  it('follows the worker health status', async () => {
    harness = await startHarness();
    const { baseUrl } = harness;
    await waitFor(async () => (await getJson<HealthBody>(`${baseUrl}/health`)).load !== undefined);
    harness.worker?.setHealth('NOT_SERVING');
    await harness.waitForHealth(503);
    const body = await getJson<HealthBody>(`${baseUrl}/health`);
    expect(body.reason).toMatch(/not serving/);
    // The 503 answer keeps its shape although the pool still holds the last load...
    expect(Object.keys(body).sort()).toEqual(['reason', 'service', 'status']);
    // ...which /readyz shows, with its age.
    const ready = await getJson<ReadyBody>(`${baseUrl}/readyz`);
    expect(ready.workers[0]).toMatchObject({ state: 'not_serving', load: FAKE_LOAD_JSON });
    harness.worker?.setHealth('SERVING');
    await harness.waitForHealth(200);
  });

  it('answers an in-flight request 503 when the worker dies, then recovers', async () => {
    const port = await freePort();
    let { child } = await spawnFakeWorker(['--port', String(port), '--hang']);
    try {
      harness = await startHarness({ worker: false, workerAddress: `127.0.0.1:${port}` });
      await harness.waitForHealth(200);
      const { baseUrl } = harness;
      const inFlight = fetch(`${baseUrl}/v1/audio/transcriptions`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await killProcess(child);
      const failed = await inFlight;
      expect(failed.status).toBe(503);
      const error = ((await failed.json()) as { error: { code: string } }).error;
      expect(error.code).toBe('worker_unavailable');
      expect(failed.headers.get('retry-after')).not.toBeNull();
      await harness.waitForHealth(503);
      expect(await harness.tempFiles()).toEqual([]);

      ({ child } = await spawnFakeWorker(['--port', String(port)]));
      await harness.waitForHealth(200, 15_000);
      await waitFor(async () => {
        const response = await fetch(`${baseUrl}/v1/audio/transcriptions`, {
          method: 'POST',
          body: audioForm(wav, 'a.wav'),
        });
        return response.status === 200;
      });
    } finally {
      await killProcess(child);
    }
  });
});

describe('combineLoads', () => {
  const reading = (load: Partial<WorkerLoad>, ageMs: number): WorkerLoadReading => ({
    load: { ...IDLE_LOAD, maxStreams: 0, maxQueueDepth: 0, ...load },
    ageMs,
  });

  it('gives nothing for no reading and one worker as it is', () => {
    expect(combineLoads([])).toBeUndefined();
    expect(
      combineLoads([
        reading(
          {
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
          },
          12,
        ),
      ]),
    ).toStrictEqual({ ...FAKE_LOAD_JSON, age_ms: 12 });
  });

  it('sums counts and limits, takes the worst cycle, backlog, speed and age', () => {
    expect(
      combineLoads([
        reading(
          {
            activeStreams: 3,
            maxStreams: 4,
            queueDepth: 1,
            maxQueueDepth: 16,
            realTimeFactor: 0.2,
            liveStreams: 2,
            liveCycleMs: 900,
            maxLiveCycleMs: 1500,
            fileBacklogMs: 100,
            meanBatchSize: 1.5,
          },
          40,
        ),
        reading(
          {
            activeStreams: 1,
            maxStreams: 8,
            queueDepth: 4,
            maxQueueDepth: 32,
            realTimeFactor: 0.5,
            liveStreams: 0,
            liveCycleMs: 300,
            maxLiveCycleMs: 0,
            fileBacklogMs: 7000,
            meanBatchSize: 2,
          },
          900,
        ),
        reading({ maxStreams: 2, maxLiveCycleMs: 1200, meanBatchSize: 1.2 }, 5),
      ]),
    ).toStrictEqual({
      active_streams: 4,
      max_streams: 14,
      live_streams: 2,
      queue_depth: 5,
      max_queue_depth: 48,
      real_time_factor: 0.5,
      live_cycle_ms: 900,
      max_live_cycle_ms: 1200,
      file_backlog_ms: 7000,
      mean_batch_size: 1.566667,
      age_ms: 900,
    });
  });

  it('reports no live-cycle limit when no worker has one', () => {
    expect(combineLoads([reading({}, 0), reading({}, 0)])?.max_live_cycle_ms).toBe(0);
  });
});
