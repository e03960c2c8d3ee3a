import { readFile } from 'node:fs/promises';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine } from '../support/fixtures.js';
import { startFakeWorker } from '../support/fake_worker.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';
import { freePort, killProcess, spawnFakeWorker } from '../support/processes.js';

let wav: Buffer;

beforeAll(async () => {
  wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
});

describe('health endpoints', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('answers healthy with exactly the legacy keys while a worker serves', async () => {
    harness = await startHarness();
    const response = await fetch(`${harness.baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'healthy',
      service: 'WhisperLive Hybrid Server',
    });
    expect((await fetch(`${harness.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${harness.baseUrl}/readyz`)).status).toBe(200);
  });

  it('answers 503 with a reason until a worker is reachable, then 200', async () => {
    const port = await freePort();
    harness = await startHarness({ worker: false, workerAddress: `127.0.0.1:${port}` });
    const response = await fetch(`${harness.baseUrl}/health`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'unhealthy', service: 'WhisperLive Hybrid Server' });
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

  it('follows the worker health status', async () => {
    harness = await startHarness();
    harness.worker?.setHealth('NOT_SERVING');
    await harness.waitForHealth(503);
    const body = (await (await fetch(`${harness.baseUrl}/health`)).json()) as { reason: string };
    expect(body.reason).toMatch(/not serving/);
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
