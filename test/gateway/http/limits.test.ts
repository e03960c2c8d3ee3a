import { afterEach, describe, expect, it } from 'vitest';

import { readFile } from 'node:fs/promises';

import { fixtureDir, makeSine } from '../support/fixtures.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';
import { rawExchange } from '../support/raw_http.js';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

function httpPort(harness: Harness): number {
  return Number(new URL(harness.baseUrl).port);
}

describe('HTTP limits', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('answers a head over GATEWAY_MAX_HEADER_BYTES with 431 and keeps serving', async () => {
    harness = await startHarness({ env: { GATEWAY_MAX_HEADER_BYTES: '2048' } });
    const reply = await rawExchange(
      httpPort(harness),
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`,
    );
    expect(reply.status).toBe(431);
    expect(reply.isClosed).toBe(true);
    expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(200);
  });

  it('answers a request line that does not parse with 400', async () => {
    harness = await startHarness();
    const reply = await rawExchange(httpPort(harness), 'GET /\x01 HTTP/9.9\r\n\r\n');
    expect(reply.status).toBe(400);
    expect(reply.isClosed).toBe(true);
  });

  it('drops a client whose headers trickle in past GATEWAY_HEADERS_TIMEOUT_S with 408', async () => {
    harness = await startHarness({ env: { GATEWAY_HEADERS_TIMEOUT_S: '1' } });
    const pieces = ['GET /v1/models HTTP/1.1\r\n', ...Array<string>(20).fill('X-Slow: 1\r\n')];
    const reply = await rawExchange(httpPort(harness), pieces, { pauseMs: 250, waitMs: 5_000 });
    expect(reply.status).toBe(408);
    expect(reply.elapsedMs).toBeLessThan(3_000);
  });

  it('drops an upload that takes longer than GATEWAY_UPLOAD_TIMEOUT_S and leaves no temp file', async () => {
    harness = await startHarness({ env: { GATEWAY_UPLOAD_TIMEOUT_S: '1' } });
    const boundary = 'xyz';
    const head =
      'POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n' +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n`;
    const reply = await rawExchange(httpPort(harness), [head, ...Array<string>(20).fill('RIFF')], {
      pauseMs: 200,
      waitMs: 5_000,
    });
    expect(reply.isClosed).toBe(true);
    expect(reply.elapsedMs).toBeLessThan(3_500);
    const current = harness;
    await waitFor(async () => (await current.tempFiles()).length === 0, 3_000);
  });

  it('gives the answer its own deadline: the upload timeout does not cut a long transcription', async () => {
    harness = await startHarness({
      env: { GATEWAY_UPLOAD_TIMEOUT_S: '1', GATEWAY_REQUEST_TIMEOUT_S: '2.5' },
      worker: { script: { isHanging: true } },
    });
    const wav = await readFile(await makeSine(await fixtureDir(), 'wav', 1));
    const started = Date.now();
    const response = await fetch(`${harness.baseUrl}/v1/audio/transcriptions`, {
      method: 'POST',
      body: audioForm(wav, 'sine.wav', { model: 'whisper-1' }),
    });
    // Past the 1 s upload limit, the request still gets its answer: the 2.5 s deadline's 504.
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(((await response.json()) as ErrorBody).error.code).toBe('deadline_exceeded');
  });

  it('refuses requests past GATEWAY_RATE_LIMIT_PER_CLIENT with 429, Retry-After and the OpenAI shape', async () => {
    harness = await startHarness({ env: { GATEWAY_RATE_LIMIT_PER_CLIENT: '3' } });
    // Probes are never counted.
    for (let i = 0; i < 5; i += 1)
      expect((await fetch(`${harness.baseUrl}/health`)).status).toBe(200);
    for (let i = 0; i < 3; i += 1) {
      expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(200);
    }
    const refused = await fetch(`${harness.baseUrl}/v1/models`);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await refused.json()) as ErrorBody;
    expect(body.error).toMatchObject({
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      param: null,
    });
    expect(body.error.message).toMatch(/Rate limit reached for this client address/);
  });

  it('counts each API key on its own (GATEWAY_RATE_LIMIT_PER_KEY)', async () => {
    harness = await startHarness({
      env: { GATEWAY_API_KEYS: 'k1,k2', GATEWAY_RATE_LIMIT_PER_KEY: '2' },
    });
    const get = (key: string): Promise<Response> =>
      fetch(`${harness?.baseUrl ?? ''}/v1/models`, { headers: { Authorization: `Bearer ${key}` } });
    expect((await get('k1')).status).toBe(200);
    expect((await get('k1')).status).toBe(200);
    const refused = await get('k1');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as ErrorBody).error.message).toMatch(/this API key/);
    expect((await get('k2')).status).toBe(200);
    // Wrong keys are 401 and never reach the per-key counter.
    expect((await get('nope')).status).toBe(401);
  });

  it('holds at most GATEWAY_MAX_UPLOADS_PER_CLIENT uploads of one client in flight', async () => {
    harness = await startHarness({ env: { GATEWAY_MAX_UPLOADS_PER_CLIENT: '1' } });
    const head =
      'POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n' +
      'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n';
    // The first upload trickles in and holds the client's only slot.
    const slow = rawExchange(httpPort(harness), [head, 'x', 'x', 'x', 'x'], {
      pauseMs: 300,
      waitMs: 1_500,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await fetch(`${harness.baseUrl}/v1/audio/transcriptions`, {
      method: 'POST',
      body: new FormData(),
    });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('too_many_uploads');
    await slow;
    // The slow client has gone: its slot is free again.
    const current = harness;
    await waitFor(async () => {
      const response = await fetch(`${current.baseUrl}/v1/audio/transcriptions`, {
        method: 'POST',
        body: new FormData(),
      });
      return response.status === 400;
    }, 3_000);
  });

  it('shows no internal worker address to unauthenticated readers', async () => {
    harness = await startHarness({ worker: false, workerAddress: '127.0.0.1:1' });
    const port = '127.0.0.1:1';
    for (const route of ['/health', '/readyz']) {
      const text = await (await fetch(`${harness.baseUrl}${route}`)).text();
      expect(text).not.toContain(port);
    }
  });
});
