import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import { receivedMs } from '../support/fake_worker.js';
import { STOCK_CLIENT_OPTIONS } from '../support/fixtures.js';
import { startHarness, waitFor, type Harness } from '../support/harness.js';

/** A raw `ws` client that records everything the server says. */
interface TestClient {
  readonly ws: WebSocket;
  /** Text frames received, as sent. */
  readonly texts: string[];
  /** Text frames received, parsed. */
  messages(): Record<string, unknown>[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Waits until `count` messages arrived. */
  waitForMessages(count: number): Promise<void>;
  /** Sends options and waits for the first message (SERVER_READY on success). */
  handshake(options: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const ws = new WebSocket(url, { headers });
  const texts: string[] = [];
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!isBinary && Buffer.isBuffer(data)) texts.push(data.toString('utf8'));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  const messages = (): Record<string, unknown>[] =>
    texts.map((text) => JSON.parse(text) as Record<string, unknown>);
  const waitForMessages = (count: number): Promise<void> => waitFor(() => texts.length >= count);
  return {
    ws,
    texts,
    messages,
    closed,
    waitForMessages,
    async handshake(options: Record<string, unknown>): Promise<Record<string, unknown>> {
      ws.send(JSON.stringify(options));
      await waitForMessages(1);
      return messages()[0] ?? {};
    },
  };
}

/** `ms` of a 440 Hz tone as float32 samples. */
function float32Tone(ms: number): Buffer {
  const samples = new Float32Array((ms * 16_000) / 1000);
  for (let i = 0; i < samples.length; i += 1)
    samples[i] = 0.3 * Math.sin((i * 2 * Math.PI * 440) / 16_000);
  return Buffer.from(samples.buffer);
}

/** Sends `audio` in frames of `frameBytes`, as clients do. */
function sendFrames(client: TestClient, audio: Buffer, frameBytes: number): void {
  for (let offset = 0; offset < audio.length; offset += frameBytes) {
    client.ws.send(audio.subarray(offset, offset + frameBytes));
  }
}

const READY = (uid: string): string =>
  JSON.stringify({ uid, message: 'SERVER_READY', backend: 'faster_whisper' });

describe('WhisperLive server', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ worker: { isMultilingual: true } });
  });

  afterEach(() => {
    if (harness.worker !== undefined) harness.worker.script = {};
  });

  afterAll(async () => {
    await harness.close();
  });

  function lastWorkerSession(): NonNullable<Harness['worker']>['sessions'][number] {
    const session = harness.worker?.sessions.at(-1);
    if (session === undefined) throw new Error('the worker saw no stream');
    return session;
  }

  it('serves a minimal client: SERVER_READY first, language, segments, final segments, 1000', async () => {
    const client = await connect(`${harness.wsUrl}/any/path?x=1`);
    expect(await client.handshake({ uid: 'min' })).toEqual({
      uid: 'min',
      message: 'SERVER_READY',
      backend: 'faster_whisper',
    });
    expect(lastWorkerSession().config).toMatchObject({
      encoding: 'AUDIO_ENCODING_FLOAT32',
      sample_rate_hertz: 16_000,
      mode: 'TRANSCRIPTION_MODE_LIVE',
      language_code: '',
      task: 'TASK_TRANSCRIBE',
      model: '',
      interim_results: true,
      enable_word_time_offsets: false,
      initial_prompt: '',
      hotwords: '',
      enable_vad: false,
      vad: null,
      same_output_threshold: 10,
    });
    expect(lastWorkerSession().config?.no_speech_threshold).toBeCloseTo(0.45, 6);

    // 1.5 s in the stock client's 16 384-byte frames (256 ms of float32 each).
    const audio = float32Tone(1500);
    sendFrames(client, audio, 16_384);
    await waitFor(() => receivedMs(lastWorkerSession()) === 1500);
    client.ws.send(Buffer.from('END_OF_AUDIO'));
    expect(await client.closed).toEqual({ code: 1000, reason: 'end of audio' });

    const session = lastWorkerSession();
    expect(Buffer.concat(session.audio).equals(audio)).toBe(true);
    expect(session.isHalfClosed).toBe(true);
    const messages = client.messages();
    expect(client.texts[0]).toBe(READY('min'));
    expect(messages[1]).toEqual({ uid: 'min', language: 'de', language_prob: 0.87 });
    expect(messages.slice(2).every((m) => Object.keys(m).join() === 'uid,segments')).toBe(true);
    expect(messages.at(-1)).toEqual({
      uid: 'min',
      segments: [
        { start: '0.000', end: '1.000', text: ' Second 1.', completed: true },
        { start: '1.000', end: '1.500', text: ' Last words.', completed: true },
      ],
    });
  });

  it("serves the stock client's full option set with int16 audio and word timestamps", async () => {
    const client = await connect(harness.wsUrl);
    const ready = await client.handshake({
      ...STOCK_CLIENT_OPTIONS,
      uid: 'full',
      hotwords: 'Kubernetes',
      word_timestamps: true,
      initial_prompt: 'Tech talk.',
      vad_parameters: { threshold: 0.6, min_silence_duration_ms: 700, speech_pad_ms: 200 },
      audio_format: 'int16',
    });
    expect(ready).toEqual({ uid: 'full', message: 'SERVER_READY', backend: 'faster_whisper' });
    expect(lastWorkerSession().config).toMatchObject({
      encoding: 'AUDIO_ENCODING_LINEAR16',
      language_code: 'en',
      model: 'small',
      enable_word_time_offsets: true,
      initial_prompt: 'Tech talk.',
      hotwords: 'Kubernetes',
      enable_vad: true,
      vad: { min_silence_ms: 700, speech_pad_ms: 200 },
    });
    expect(lastWorkerSession().config?.vad?.threshold).toBeCloseTo(0.6, 6);

    const audio = Buffer.alloc(2 * 16 * 1200);
    for (let i = 0; i < audio.length / 2; i += 1)
      audio.writeInt16LE(((i * 37) % 65536) - 32768, i * 2);
    sendFrames(client, audio, 4096);
    await waitFor(() => lastWorkerSession().audioBytes === audio.length);
    client.ws.send('END_OF_AUDIO');
    expect((await client.closed).code).toBe(1000);

    expect(Buffer.concat(lastWorkerSession().audio).equals(audio)).toBe(true);
    const messages = client.messages();
    expect(messages.some((m) => 'language' in m)).toBe(false);
    expect(messages.at(-1)).toEqual({
      uid: 'full',
      segments: [
        {
          start: '0.000',
          end: '1.000',
          text: ' Second 1.',
          completed: true,
          words: [{ word: ' Second 1.', start: '0.000', end: '1.000', probability: 0.9123 }],
        },
        {
          start: '1.000',
          end: '1.200',
          text: ' Last words.',
          completed: true,
          words: [{ word: ' Last words.', start: '1.000', end: '1.200', probability: 0.9123 }],
        },
      ],
    });
  });

  it('converts uint8 audio to LINEAR16 for the worker', async () => {
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'u8', language: 'en', audio_format: 'uint8' });
    client.ws.send(Buffer.from([0, 128, 255]));
    client.ws.send(Buffer.from([64]));
    await waitFor(() => lastWorkerSession().audioBytes === 8);
    expect(Buffer.concat(lastWorkerSession().audio)).toEqual(
      Buffer.from([0x00, 0x80, 0x00, 0x00, 0x00, 0x7f, 0x00, 0xc0]),
    );
    client.ws.close();
    await client.closed;
  });

  it('sends partial updates as audio arrives', async () => {
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'p', language: 'en' });
    client.ws.send(float32Tone(300));
    await client.waitForMessages(2);
    expect(client.messages()[1]).toEqual({
      uid: 'p',
      segments: [{ start: '0.000', end: '0.300', text: ' partial', completed: false }],
    });
    client.ws.close();
    await client.closed;
    await waitFor(() => lastWorkerSession().isCancelled);
  });

  it('refuses malformed first messages with ERROR and 1008 while another session works', async () => {
    const good = await connect(harness.wsUrl);
    expect(await good.handshake({ uid: 'good', language: 'en' })).toMatchObject({
      message: 'SERVER_READY',
    });
    const cases: [string | Buffer, string][] = [
      [
        'this is not json',
        '{"uid":"","status":"ERROR","message":"the first message must be the options JSON"}',
      ],
      [
        '{"language": "en"}',
        '{"uid":"","status":"ERROR","message":"the options message needs a \\"uid\\" (string)"}',
      ],
      [
        '{"uid": "bad", "use_vad": "yes"}',
        '{"uid":"bad","status":"ERROR","message":"invalid options: \\"use_vad\\" must be a boolean (true or false), got a string"}',
      ],
      [
        Buffer.from(float32Tone(10)),
        '{"uid":"","status":"ERROR","message":"the first message must be a text frame with the options JSON"}',
      ],
    ];
    const streamsBefore = harness.worker?.sessions.length;
    for (const [first, expected] of cases) {
      const bad = await connect(harness.wsUrl);
      bad.ws.send(first);
      expect(await bad.closed).toEqual({ code: 1008, reason: 'invalid options' });
      expect(bad.texts).toEqual([expected]);
    }
    expect(harness.worker?.sessions.length).toBe(streamsBefore);

    good.ws.send(float32Tone(1000));
    good.ws.send(Buffer.from('END_OF_AUDIO'));
    expect((await good.closed).code).toBe(1000);
    expect(good.messages().at(-1)).toEqual({
      uid: 'good',
      segments: [{ start: '0.000', end: '1.000', text: ' Second 1.', completed: true }],
    });
  });

  it('refuses a frame that is not a whole number of samples with ERROR and 1007', async () => {
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'odd' });
    client.ws.send(Buffer.alloc(4097));
    expect(await client.closed).toEqual({ code: 1007, reason: 'invalid audio frame' });
    expect(client.messages().at(-1)).toEqual({
      uid: 'odd',
      status: 'ERROR',
      message: 'frame of 4097 bytes is not a whole number of float32 samples',
    });
    await waitFor(() => lastWorkerSession().isCancelled);
  });

  it('reports a worker failing mid-stream as ERROR "worker unavailable"', async () => {
    if (harness.worker === undefined) throw new Error('no worker');
    harness.worker.script = {
      live: {
        failAfterBytes: {
          bytes: 32_000,
          error: { code: grpc.status.UNAVAILABLE, details: 'engine gone' },
        },
      },
    };
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'dies' });
    client.ws.send(float32Tone(600));
    expect(await client.closed).toEqual({ code: 1011, reason: 'worker unavailable' });
    expect(client.messages().at(-1)).toEqual({
      uid: 'dies',
      status: 'ERROR',
      message: 'worker unavailable',
    });
  });

  it('passes the worker refusing the config on as ERROR and 1008', async () => {
    if (harness.worker === undefined) throw new Error('no worker');
    harness.worker.script = {
      failOnConfig: {
        code: grpc.status.INVALID_ARGUMENT,
        details: "model 'tiny.en' is English-only and cannot translate; use a multilingual model",
      },
    };
    const client = await connect(harness.wsUrl);
    client.ws.send(JSON.stringify({ uid: 'tr', task: 'translate' }));
    expect(await client.closed).toEqual({ code: 1008, reason: 'invalid options' });
    expect(client.texts).toEqual([
      '{"uid":"tr","status":"ERROR","message":"model \'tiny.en\' is English-only and cannot translate; use a multilingual model"}',
    ]);
  });

  it('answers WAIT when the worker is at capacity', async () => {
    if (harness.worker === undefined) throw new Error('no worker');
    harness.worker.script = {
      failOnConfig: {
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: 'the worker serves at most 4 streams',
        retryAfterMs: 30_000,
      },
    };
    const client = await connect(harness.wsUrl);
    client.ws.send(JSON.stringify({ uid: 'busy' }));
    expect(await client.closed).toEqual({ code: 1013, reason: 'worker busy' });
    expect(client.texts).toEqual(['{"uid":"busy","status":"WAIT","message":0.5}']);
  });

  it('gives every session a request id: the valid x-request-id offered, else a new one', async () => {
    const upgradeId = async (headers: Record<string, string>): Promise<unknown> => {
      const ws = new WebSocket(harness.wsUrl, { headers });
      const id = await new Promise<unknown>((resolve, reject) => {
        ws.once('upgrade', (response) => {
          resolve(response.headers['x-request-id']);
        });
        ws.once('error', reject);
      });
      ws.close();
      return id;
    };
    expect(await upgradeId({ 'x-request-id': 'trace-42:a.b_c' })).toBe('trace-42:a.b_c');
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(await upgradeId({})).toMatch(uuid);
    expect(await upgradeId({ 'x-request-id': 'has spaces' })).toMatch(uuid);
    expect(await upgradeId({ 'x-request-id': 'x'.repeat(129) })).toMatch(uuid);

    const client = await connect(harness.wsUrl, { 'x-request-id': 'to-the-worker-1' });
    expect(await client.handshake({ uid: 'rid' })).toMatchObject({ message: 'SERVER_READY' });
    expect(lastWorkerSession().requestId).toBe('to-the-worker-1');
    client.ws.close();
    await client.closed;
  });

  it('cancels the worker call when the client goes away', async () => {
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'gone' });
    client.ws.send(float32Tone(100));
    await waitFor(() => lastWorkerSession().audioBytes > 0);
    client.ws.terminate();
    await waitFor(() => lastWorkerSession().isCancelled);
  });
});

describe('WhisperLive server limits', () => {
  it('answers WAIT when all sessions are taken, and DISCONNECT at the time limit', async () => {
    const harness = await startHarness({
      env: { GATEWAY_WS_MAX_SESSIONS: '1', GATEWAY_WS_MAX_CONNECTION_TIME_S: '1.5' },
    });
    try {
      const first = await connect(harness.wsUrl);
      await first.handshake({ uid: 'first' });
      const second = await connect(harness.wsUrl);
      second.ws.send(JSON.stringify({ uid: 'second' }));
      expect(await second.closed).toEqual({ code: 1013, reason: 'server full' });
      const [wait] = second.messages();
      expect(Object.keys(wait ?? {})).toEqual(['uid', 'status', 'message']);
      expect(wait).toMatchObject({ uid: 'second', status: 'WAIT' });
      expect(wait?.message).toBeGreaterThan(0);
      expect(wait?.message).toBeLessThanOrEqual(0.025);

      // The first client sends nothing more; the timer still ends it.
      expect(await first.closed).toEqual({ code: 1000, reason: 'session time limit reached' });
      expect(first.messages().at(-1)).toEqual({ uid: 'first', message: 'DISCONNECT' });
      await waitFor(() => harness.worker?.sessions[0]?.isCancelled === true);

      const third = await connect(harness.wsUrl);
      expect(await third.handshake({ uid: 'third' })).toMatchObject({ message: 'SERVER_READY' });
      third.ws.close();
      await third.closed;
    } finally {
      await harness.close();
    }
  });

  it('needs the API key at the upgrade when keys are configured', async () => {
    const harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1,k2' } });
    try {
      const refused = new WebSocket(harness.wsUrl);
      const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        refused.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
        });
        refused.on('open', () => {
          reject(new Error('upgraded without a key'));
        });
        refused.on('error', () => undefined);
      });
      expect(response).toEqual({ status: 401, body: 'Unauthorized\n' });

      const wrong = new WebSocket(harness.wsUrl, {
        headers: { Authorization: 'Bearer nope', 'x-request-id': 'refused-1' },
      });
      const answer = await new Promise<{ status: number; id: unknown }>((resolve) => {
        wrong.on('unexpected-response', (_req, res) => {
          resolve({ status: res.statusCode ?? 0, id: res.headers['x-request-id'] });
          res.resume();
        });
        wrong.on('error', () => undefined);
      });
      // A refused upgrade still names its request id, as its log line does.
      expect(answer).toEqual({ status: 401, id: 'refused-1' });

      const byHeader = await connect(harness.wsUrl, { Authorization: 'Bearer k2' });
      expect(await byHeader.handshake({ uid: 'h' })).toMatchObject({ message: 'SERVER_READY' });
      const byToken = await connect(`${harness.wsUrl}/?token=k1`);
      expect(await byToken.handshake({ uid: 't' })).toMatchObject({ message: 'SERVER_READY' });
      byHeader.ws.close();
      byToken.ws.close();
      await Promise.all([byHeader.closed, byToken.closed]);
    } finally {
      await harness.close();
    }
  });

  it('reports a killed worker as ERROR "worker unavailable" and 1011', async () => {
    const harness = await startHarness();
    try {
      const client = await connect(harness.wsUrl);
      await client.handshake({ uid: 'k' });
      client.ws.send(float32Tone(200));
      await waitFor(() => (harness.worker?.sessions[0]?.audioBytes ?? 0) > 0);
      harness.worker?.kill();
      expect(await client.closed).toEqual({ code: 1011, reason: 'worker unavailable' });
      expect(client.messages().at(-1)).toEqual({
        uid: 'k',
        status: 'ERROR',
        message: 'worker unavailable',
      });
    } finally {
      await harness.close();
    }
  });

  it('drops a client that stops answering pings, and keeps one that answers', async () => {
    const harness = await startHarness({ wsTimings: { heartbeatMs: 250 } });
    try {
      const silent = new WebSocket(harness.wsUrl, { autoPong: false });
      silent.on('error', () => undefined);
      const silentClosed = new Promise<number>((resolve) => {
        silent.on('close', (code: number) => {
          resolve(code);
        });
      });
      const alive = await connect(harness.wsUrl);
      await alive.handshake({ uid: 'alive' });
      expect(await silentClosed).toBe(1006);
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(alive.ws.readyState).toBe(WebSocket.OPEN);
      alive.ws.close();
      await alive.closed;
    } finally {
      await harness.close();
    }
  });

  it('refuses frames over the payload limit and plain HTTP requests', async () => {
    const harness = await startHarness({ wsTimings: { maxPayloadBytes: 64 * 1024 } });
    try {
      const client = await connect(harness.wsUrl);
      await client.handshake({ uid: 'big' });
      client.ws.send(Buffer.alloc(64 * 1024 + 4));
      expect((await client.closed).code).toBe(1009);
      await waitFor(() => harness.worker?.sessions[0]?.isCancelled === true);

      const response = await fetch(harness.wsUrl.replace('ws:', 'http:'));
      expect(response.status).toBe(426);
      expect(response.headers.get('upgrade')).toBe('websocket');
    } finally {
      await harness.close();
    }
  });

  it('drains on shutdown: refuses new sessions, lets running ones finish within the grace', async () => {
    const harness = await startHarness({ env: { GATEWAY_DRAIN_GRACE_S: '20' } });
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'drained' });
    const closing = harness.close();
    // The listener is closed at once: a new client cannot connect.
    await waitFor(
      async () =>
        await connect(harness.wsUrl).then(
          () => false,
          () => true,
        ),
    );
    // The running session goes on: more audio, END_OF_AUDIO, its last results, a normal close.
    sendFrames(client, float32Tone(1000), 16_000);
    await waitFor(() => {
      const session = harness.worker?.sessions.at(-1);
      return session !== undefined && receivedMs(session) === 1000;
    });
    client.ws.send(Buffer.from('END_OF_AUDIO'));
    expect(await client.closed).toEqual({ code: 1000, reason: 'end of audio' });
    expect(client.messages().at(-1)).toMatchObject({
      uid: 'drained',
      segments: expect.any(Array) as unknown,
    });
    await closing;
  });

  it('says DISCONNECT to live sessions when the gateway shuts down', async () => {
    const harness = await startHarness();
    const client = await connect(harness.wsUrl);
    await client.handshake({ uid: 'bye' });
    const waiting = await connect(harness.wsUrl);
    await harness.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'server shutdown' });
    expect(client.messages().at(-1)).toEqual({ uid: 'bye', message: 'DISCONNECT' });
    expect(await waiting.closed).toEqual({ code: 1001, reason: 'server shutdown' });
    expect(waiting.texts).toEqual([]);
  });
});
