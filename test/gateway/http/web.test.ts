import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { contentSecurityPolicy, createWebRouter } from '../../../gateway/src/http/web.js';
import { startHarness, type Harness } from '../support/harness.js';

/** The page's files, as a browser asks for them. */
const PAGE_FILES = [
  ['/', /^text\/html/],
  ['/index.html', /^text\/html/],
  ['/style.css', /^text\/css/],
  ['/app.js', /javascript/],
  ['/live.js', /javascript/],
  ['/mic_session.js', /javascript/],
  ['/realtime.js', /javascript/],
  ['/realtime_transcript.js', /javascript/],
  ['/pcm16.js', /javascript/],
  ['/live_transcript.js', /javascript/],
  ['/upload.js', /javascript/],
  ['/sse.js', /javascript/],
  ['/capture_worklet.js', /javascript/],
  ['/resampler.js', /javascript/],
] as const;

function wsPortOf(harness: Harness): number {
  return Number(new URL(harness.wsUrl).port);
}

describe('the web page without API keys', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterAll(async () => {
    await harness.close();
  });

  it.each(PAGE_FILES)(
    'serves %s with its content type and the page headers',
    async (file, type) => {
      const response = await fetch(`${harness.baseUrl}${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(type);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toBe(
        contentSecurityPolicy(wsPortOf(harness), undefined),
      );
    },
  );

  it('serves the page with every test hook and no inline script or external resource', async () => {
    const html = await (await fetch(`${harness.baseUrl}/`)).text();
    for (const hook of [
      'file-input',
      'submit',
      'result',
      'mic-start',
      'mic-stop',
      'live-text',
      'status',
      'protocol-whisperlive',
      'protocol-realtime',
      'live-turns',
    ]) {
      expect(html).toContain(`data-testid="${hook}"`);
    }
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\bon[a-z]+="/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('answers HEAD / like GET /', async () => {
    const response = await fetch(`${harness.baseUrl}/`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('tells the page the bound WhisperLive port (configured as 0 here)', async () => {
    const response = await fetch(`${harness.baseUrl}/config.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      whisperlive_port: wsPortOf(harness),
      whisperlive_url: null,
      api_key_required: false,
      max_upload_bytes: harness.config.maxUploadBytes,
    });
  });

  it('leaves the JSON 404 of unknown paths and methods alone', async () => {
    for (const [method, url] of [
      ['GET', '/nope'],
      ['GET', '/nope.js'],
      ['POST', '/'],
      ['DELETE', '/index.html'],
      ['POST', '/config.json'],
    ] as const) {
      const response = await fetch(`${harness.baseUrl}${url}`, { method });
      expect(response.status, `${method} ${url}`).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'unknown_url' } });
    }
  });

  it('serves nothing outside gateway/public', async () => {
    for (const url of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json']) {
      const response = await fetch(`${harness.baseUrl}${url}`);
      expect(response.status, url).not.toBe(200);
      expect(await response.text()).not.toContain('"dependencies"');
    }
  });
});

describe('the web page with API keys', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({
      env: { GATEWAY_API_KEYS: 'secret', GATEWAY_PUBLIC_WS_URL: 'wss://stt.example.com/ws' },
    });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('serves the page and its configuration without a key', async () => {
    expect((await fetch(`${harness.baseUrl}/`)).status).toBe(200);
    const response = await fetch(`${harness.baseUrl}/config.json`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      whisperlive_url: 'wss://stt.example.com/ws',
      api_key_required: true,
    });
    expect(response.headers.get('content-security-policy')).toContain(
      `connect-src 'self' ws://*:${wsPortOf(harness)} wss://*:${wsPortOf(harness)} wss://stt.example.com;`,
    );
  });

  it('still asks for the key on the API and on unknown paths', async () => {
    expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(401);
    expect((await fetch(`${harness.baseUrl}/nope`)).status).toBe(401);
    const withKey = await fetch(`${harness.baseUrl}/nope`, {
      headers: { Authorization: 'Bearer secret' },
    });
    expect(withKey.status).toBe(404);
  });
});

describe('createWebRouter', () => {
  let dir: string;
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let baseUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stt-web-'));
    await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
    await writeFile(path.join(dir, '.secret'), 'hidden');
    await mkdir(path.join(dir, 'sub'));
    const app = express();
    app.use(
      createWebRouter({
        publicDir: dir,
        wsPort: () => 5050,
        publicWsUrl: '/ws',
        isApiKeyRequired: false,
        maxUploadBytes: 10,
      }),
    );
    app.use((_req, res) => {
      res.status(404).send('fell through');
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, '127.0.0.1', () => {
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    baseUrl = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('passes dot files and directories through to the next handler', async () => {
    for (const url of ['/.secret', '/sub', '/sub/']) {
      const response = await fetch(`${baseUrl}${url}`);
      expect(response.status, url).toBe(404);
      expect(await response.text()).toBe('fell through');
    }
  });

  it('offers a path URL as is (the page resolves it against its own host)', async () => {
    expect(await (await fetch(`${baseUrl}/config.json`)).json()).toMatchObject({
      whisperlive_port: 5050,
      whisperlive_url: '/ws',
    });
  });
});

describe('contentSecurityPolicy', () => {
  it('allows own scripts and styles only, and WebSockets to the WhisperLive port', () => {
    const policy = contentSecurityPolicy(5050, undefined);
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("connect-src 'self' ws://*:5050 wss://*:5050;");
    expect(policy).not.toContain('unsafe');
  });

  it('adds the origin of an absolute public URL, and nothing for a path (covered by self)', () => {
    expect(contentSecurityPolicy(5050, 'ws://proxy.internal:8000/live')).toContain(
      'wss://*:5050 ws://proxy.internal:8000;',
    );
    expect(contentSecurityPolicy(5050, '/ws')).toContain(
      "connect-src 'self' ws://*:5050 wss://*:5050;",
    );
  });
});
