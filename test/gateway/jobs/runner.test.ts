import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine } from '../support/fixtures.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';

interface JobJson {
  id: string;
  status: string;
  error: { code: string } | null;
}

let wav: Buffer;
let dataDir: string;

beforeAll(async () => {
  wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'job-runner-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function status(harness: Harness, id: string): Promise<JobJson> {
  return (await (await fetch(`${harness.baseUrl}/v1/jobs/${id}`)).json()) as JobJson;
}

describe('job runner', () => {
  it('puts a running job back in the queue on shutdown and finishes it after a restart', async () => {
    const first = await startHarness({
      env: { GATEWAY_DATA_DIR: dataDir },
      worker: { script: { isHanging: true } },
    });
    let id = '';
    try {
      const created = await fetch(`${first.baseUrl}/v1/jobs`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      id = ((await created.json()) as { jobs: JobJson[] }).jobs[0]?.id ?? '';
      await waitFor(() => first.worker?.sessions.at(-1)?.isHalfClosed === true);
      expect((await status(first, id)).status).toBe('running');
    } finally {
      await first.close();
    }
    expect(first.worker?.sessions.at(-1)?.isCancelled).toBe(true);

    const second = await startHarness({ env: { GATEWAY_DATA_DIR: dataDir } });
    try {
      await waitFor(async () => (await status(second, id)).status === 'completed');
      const result = await fetch(`${second.baseUrl}/v1/jobs/${id}/result?response_format=text`);
      expect(await result.text()).toBe('Hello world. This is a test.\n');
    } finally {
      await second.close();
    }
  });

  it('runs at most GATEWAY_JOBS_MAX_RUNNING jobs at once', async () => {
    const harness = await startHarness({
      env: { GATEWAY_JOBS_MAX_RUNNING: '2' },
      worker: { script: { isHanging: true } },
    });
    try {
      const form = new FormData();
      for (let i = 0; i < 4; i += 1) form.append('file', new Blob([wav]), `${i}.wav`);
      const created = await fetch(`${harness.baseUrl}/v1/jobs`, { method: 'POST', body: form });
      const ids = ((await created.json()) as { jobs: JobJson[] }).jobs.map((job) => job.id);
      await waitFor(() => harness.worker?.sessions.length === 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const statuses = await Promise.all(ids.map(async (id) => (await status(harness, id)).status));
      expect(statuses).toEqual(['running', 'running', 'queued', 'queued']);
      expect(harness.worker?.sessions).toHaveLength(2);
    } finally {
      await harness.close();
    }
  });

  it('queues a job again while the worker is at capacity, then completes it', async () => {
    const harness = await startHarness({
      worker: {
        script: {
          failOnConfig: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'busy', retryAfterMs: 1 },
        },
      },
    });
    try {
      const created = await fetch(`${harness.baseUrl}/v1/jobs`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      const id = ((await created.json()) as { jobs: JobJson[] }).jobs[0]?.id ?? '';
      await waitFor(async () => {
        const job = await status(harness, id);
        return job.status === 'queued' && job.error?.code === 'worker_busy';
      });
      if (harness.worker !== undefined) harness.worker.script = {};
      await waitFor(async () => (await status(harness, id)).status === 'completed', 5000);
      expect(harness.worker?.sessions.length).toBeGreaterThanOrEqual(2);
    } finally {
      await harness.close();
    }
  });

  it('fails a job whose audio the worker rejects, with the error code', async () => {
    const harness = await startHarness({
      worker: {
        script: { failAtEnd: { code: grpc.status.INVALID_ARGUMENT, details: 'bad audio' } },
      },
    });
    try {
      const created = await fetch(`${harness.baseUrl}/v1/jobs`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      const id = ((await created.json()) as { jobs: JobJson[] }).jobs[0]?.id ?? '';
      await waitFor(async () => (await status(harness, id)).status === 'failed');
      expect((await status(harness, id)).error?.code).toBe('invalid_request');
    } finally {
      await harness.close();
    }
  });
});
