import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine } from '../support/fixtures.js';
import { startHarness, type Harness } from '../support/harness.js';

interface LegacyBody {
  success: boolean;
  error?: string;
  filename?: string;
  segments?: unknown[];
}

describe('POST /transcribe/url', () => {
  let wav: Buffer;
  let server: http.Server;
  let origin: string;
  let port: number;
  let allowed: Harness;
  let strict: Harness;

  beforeAll(async () => {
    wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/audio/speech%20one.wav':
          res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
          return;
        case '/redirect':
          res.writeHead(302, { location: '/audio/speech%20one.wav' }).end();
          return;
        case '/redirect-private':
          res.writeHead(302, { location: 'http://10.0.0.1/a.wav' }).end();
          return;
        case '/redirect-ipv6-loopback':
          res.writeHead(307, { location: `http://[::1]:${port}/audio/speech%20one.wav` }).end();
          return;
        case '/loop':
          res.writeHead(301, { location: '/loop' }).end();
          return;
        case '/big':
          res.writeHead(200, { 'content-type': 'audio/wav' });
          res.end(Buffer.concat([wav, Buffer.alloc(300 * 1024)]));
          return;
        case '/big-chunked':
          res.writeHead(200, { 'content-type': 'audio/wav', 'transfer-encoding': 'chunked' });
          for (let i = 0; i < 40; i += 1) res.write(Buffer.alloc(16 * 1024, 1));
          res.end();
          return;
        case '/slow':
          res.writeHead(200);
          res.write(wav.subarray(0, 100));
          return; // never ends
        default:
          res.writeHead(404, { 'content-type': 'text/plain' }).end('no');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
    const resolve = (hostname: string) =>
      Promise.resolve(
        hostname === 'files.test'
          ? [{ address: '127.0.0.1', family: 4 as const }]
          : hostname === 'rebind.test'
            ? [
                { address: '93.184.216.34', family: 4 as const },
                { address: '127.0.0.1', family: 4 as const },
              ]
            : [],
      );
    allowed = await startHarness({
      env: {
        GATEWAY_URL_ALLOWLIST: '127.0.0.1',
        GATEWAY_MAX_UPLOAD_BYTES: String(200 * 1024),
        GATEWAY_URL_TIMEOUT_S: '1',
        GATEWAY_URL_MAX_REDIRECTS: '3',
      },
      resolve,
    });
    strict = await startHarness({ resolve });
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await allowed.close();
    await strict.close();
  });

  async function post(
    harness: Harness,
    body: Record<string, string>,
    form = false,
  ): Promise<[number, LegacyBody]> {
    const response = await fetch(`${harness.baseUrl}/transcribe/url`, {
      method: 'POST',
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
    });
    return [response.status, (await response.json()) as LegacyBody];
  }

  it('transcribes an allow-listed loopback URL, named by its last path segment', async () => {
    const [status, body] = await post(allowed, { url: `${origin}/audio/speech%20one.wav` });
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, filename: 'speech one.wav' });
    expect(body.segments).toHaveLength(2);
    expect(await allowed.tempFiles()).toEqual([]);
  });

  it('accepts form fields and follows redirects', async () => {
    const [status, body] = await post(
      allowed,
      { url: `${origin}/redirect`, task: 'transcribe' },
      true,
    );
    expect(status).toBe(200);
    expect(body.filename).toBe('redirect');
  });

  it('connects to the checked address of a resolved host name', async () => {
    const [status] = await post(allowed, {
      url: `http://files.test:${port}/audio/speech%20one.wav`,
    });
    expect(status).toBe(200);
  });

  it('refuses loopback without an allow-list entry', async () => {
    const [status, body] = await post(strict, { url: `${origin}/audio/speech%20one.wav` });
    expect(status).toBe(400);
    expect(body.success).toBe(false);
    expect(body.error).toMatch(/loopback/);
  });

  it('refuses a host that also resolves to a private address', async () => {
    const [status] = await post(strict, { url: 'http://rebind.test/a.wav' });
    expect(status).toBe(400);
  });

  it('re-checks redirects', async () => {
    expect((await post(allowed, { url: `${origin}/redirect-private` }))[0]).toBe(400);
    expect((await post(allowed, { url: `${origin}/redirect-ipv6-loopback` }))[0]).toBe(400);
  });

  it('refuses bad, non-http and internal URLs with 400', async () => {
    for (const url of [
      'not a url',
      'ftp://127.0.0.1/a.wav',
      'file:///etc/passwd',
      'http://10.1.2.3/a.wav',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:8080/a.wav',
      'http://[::ffff:127.0.0.1]/a.wav',
      'http://192.168.0.1/a.wav',
      'http://0.0.0.0/a.wav',
    ]) {
      const [status, body] = await post(strict, { url });
      expect(status, url).toBe(400);
      expect(body.success).toBe(false);
    }
    expect((await post(strict, {}))[0]).toBe(400);
  });

  it('answers a malformed multipart form with 400, not 500 (schemathesis finding)', async () => {
    // A part header with control and non-ASCII bytes in the field name: busboy throws
    // "Malformed part header", a plain Error that used to reach the error handler as a 500.
    const boundary = 'fuzzboundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="`),
      Buffer.from([0xc2, 0xa1, 0x3a, 0x60, 0xc2, 0x86, 0x1b, 0xc2, 0x8a]),
      Buffer.from(`"\r\n\r\ntrue\r\n--${boundary}\r\n`),
      Buffer.from(`Content-Disposition: form-data; name="url"\r\n\r\nhttps://a.example\r\n`),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${strict.baseUrl}/transcribe/url`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      success: false,
      error: 'Invalid multipart form: Malformed part header.',
    });
  });

  it('reports a remote 404 as 422 naming the status', async () => {
    const [status, body] = await post(allowed, { url: `${origin}/missing.wav` });
    expect(status).toBe(422);
    expect(body.error).toContain('404');
  });

  it('stops after too many redirects', async () => {
    const [status, body] = await post(allowed, { url: `${origin}/loop` });
    expect(status).toBe(422);
    expect(body.error).toMatch(/redirect/);
  });

  it('enforces the size limit, declared or not', async () => {
    expect((await post(allowed, { url: `${origin}/big` }))[0]).toBe(413);
    expect((await post(allowed, { url: `${origin}/big-chunked` }))[0]).toBe(413);
    expect(await allowed.tempFiles()).toEqual([]);
  });

  it('times out a stalled download with 502', async () => {
    const [status, body] = await post(allowed, { url: `${origin}/slow` });
    expect(status).toBe(502);
    expect(body.error).toMatch(/within/);
    expect(await allowed.tempFiles()).toEqual([]);
  });

  it('reports an unresolvable host as 422', async () => {
    expect((await post(strict, { url: 'http://nowhere.test/a.wav' }))[0]).toBe(422);
  });
});
