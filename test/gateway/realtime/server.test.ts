import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions, type RawData } from 'ws';

import { toBuffer } from '../../../gateway/src/ws/live_clients.js';
import { startHarness, waitFor, type Harness } from '../support/harness.js';

/** A client of `/v1/realtime` that records the events it hears. */
interface RealtimeClient {
  readonly ws: WebSocket;
  readonly events: Record<string, unknown>[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Waits for the first event of `type` after the first `from` events. */
  next(type: string, from?: number): Promise<Record<string, unknown>>;
  send(event: Record<string, unknown>): void;
}

function realtimeUrl(harness: Harness, query = '?intent=transcription'): string {
  return `${harness.baseUrl.replace('http:', 'ws:')}/v1/realtime${query}`;
}

async function open(
  url: string,
  options: ClientOptions & { protocols?: string[] } = {},
): Promise<RealtimeClient> {
  const ws = new WebSocket(url, options.protocols ?? [], options);
  const events: Record<string, unknown>[] = [];
  ws.on('message', (data: RawData) => {
    events.push(JSON.parse(toBuffer(data).toString('utf8')) as Record<string, unknown>);
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  return {
    ws,
    events,
    closed,
    async next(type: string, from = 0) {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => {
        found = events.slice(from).find((event) => event.type === type);
        return found !== undefined;
      });
      return found ?? {};
    },
    send(event) {
      ws.send(JSON.stringify(event));
    },
  };
}

/** The HTTP status of a refused upgrade, and its body. */
function refusal(
  url: string,
  options: ClientOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('open', () => {
      reject(new Error('upgraded'));
    });
    ws.on('error', () => undefined);
  });
}

/** 100 ms of a 24 kHz tone as base64 PCM16. */
const CHUNK = ((): string => {
  const pcm = Buffer.alloc(4800);
  for (let i = 0; i < 2400; i += 1) {
    pcm.writeInt16LE(Math.round(4000 * Math.sin((2 * Math.PI * 300 * i) / 24_000)), i * 2);
  }
  return pcm.toString('base64');
})();

describe('Realtime endpoint (HTTP port, fake worker)', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('serves a manual-commit session end to end: created, updated, committed, deltas, completed', async () => {
    const client = await open(realtimeUrl(harness));
    const created = await client.next('session.created');
    expect(created.session).toMatchObject({
      type: 'transcription',
      audio: { input: { transcription: { model: 'tiny.en' } } },
    });
    client.send({
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    await client.next('session.updated');
    for (let i = 0; i < 15; i += 1)
      client.send({ type: 'input_audio_buffer.append', audio: CHUNK });
    client.send({ type: 'input_audio_buffer.commit', event_id: 'commit-1' });
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    const committed = await client.next('input_audio_buffer.committed');
    const deltas = client.events
      .filter((event) => event.type === 'conversation.item.input_audio_transcription.delta')
      .map((event) => event.delta);
    expect(deltas.join('')).toBe(completed.transcript);
    expect(completed.transcript).toBe('Second 1. Last words.');
    expect(completed.item_id).toBe(committed.item_id);
    expect(committed.previous_item_id).toBeNull();
    const session = harness.worker?.sessions.at(-1);
    expect(session?.config?.turns).toEqual({ silence_duration_ms: 0, prefix_padding_ms: 0 });
    expect(session?.config?.interim_results).toBe(false);
    expect(session?.turns.ended).toBe(1);
    // 1.5 s at 24 kHz reached the worker as (nearly) 1.5 s at 16 kHz.
    expect(session?.audioBytes).toBeGreaterThan(48_000 - 256);
    client.ws.close();
    await client.closed;
    await waitFor(async () => {
      const metrics = await (await fetch(`${harness.baseUrl}/metrics`)).text();
      return metrics.includes(
        'stt_gateway_sessions_total{api="realtime",outcome="client_closed"} 1',
      );
    });
  });

  it('speaks the beta dialect to a client that sends OpenAI-Beta: realtime=v1', async () => {
    const client = await open(realtimeUrl(harness, '?intent=transcription&model=whisper-1'), {
      headers: { 'OpenAI-Beta': 'realtime=v1' },
    });
    const created = await client.next('transcription_session.created');
    expect(created.session).toMatchObject({ input_audio_format: 'pcm16' });
    client.ws.close();
    await client.closed;
  });

  it('answers a conversation session (a model in the URL) with an error event and close 1008', async () => {
    const client = await open(realtimeUrl(harness, '?model=gpt-4o-realtime-preview'));
    expect(await client.closed).toEqual({ code: 1008, reason: 'invalid_intent' });
    expect(client.events).toEqual([
      {
        event_id: expect.stringMatching(/^event_/) as unknown,
        type: 'error',
        error: expect.objectContaining({
          type: 'invalid_request_error',
          code: 'invalid_intent',
        }) as unknown,
      },
    ]);
  });

  it('answers a plain HTTP request with 426, Upgrade: websocket and how to connect', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await fetch(`${harness.baseUrl}/v1/realtime?intent=transcription`, {
        method,
      });
      expect(response.status, method).toBe(426);
      expect(response.headers.get('upgrade')).toBe('websocket');
      if (method === 'HEAD') continue;
      expect(await response.json()).toEqual({
        error: {
          message: `/v1/realtime is a WebSocket endpoint: connect with a WebSocket client to /v1/realtime?intent=transcription (got a plain ${method}).`,
          type: 'invalid_request_error',
          code: 'upgrade_required',
          param: null,
        },
      });
    }
  });

  it('leaves other upgrades on the HTTP port to the job events', async () => {
    expect(
      (await refusal(realtimeUrl(harness).replace('/v1/realtime', '/v1/realtimes'))).status,
    ).toBe(404);
  });
});

describe('Realtime endpoint with API keys', () => {
  it('needs the key: Bearer header or the browser subprotocol, which echoes realtime', async () => {
    const harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1' } });
    try {
      const refused = await refusal(realtimeUrl(harness));
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
      expect(
        (await refusal(realtimeUrl(harness), { headers: { Authorization: 'Bearer k2' } })).status,
      ).toBe(401);
      // ?token= is the WhisperLive port's browser form, not the HTTP API's.
      expect((await refusal(realtimeUrl(harness, '?intent=transcription&token=k1'))).status).toBe(
        401,
      );

      const byHeader = await open(realtimeUrl(harness), {
        headers: { Authorization: 'Bearer k1' },
      });
      await byHeader.next('session.created');
      byHeader.ws.close();
      const browser = await open(realtimeUrl(harness), {
        protocols: ['realtime', 'openai-insecure-api-key.k1'],
      });
      expect(browser.ws.protocol).toBe('realtime');
      await browser.next('session.created');
      browser.ws.close();
      await Promise.all([byHeader.closed, browser.closed]);
    } finally {
      await harness.close();
    }
  });
});
