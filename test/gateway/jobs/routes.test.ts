import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { fixtureDir, makeSine, PNG_BYTES } from '../support/fixtures.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';

interface JobJson {
  id: string;
  object: string;
  status: string;
  filename: string;
  progress: number;
  audio_seconds_done: number;
  audio_seconds_total: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: { code: string; message: string } | null;
}

interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** Parses an SSE body into its events. */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ');
        if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
      }
      return {
        id: Number(fields.get('id')),
        event: fields.get('event') ?? '',
        data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown>,
      };
    });
}

let wav: Buffer;

beforeAll(async () => {
  wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
});

describe('jobs API', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({
      env: { GATEWAY_JOBS_MAX_QUEUED: '5', GATEWAY_MAX_UPLOAD_BYTES: String(512 * 1024) },
    });
  });

  afterAll(async () => {
    await harness.close();
  });

  afterEach(() => {
    if (harness.worker !== undefined) harness.worker.script = {};
  });

  async function submit(form: FormData): Promise<Response> {
    return fetch(`${harness.baseUrl}/v1/jobs`, { method: 'POST', body: form });
  }

  async function job(id: string): Promise<JobJson> {
    return (await (await fetch(`${harness.baseUrl}/v1/jobs/${id}`)).json()) as JobJson;
  }

  async function waitForStatus(id: string, status: string): Promise<JobJson> {
    let last: JobJson | undefined;
    await waitFor(async () => {
      last = await job(id);
      return last.status === status;
    });
    if (last === undefined) throw new Error('unreachable');
    return last;
  }

  it('queues one job per file, answers 202, and completes them with progress 1', async () => {
    const form = audioForm(wav, 'first.wav', { response_format: 'srt' });
    form.append('file', new Blob([wav]), 'second.wav');
    const response = await submit(form);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { jobs: JobJson[] };
    expect(body.jobs.map((j) => [j.object, j.status, j.filename])).toEqual([
      ['transcription.job', 'queued', 'first.wav'],
      ['transcription.job', 'queued', 'second.wav'],
    ]);
    for (const queued of body.jobs) {
      const done = await waitForStatus(queued.id, 'completed');
      expect(done.progress).toBe(1);
      expect(done.audio_seconds_total).toBeCloseTo(2, 1);
      expect(done.audio_seconds_done).toBeCloseTo(2, 1);
      expect(done.started_at).not.toBeNull();
      expect(done.finished_at).not.toBeNull();
      expect(done.error).toBeNull();
    }
    // The audio is gone once the jobs are final.
    expect(await readdir(path.join(harness.dataDir, 'audio'))).toEqual([]);
    expect(await readdir(path.join(harness.dataDir, 'incoming'))).toEqual([]);
  });

  it('answers the result exactly as the synchronous endpoint does, in every format', async () => {
    const created = (await (await submit(audioForm(wav, 'a.wav'))).json()) as { jobs: JobJson[] };
    const id = created.jobs[0]?.id ?? '';
    await waitForStatus(id, 'completed');
    for (const format of ['json', 'text', 'srt', 'verbose_json', 'vtt']) {
      const result = await fetch(
        `${harness.baseUrl}/v1/jobs/${id}/result?response_format=${format}`,
      );
      const sync = await fetch(`${harness.baseUrl}/v1/audio/transcriptions`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav', { response_format: format }),
      });
      expect(result.status).toBe(200);
      expect(result.headers.get('content-type')).toBe(sync.headers.get('content-type'));
      expect(await result.text()).toBe(await sync.text());
    }
    // Without a format, the one given at submission (json by default).
    const plain = await fetch(`${harness.baseUrl}/v1/jobs/${id}/result`);
    expect(await plain.json()).toEqual({ text: 'Hello world. This is a test.' });
  });

  it('replays events as SSE with ids, resumes after Last-Event-ID, and ends with done', async () => {
    const created = (await (await submit(audioForm(wav, 'a.wav'))).json()) as { jobs: JobJson[] };
    const id = created.jobs[0]?.id ?? '';
    await waitForStatus(id, 'completed');
    const response = await fetch(`${harness.baseUrl}/v1/jobs/${id}/events`);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await response.text());
    expect(events.map((e) => e.event)).toEqual([
      'status', // queued
      'status', // running
      'progress', // the worker's ack: 0 of 2 s
      'segment',
      'progress',
      'segment',
      'progress',
      'done',
    ]);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress).toEqual([0, 0.5, 1]);
    expect(events.filter((e) => e.event === 'segment').map((e) => e.data.text)).toEqual([
      ' Hello world.',
      ' This is a test.',
    ]);
    expect(events.at(-1)?.data).toMatchObject({ id, status: 'completed', progress: 1 });

    const resumed = await fetch(`${harness.baseUrl}/v1/jobs/${id}/events`, {
      headers: { 'Last-Event-ID': '5' },
    });
    expect(parseSse(await resumed.text()).map((e) => e.id)).toEqual([6, 7, 8]);
  });

  it('streams live events to a follower that connects while the job runs', async () => {
    if (harness.worker !== undefined) harness.worker.script = { isHanging: true };
    const created = (await (await submit(audioForm(wav, 'a.wav'))).json()) as { jobs: JobJson[] };
    const id = created.jobs[0]?.id ?? '';
    await waitForStatus(id, 'running');
    const socket = new WebSocket(`${harness.baseUrl.replace('http', 'ws')}/v1/jobs/${id}/events`);
    const messages: { id: number; event: string; data: Record<string, unknown> }[] = [];
    socket.on('message', (data: Buffer) => {
      messages.push(JSON.parse(data.toString()) as (typeof messages)[number]);
    });
    const closed = new Promise<number>((resolve) => {
      socket.once('close', (code) => {
        resolve(code);
      });
    });
    await waitFor(() => messages.some((m) => m.event === 'status' && m.data.status === 'running'));
    // Cancelling a running job cancels its worker stream at once.
    const cancelled = await fetch(`${harness.baseUrl}/v1/jobs/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as JobJson).status).toBe('cancelled');
    await waitFor(() => harness.worker?.sessions.at(-1)?.isCancelled === true, 2000);
    expect(await closed).toBe(1000);
    expect(messages.at(-1)).toMatchObject({ event: 'done', data: { status: 'cancelled' } });
    expect(messages.map((m) => m.id)).toEqual(messages.map((_, i) => i + 1));

    const result = await fetch(`${harness.baseUrl}/v1/jobs/${id}/result`);
    expect(result.status).toBe(409);
    expect(((await result.json()) as { error: { code: string } }).error.code).toBe(
      'job_not_completed',
    );
    // Deleting the cancelled job removes it.
    const deleted = await fetch(`${harness.baseUrl}/v1/jobs/${id}`, { method: 'DELETE' });
    expect(await deleted.json()).toEqual({
      id,
      object: 'transcription.job.deleted',
      deleted: true,
    });
    expect((await fetch(`${harness.baseUrl}/v1/jobs/${id}`)).status).toBe(404);
  });

  it('answers 409 for the result of a job that has not finished', async () => {
    if (harness.worker !== undefined) harness.worker.script = { isHanging: true };
    const created = (await (await submit(audioForm(wav, 'a.wav'))).json()) as { jobs: JobJson[] };
    const id = created.jobs[0]?.id ?? '';
    await waitForStatus(id, 'running');
    const result = await fetch(`${harness.baseUrl}/v1/jobs/${id}/result`);
    expect(result.status).toBe(409);
    const error = ((await result.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('job_not_ready');
    expect(error.message).toContain('running');
    await fetch(`${harness.baseUrl}/v1/jobs/${id}`, { method: 'DELETE' });
  });

  it('cancels a queued job without starting it', async () => {
    if (harness.worker !== undefined) harness.worker.script = { isHanging: true };
    const form = audioForm(wav, 'running.wav');
    form.append('file', new Blob([wav]), 'queued.wav');
    const created = (await (await submit(form)).json()) as { jobs: JobJson[] };
    const [running, queued] = created.jobs;
    await waitForStatus(running?.id ?? '', 'running');
    const sessions = harness.worker?.sessions.length;
    const response = await fetch(`${harness.baseUrl}/v1/jobs/${queued?.id ?? ''}`, {
      method: 'DELETE',
    });
    expect(((await response.json()) as JobJson).status).toBe('cancelled');
    await fetch(`${harness.baseUrl}/v1/jobs/${running?.id ?? ''}`, { method: 'DELETE' });
    expect(harness.worker?.sessions.length).toBe(sessions);
  });

  it('lists jobs newest first, with a limit', async () => {
    const response = await fetch(`${harness.baseUrl}/v1/jobs?limit=2`);
    const body = (await response.json()) as { object: string; data: JobJson[]; has_more: boolean };
    expect(body.object).toBe('list');
    expect(body.data).toHaveLength(2);
    expect(body.has_more).toBe(true);
    const all = (await (await fetch(`${harness.baseUrl}/v1/jobs?limit=100`)).json()) as {
      data: JobJson[];
    };
    const created = all.data.map((j) => j.created_at);
    expect([...created].sort((a, b) => b - a)).toEqual(created);
    expect((await fetch(`${harness.baseUrl}/v1/jobs?limit=0`)).status).toBe(400);
  });

  it.each([
    [{ task: 'summarise' }, 'task'],
    [{ response_format: 'docx' }, 'response_format'],
    [{ temperature: '3' }, 'temperature'],
    [{ stream: 'true' }, 'stream'],
    [{ language: 'klingon' }, 'language'],
    [{ webhook_url: 'ftp://example.org/hook' }, 'webhook_url'],
    [{ url: 'file:///etc/passwd' }, 'url'],
  ])('refuses %j with 400 before storing anything', async (fields, param) => {
    const before = (await (await fetch(`${harness.baseUrl}/v1/jobs?limit=100`)).json()) as {
      data: unknown[];
    };
    const response = await submit(audioForm(wav, 'a.wav', fields));
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { param: string } }).error;
    expect(error.param).toBe(param);
    const after = (await (await fetch(`${harness.baseUrl}/v1/jobs?limit=100`)).json()) as {
      data: unknown[];
    };
    expect(after.data).toHaveLength(before.data.length);
    await waitFor(async () => (await readdir(path.join(harness.dataDir, 'incoming'))).length === 0);
  });

  it('refuses a request without audio, and a file that is not audio (415)', async () => {
    const empty = new FormData();
    empty.append('model', 'whisper-1');
    const none = await submit(empty);
    expect(none.status).toBe(400);
    const png = await submit(audioForm(PNG_BYTES, 'picture.png'));
    expect(png.status).toBe(415);
    const error = ((await png.json()) as { error: { message: string } }).error;
    expect(error.message).toContain('picture.png');
  });

  it('answers 404 for unknown jobs, and a URL refused by the address policy with 400', async () => {
    expect((await fetch(`${harness.baseUrl}/v1/jobs/job_000000000000000000000000`)).status).toBe(
      404,
    );
    expect((await fetch(`${harness.baseUrl}/v1/jobs/nope/events`)).status).toBe(404);
    const form = new FormData();
    form.append('url', 'http://169.254.169.254/latest/meta-data');
    const refused = await submit(form);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'url_not_allowed',
    );
  });

  it('answers 503 with Retry-After when the queue is full', async () => {
    if (harness.worker !== undefined) harness.worker.script = { isHanging: true };
    const form = new FormData();
    for (let i = 0; i < 7; i += 1) form.append('file', new Blob([wav]), `${i}.wav`);
    const response = await submit(form);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'job_queue_full',
    );
  });
});

describe('jobs API with keys', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'secret' } });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('needs the key over HTTP and for the WebSocket upgrade', async () => {
    expect((await fetch(`${harness.baseUrl}/v1/jobs`)).status).toBe(401);
    const created = await fetch(`${harness.baseUrl}/v1/jobs`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav'),
      headers: { authorization: 'Bearer secret' },
    });
    expect(created.status).toBe(202);
    const id = ((await created.json()) as { jobs: JobJson[] }).jobs[0]?.id ?? '';
    const url = `${harness.baseUrl.replace('http', 'ws')}/v1/jobs/${id}/events`;
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(url);
      socket.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
      });
      socket.on('error', () => undefined);
    });
    expect(refused).toBe(401);
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`${url}?token=secret`);
      socket.on('message', (data: Buffer) => {
        events.push((JSON.parse(data.toString()) as { event: string }).event);
      });
      socket.on('close', () => {
        resolve();
      });
      socket.on('error', reject);
    });
    expect(events.at(0)).toBe('status');
    expect(events.at(-1)).toBe('done');
  });
});

describe('job webhooks', () => {
  let harness: Harness;
  let hook: http.Server;
  const received: unknown[] = [];

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.2', resolve));
    // Only 127.0.0.2 is allowed; 127.0.0.1 stays refused.
    harness = await startHarness({ env: { GATEWAY_URL_ALLOWLIST: '127.0.0.2' } });
  });

  afterAll(async () => {
    await harness.close();
    await new Promise((resolve) => hook.close(resolve));
  });

  it('posts the finished job to an allowed webhook', async () => {
    const port = (hook.address() as AddressInfo).port;
    const allowed = await fetch(`${harness.baseUrl}/v1/jobs`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav', { webhook_url: `http://127.0.0.2:${port}/hook` }),
    });
    const id = ((await allowed.json()) as { jobs: JobJson[] }).jobs[0]?.id;
    await waitFor(() => received.length === 1);
    expect(received[0]).toMatchObject({ id, status: 'completed', progress: 1 });
  });
});
