import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import { startHarness, type Harness } from '../support/harness.js';
import { rawExchange, upgradeHead } from '../support/raw_http.js';

function parse(data: RawData): Record<string, unknown> {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : '';
  return JSON.parse(text) as Record<string, unknown>;
}

function wsPort(harness: Harness): number {
  return Number(new URL(harness.wsUrl).port);
}

/** Opens a socket; resolves with it once open, or with the HTTP status that refused it. */
async function open(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<{ ws: WebSocket; status?: undefined } | { ws?: undefined; status: number }> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      resolve({ ws });
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** Sends options and collects what the server says until it closes. */
async function exchange(
  ws: WebSocket,
  uid: string,
): Promise<{ messages: Record<string, unknown>[]; code: number }> {
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data: RawData) => {
    messages.push(parse(data));
  });
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code: number) => {
      resolve(code);
    });
  });
  ws.send(JSON.stringify({ uid }));
  return { messages, code: await closed };
}

async function readyOf(ws: WebSocket, uid: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    ws.once('message', (data: RawData) => {
      resolve(parse(data));
    });
    ws.send(JSON.stringify({ uid }));
  });
}

describe('WhisperLive server: upgrade checks and per-client limits', () => {
  let harness: Harness | undefined;
  const sockets: WebSocket[] = [];

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await harness?.close();
    harness = undefined;
  });

  it.each(['//%', '/%zz?token=%E0%A4%A', '//%?token=k1', 'http://[::1', '*'])(
    'answers an upgrade to the unparsable target %j without crashing',
    async (target) => {
      harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1' } });
      const reply = await rawExchange(wsPort(harness), upgradeHead(target));
      expect([400, 401]).toContain(reply.status);
      // The process is alive and still serves a good client.
      const good = await open(`${harness.wsUrl}/?token=k1`);
      expect(good.ws).toBeDefined();
      good.ws?.terminate();
    },
  );

  it('takes the API key from a subprotocol and answers with the keyless one', async () => {
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1' } });
    const both = await open(harness.wsUrl, { protocols: ['whisperlive', 'bearer.k1'] });
    if (both.ws === undefined) throw new Error(`refused: ${both.status}`);
    sockets.push(both.ws);
    expect(both.ws.protocol).toBe('whisperlive');
    expect(await readyOf(both.ws, 'p1')).toMatchObject({ uid: 'p1', message: 'SERVER_READY' });

    const alone = await open(harness.wsUrl, { protocols: ['openai-insecure-api-key.k1'] });
    if (alone.ws === undefined) throw new Error(`refused: ${alone.status}`);
    sockets.push(alone.ws);
    expect(alone.ws.protocol).toBe('openai-insecure-api-key.k1');

    expect(await open(harness.wsUrl, { protocols: ['whisperlive', 'bearer.wrong'] })).toEqual({
      status: 401,
    });
  });

  it('refuses browsers from origins outside GATEWAY_WS_ALLOWED_ORIGINS with 403', async () => {
    harness = await startHarness({
      env: { GATEWAY_WS_ALLOWED_ORIGINS: 'https://app.example.com' },
    });
    expect(await open(harness.wsUrl, { headers: { Origin: 'https://evil.example' } })).toEqual({
      status: 403,
    });
    const allowed = await open(harness.wsUrl, { headers: { Origin: 'https://APP.example.com' } });
    expect(allowed.ws).toBeDefined();
    allowed.ws?.terminate();
    // Non-browser clients send no Origin and are not affected.
    const plain = await open(harness.wsUrl);
    expect(plain.ws).toBeDefined();
    plain.ws?.terminate();
  });

  it('refuses connections past GATEWAY_WS_MAX_CONNECTIONS_PER_CLIENT with ERROR and 1013', async () => {
    harness = await startHarness({ env: { GATEWAY_WS_MAX_CONNECTIONS_PER_CLIENT: '2' } });
    for (let i = 0; i < 2; i += 1) {
      const held = await open(harness.wsUrl);
      if (held.ws === undefined) throw new Error('refused');
      sockets.push(held.ws);
    }
    const third = await open(harness.wsUrl);
    if (third.ws === undefined) throw new Error('refused at the upgrade');
    const { messages, code } = await exchange(third.ws, 'c3');
    expect(messages).toEqual([
      {
        uid: 'c3',
        status: 'ERROR',
        message: 'too many connections from this client address (at most 2 at once)',
      },
    ]);
    expect(code).toBe(1013);
    // One held connection goes: there is room again.
    const first = sockets.shift();
    const gone = new Promise((resolve) => first?.once('close', resolve));
    first?.close();
    await gone;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await open(harness.wsUrl);
    if (again.ws === undefined) throw new Error('refused');
    sockets.push(again.ws);
    expect(await readyOf(again.ws, 'c4')).toMatchObject({ message: 'SERVER_READY' });
  });

  it('shares the per-client rate with the HTTP API', async () => {
    harness = await startHarness({ env: { GATEWAY_RATE_LIMIT_PER_CLIENT: '2' } });
    expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(200);
    const one = await open(harness.wsUrl);
    if (one.ws === undefined) throw new Error('refused');
    sockets.push(one.ws);
    const refused = await open(harness.wsUrl);
    if (refused.ws === undefined) throw new Error('refused at the upgrade');
    const { messages, code } = await exchange(refused.ws, 'r1');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ uid: 'r1', status: 'ERROR' });
    expect(String(messages[0]?.message)).toMatch(
      /^rate limit reached for this client address; retry in \d+ s$/,
    );
    expect(code).toBe(1013);
    expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(429);
  });
});
