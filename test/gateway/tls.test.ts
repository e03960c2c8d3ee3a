import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import { loadConfig, readTlsFiles } from '../../gateway/src/config.js';
import { toBuffer } from '../../gateway/src/ws/live_clients.js';
import { CONFIG_DEFAULTS, issuesOf } from './support/config.js';
import { startFakeWorker, type FakeWorker } from './support/fake_worker.js';
import { STOCK_CLIENT_OPTIONS } from './support/fixtures.js';
import { startHarness, waitFor, type Harness } from './support/harness.js';

const run = promisify(execFile);

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, and its key, in `dir`. */
async function makeCertificate(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

let dir: string;
let pair: { cert: string; key: string };
let other: { cert: string; key: string };
let garbage: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'stt-gateway-tls-'));
  [pair, other] = await Promise.all([makeCertificate(dir, 'a'), makeCertificate(dir, 'b')]);
  garbage = path.join(dir, 'garbage.pem');
  await writeFile(garbage, 'not PEM at all\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('GATEWAY_TLS_CERT and GATEWAY_TLS_KEY', () => {
  it('are off by default and when blank', () => {
    expect(loadConfig({}, CONFIG_DEFAULTS).tls).toBeUndefined();
    expect(
      loadConfig({ GATEWAY_TLS_CERT: ' ', GATEWAY_TLS_KEY: '' }, CONFIG_DEFAULTS).tls,
    ).toBeUndefined();
  });

  it('read both files when both are set', async () => {
    const { tls } = loadConfig(
      { GATEWAY_TLS_CERT: pair.cert, GATEWAY_TLS_KEY: pair.key },
      CONFIG_DEFAULTS,
    );
    expect(tls?.certPath).toBe(pair.cert);
    expect(tls?.keyPath).toBe(pair.key);
    expect(tls?.cert.equals(await readFile(pair.cert))).toBe(true);
    expect(tls?.key.equals(await readFile(pair.key))).toBe(true);
    expect(Object.isFrozen(tls)).toBe(true);
  });

  it('must be set together', () => {
    expect(issuesOf({ GATEWAY_TLS_CERT: pair.cert })).toEqual([
      'GATEWAY_TLS_CERT is set but GATEWAY_TLS_KEY is not: set both (PEM certificate and key) to serve HTTPS and wss:, or neither',
    ]);
    expect(issuesOf({ GATEWAY_TLS_KEY: pair.key })).toEqual([
      'GATEWAY_TLS_KEY is set but GATEWAY_TLS_CERT is not: set both (PEM certificate and key) to serve HTTPS and wss:, or neither',
    ]);
  });

  it('name the variable and the path of a file that cannot be read', () => {
    const missing = path.join(dir, 'missing.pem');
    expect(issuesOf({ GATEWAY_TLS_CERT: missing, GATEWAY_TLS_KEY: dir })).toEqual([
      `GATEWAY_TLS_CERT="${missing}": cannot read the file (ENOENT)`,
      `GATEWAY_TLS_KEY="${dir}": cannot read the file (EISDIR)`,
    ]);
  });

  it('name the file OpenSSL refuses, and say why', () => {
    const issues = issuesOf({ GATEWAY_TLS_CERT: garbage, GATEWAY_TLS_KEY: pair.cert });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(
      new RegExp(`^GATEWAY_TLS_CERT="${garbage}": not a PEM certificate \\(.*no start line\\)$`),
    );
    expect(issues[1]).toMatch(
      new RegExp(
        `^GATEWAY_TLS_KEY="${pair.cert}": not a PEM private key without a passphrase \\(.+\\)$`,
      ),
    );
  });

  it('refuse a key that belongs to another certificate', () => {
    const issues = issuesOf({ GATEWAY_TLS_CERT: pair.cert, GATEWAY_TLS_KEY: other.key });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      new RegExp(
        `^GATEWAY_TLS_KEY="${other.key}": not the key of the certificate ` +
          `GATEWAY_TLS_CERT="${pair.cert}" \\(.*key values mismatch\\)$`,
      ),
    );
  });

  it('are reported beside every other invalid variable', () => {
    expect(issuesOf({ HTTP_PORT: 'x', GATEWAY_TLS_KEY: pair.key })).toHaveLength(2);
  });
});

/** Status and body of a GET over HTTPS that trusts `ca`. */
function httpsGet(
  url: string,
  ca: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // A connection of its own each time: a pooled one keeps the certificate it was made with.
    const request = https.get(url, { ca, headers, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('error', reject);
  });
}

/** The first text message on a `wss:` socket opened to `url` trusting `ca`, after `send`. */
async function firstMessage(url: string, ca: Buffer, send?: string): Promise<unknown> {
  const ws = new WebSocket(url, { ca });
  try {
    const message = new Promise<unknown>((resolve, reject) => {
      ws.once('message', (data: RawData) => {
        resolve(JSON.parse(toBuffer(data).toString('utf8')));
      });
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        resolve();
      });
      ws.once('error', reject);
    });
    if (send !== undefined) ws.send(send);
    return await message;
  } finally {
    ws.close();
  }
}

describe('gateway with TLS (fake worker)', () => {
  let harness: Harness;
  let worker: FakeWorker;
  let ca: Buffer;
  let httpPort: number;
  let wsPort: number;

  beforeAll(async () => {
    ca = await readFile(pair.cert);
    worker = await startFakeWorker();
    harness = await startHarness({
      worker: false,
      workerAddress: worker.address,
      env: {
        GATEWAY_TLS_CERT: pair.cert,
        GATEWAY_TLS_KEY: pair.key,
        GATEWAY_MAX_HEADER_BYTES: '2048',
      },
    });
    httpPort = Number(new URL(harness.baseUrl).port);
    wsPort = Number(new URL(harness.wsUrl).port);
    await waitFor(async () => (await httpsGet(`${harness.baseUrl}/health`, ca)).status === 200);
  });

  afterAll(async () => {
    await harness.close();
    await worker.stop();
  });

  it('serves HTTPS on the HTTP port and nothing in plain HTTP', async () => {
    expect(harness.baseUrl).toBe(`https://127.0.0.1:${httpPort}`);
    const health = await httpsGet(`https://localhost:${httpPort}/health`, ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'healthy' });
    await expect(
      new Promise((resolve, reject) => {
        http.get(`http://127.0.0.1:${httpPort}/health`, resolve).on('error', reject);
      }),
    ).rejects.toThrow('socket hang up');
    await expect(httpsGet(`${harness.baseUrl}/health`, Buffer.alloc(0))).rejects.toThrow(
      'self-signed certificate',
    );
  });

  it('keeps the head-size limit on both TLS servers', async () => {
    const big = { 'x-filler': 'a'.repeat(4096) };
    expect((await httpsGet(`${harness.baseUrl}/health`, ca, big)).status).toBe(431);
    expect((await httpsGet(`https://127.0.0.1:${wsPort}/`, ca, big)).status).toBe(431);
  });

  it('serves wss: for OpenAI Realtime and WhisperLive sessions', async () => {
    expect(harness.wsUrl).toBe(`wss://127.0.0.1:${wsPort}`);
    const created = await firstMessage(
      `wss://127.0.0.1:${httpPort}/v1/realtime?intent=transcription`,
      ca,
    );
    expect(created).toMatchObject({ type: 'session.created' });
    const ready = await firstMessage(
      `${harness.wsUrl}/`,
      ca,
      JSON.stringify({ ...STOCK_CLIENT_OPTIONS, uid: 'tls-1' }),
    );
    expect(ready).toMatchObject({ uid: 'tls-1', message: 'SERVER_READY' });
    const page = await httpsGet(`https://127.0.0.1:${wsPort}/`, ca);
    expect(page.status).toBe(426);
  });

  // Last: it replaces the certificate (main.ts does this on SIGHUP).
  it('serves a renewed certificate to new connections on both ports', async () => {
    const renewed = readTlsFiles(other.cert, other.key);
    if (!('cert' in renewed)) throw new Error(renewed.issues.join('; '));
    harness.gateway.useTlsFiles(renewed);
    const renewedCa = await readFile(other.cert);
    expect((await httpsGet(`${harness.baseUrl}/health`, renewedCa)).status).toBe(200);
    expect((await httpsGet(`https://127.0.0.1:${wsPort}/`, renewedCa)).status).toBe(426);
    await expect(httpsGet(`${harness.baseUrl}/health`, ca)).rejects.toThrow(
      'self-signed certificate',
    );
  });
});
