import { readFile } from 'node:fs/promises';
import http from 'node:http';

import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  MAX_FIELD_CHARS,
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_PROMPT_CHARS,
} from '../../../gateway/src/http/form.js';
import { fixtureDir, makeSine, noiseBytes, PNG_BYTES } from '../support/fixtures.js';
import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';

const TRANSCRIPTIONS = '/v1/audio/transcriptions';
const TRANSLATIONS = '/v1/audio/translations';

interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string };
}

async function expectOpenAiError(
  response: Response,
  status: number,
  param: string | null,
): Promise<OpenAiError['error']> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as OpenAiError;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(typeof body.error.type).toBe('string');
  expect(typeof body.error.code).toBe('string');
  expect(body.error.param).toBe(param);
  return body.error;
}

/** Parses an SSE body into its `data:` JSON payloads. */
function sseEvents(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => JSON.parse(block.slice('data: '.length)) as unknown);
}

let wav: Buffer;
let mp3: Buffer;

beforeAll(async () => {
  const dir = await fixtureDir();
  wav = await readFile(await makeSine(dir, 'wav', 2));
  mp3 = await readFile(await makeSine(dir, 'mp3', 2));
});

describe('POST /v1/audio/transcriptions', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ env: { GATEWAY_MAX_UPLOAD_BYTES: String(200 * 1024) } });
  });

  afterAll(async () => {
    await harness.close();
  });

  afterEach(async () => {
    expect(await harness.tempFiles()).toEqual([]);
    if (harness.worker !== undefined) harness.worker.script = {};
  });

  function post(
    form: FormData,
    path = TRANSCRIPTIONS,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(`${harness.baseUrl}${path}`, { method: 'POST', body: form, headers });
  }

  it('answers json with the segment texts stripped and joined', async () => {
    const response = await post(audioForm(wav, 'a.wav', { model: 'whisper-1' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ text: 'Hello world. This is a test.' });
  });

  it('sends the worker a LINEAR16 file-mode config and all decoded audio in chunks', async () => {
    await post(
      audioForm(mp3, 'a.mp3', { prompt: 'Vocabulary.', temperature: '0.4', language: 'EN' }),
    );
    const session = harness.worker?.sessions.at(-1);
    expect(session?.config).toMatchObject({
      encoding: 'AUDIO_ENCODING_LINEAR16',
      sample_rate_hertz: 16000,
      mode: 'TRANSCRIPTION_MODE_FILE',
      task: 'TASK_TRANSCRIBE',
      language_code: 'en',
      initial_prompt: 'Vocabulary.',
      interim_results: false,
      enable_word_time_offsets: false,
    });
    expect(session?.config?.temperature).toBeCloseTo(0.4, 5);
    expect(session?.chunks).toBeGreaterThanOrEqual(8);
    expect(session?.audioBytes).toBeGreaterThan(60_000);
  });

  it('asks for coarse segments only when the response carries no segment times', async () => {
    const coarse: Record<string, boolean> = {};
    for (const format of ['json', 'text', 'srt', 'vtt', 'verbose_json']) {
      const response = await post(audioForm(wav, 'a.wav', { response_format: format }));
      expect(response.status).toBe(200);
      coarse[format] = harness.worker?.sessions.at(-1)?.config?.coarse_segments ?? false;
    }
    expect(coarse).toEqual({
      json: true,
      text: true,
      srt: false,
      vtt: false,
      verbose_json: false,
    });
  });

  it('answers text as text/plain with a trailing newline', async () => {
    const response = await post(audioForm(wav, 'a.wav', { response_format: 'text' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('Hello world. This is a test.\n');
  });

  it('answers srt with numbered cues', async () => {
    const response = await post(audioForm(wav, 'a.wav', { response_format: 'srt' }));
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(
      '1\n00:00:00,000 --> 00:00:01,000\nHello world.\n\n' +
        '2\n00:00:01,000 --> 00:00:02,000\nThis is a test.\n\n',
    );
  });

  it('answers vtt with a WEBVTT header', async () => {
    const response = await post(audioForm(wav, 'a.wav', { response_format: 'vtt' }));
    expect(await response.text()).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello world.\n\n' +
        '00:00:01.000 --> 00:00:02.000\nThis is a test.\n\n',
    );
  });

  it('answers verbose_json with segments and no words by default', async () => {
    const response = await post(audioForm(wav, 'a.wav', { response_format: 'verbose_json' }));
    expect(await response.json()).toEqual({
      task: 'transcribe',
      language: 'english',
      duration: 2,
      text: 'Hello world. This is a test.',
      segments: [
        {
          id: 0,
          seek: 0,
          start: 0,
          end: 1,
          text: ' Hello world.',
          tokens: [50364, 2425, 1002],
          temperature: 0,
          avg_logprob: -0.25,
          compression_ratio: 1.2,
          no_speech_prob: 0.01,
        },
        {
          id: 1,
          seek: 0,
          start: 1,
          end: 2,
          text: ' This is a test.',
          tokens: [50365, 2425, 1002],
          temperature: 0,
          avg_logprob: -0.25,
          compression_ratio: 1.2,
          no_speech_prob: 0.01,
        },
      ],
    });
  });

  it('adds words when word granularity is asked (both spellings of the field)', async () => {
    for (const field of ['timestamp_granularities[]', 'timestamp_granularities']) {
      const response = await post(
        audioForm(wav, 'a.wav', { response_format: 'verbose_json', [field]: ['word', 'segment'] }),
      );
      const body = (await response.json()) as { words: unknown[]; segments: unknown[] };
      expect(body.segments).toHaveLength(2);
      expect(body.words).toEqual([
        { word: 'Hello', start: 0, end: 0.5 },
        { word: 'world.', start: 0.5, end: 1 },
        { word: 'This', start: 1, end: 1.25 },
        { word: 'is', start: 1.25, end: 1.5 },
        { word: 'a', start: 1.5, end: 1.75 },
        { word: 'test.', start: 1.75, end: 2 },
      ]);
      expect(harness.worker?.sessions.at(-1)?.config?.enable_word_time_offsets).toBe(true);
    }
  });

  it('leaves segments out when only word granularity is asked', async () => {
    const response = await post(
      audioForm(wav, 'a.wav', {
        response_format: 'verbose_json',
        'timestamp_granularities[]': 'word',
      }),
    );
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['task', 'language', 'duration', 'text', 'words']);
  });

  it('streams deltas that concatenate to the done text', async () => {
    const response = await post(audioForm(wav, 'a.wav', { stream: 'true' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(await response.text()) as {
      type: string;
      delta?: string;
      text?: string;
    }[];
    expect(events).toEqual([
      { type: 'transcript.text.delta', delta: 'Hello world.' },
      { type: 'transcript.text.delta', delta: ' This is a test.' },
      { type: 'transcript.text.done', text: 'Hello world. This is a test.' },
    ]);
    const deltas = events.flatMap((e) => (e.delta === undefined ? [] : [e.delta])).join('');
    expect(deltas).toBe(events.at(-1)?.text);
  });

  it('reports a failure after the stream started as an error event', async () => {
    if (harness.worker !== undefined) {
      harness.worker.script = {
        failAtEnd: { code: grpc.status.INTERNAL, details: 'engine exploded' },
      };
    }
    const response = await post(audioForm(wav, 'a.wav', { stream: 'true' }));
    expect(response.status).toBe(200);
    const events = sseEvents(await response.text()) as Record<string, unknown>[];
    expect(events.at(0)).toEqual({ type: 'transcript.text.delta', delta: 'Hello world.' });
    expect(events.at(-1)).toMatchObject({
      error: { code: 'internal_error', type: 'server_error' },
    });
  });

  it('rejects stream with formats other than json and text', async () => {
    await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { stream: 'true', response_format: 'srt' })),
      400,
      'stream',
    );
  });

  it('rejects an empty file with 400', async () => {
    const error = await expectOpenAiError(
      await post(audioForm(Buffer.alloc(0), 'empty.wav')),
      400,
      'file',
    );
    expect(error.type).toBe('invalid_request_error');
  });

  it('rejects random bytes with 415', async () => {
    const error = await expectOpenAiError(
      await post(audioForm(noiseBytes(64 * 1024), 'noise.wav')),
      415,
      'file',
    );
    expect(error.code).toBe('unsupported_media_type');
  });

  it('rejects a PNG named .wav with 415', async () => {
    await expectOpenAiError(await post(audioForm(PNG_BYTES, 'picture.wav')), 415, 'file');
  });

  it('rejects a recognised container that does not decode with 400', async () => {
    const corrupt = Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), noiseBytes(400)]);
    const error = await expectOpenAiError(await post(audioForm(corrupt, 'bad.wav')), 400, 'file');
    expect(error.code).toBe('invalid_audio');
    expect(error.message).not.toContain(harness.tmpDir);
  });

  it('rejects a truncated MP3 header with 400 and transcribes a truncated body', async () => {
    await expectOpenAiError(await post(audioForm(mp3.subarray(0, 200), 'cut.mp3')), 400, 'file');
    const half = await post(audioForm(mp3.subarray(0, mp3.length / 2), 'half.mp3'));
    expect(half.status).toBe(200);
  });

  it('rejects a file over the limit with 413', async () => {
    const big = Buffer.concat([wav, Buffer.alloc(200 * 1024)]);
    const error = await expectOpenAiError(await post(audioForm(big, 'big.wav')), 413, 'file');
    expect(error.code).toBe('file_too_large');
  });

  it('rejects a request without a file with 400', async () => {
    const form = new FormData();
    form.append('model', 'whisper-1');
    await expectOpenAiError(await post(form), 400, 'file');
    const json = await fetch(`${harness.baseUrl}${TRANSCRIPTIONS}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await expectOpenAiError(json, 400, 'file');
  });

  it('rejects a file in another field with 400', async () => {
    const form = new FormData();
    form.append('audio', new Blob([wav]), 'a.wav');
    await expectOpenAiError(await post(form), 400, 'file');
  });

  it('rejects an unknown response_format with 400', async () => {
    await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { response_format: 'xml' })),
      400,
      'response_format',
    );
  });

  it('rejects text fields over their caps with 400 naming the field', async () => {
    const over = {
      prompt: 'p'.repeat(MAX_PROMPT_CHARS + 1),
      language: 'l'.repeat(MAX_LANGUAGE_CHARS + 1),
      model: 'm'.repeat(MAX_MODEL_CHARS + 1),
      response_format: 'r'.repeat(MAX_FIELD_CHARS + 1),
    };
    for (const [name, value] of Object.entries(over)) {
      const error = await expectOpenAiError(
        await post(audioForm(wav, 'a.wav', { [name]: value })),
        400,
        name,
      );
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'field_too_long' });
      expect(error.message).toBe(
        `'${name}' must be at most ${value.length - 1} characters, got ${value.length}.`,
      );
    }
    const atCap = await post(audioForm(wav, 'a.wav', { prompt: 'p'.repeat(MAX_PROMPT_CHARS) }));
    expect(atCap.status).toBe(200);
  });

  it('rejects temperatures outside 0..1 with 400', async () => {
    for (const temperature of ['3', '-0.1', 'warm']) {
      await expectOpenAiError(
        await post(audioForm(wav, 'a.wav', { temperature })),
        400,
        'temperature',
      );
    }
  });

  it('rejects timestamp_granularities without verbose_json, and unknown ones', async () => {
    await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { 'timestamp_granularities[]': 'word' })),
      400,
      'timestamp_granularities',
    );
    await expectOpenAiError(
      await post(
        audioForm(wav, 'a.wav', {
          response_format: 'verbose_json',
          'timestamp_granularities[]': 'char',
        }),
      ),
      400,
      'timestamp_granularities',
    );
  });

  it('accepts whisper-1, standard names and the served model, and rejects others', async () => {
    for (const model of ['whisper-1', 'base', 'tiny.en']) {
      expect((await post(audioForm(wav, 'a.wav', { model }))).status).toBe(200);
    }
    const error = await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { model: 'no-such-model' })),
      400,
      'model',
    );
    expect(error.code).toBe('model_not_found');
  });

  it('rejects unknown languages and languages the model lacks', async () => {
    await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { language: 'xx' })),
      400,
      'language',
    );
    await expectOpenAiError(
      await post(audioForm(wav, 'a.wav', { language: 'de' })),
      400,
      'language',
    );
  });

  it('maps RESOURCE_EXHAUSTED to 503 with Retry-After from retry-after-ms', async () => {
    if (harness.worker !== undefined) {
      harness.worker.script = {
        failOnConfig: {
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: 'queue full',
          retryAfterMs: 2500,
        },
      };
    }
    const response = await post(audioForm(wav, 'a.wav'));
    const error = await expectOpenAiError(response, 503, null);
    expect(error.code).toBe('worker_busy');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('retry-after-ms')).toBe('2500');
  });

  it('maps the other worker status codes', async () => {
    const cases: [grpc.status, number, string][] = [
      [grpc.status.INVALID_ARGUMENT, 400, 'invalid_request'],
      [grpc.status.UNAVAILABLE, 503, 'worker_unavailable'],
      [grpc.status.DEADLINE_EXCEEDED, 504, 'deadline_exceeded'],
      [grpc.status.INTERNAL, 500, 'internal_error'],
      [grpc.status.UNKNOWN, 500, 'internal_error'],
    ];
    for (const [code, status, errorCode] of cases) {
      if (harness.worker !== undefined) {
        harness.worker.script = { failOnConfig: { code, details: 'scripted failure' } };
      }
      const response = await post(audioForm(wav, 'a.wav'));
      const error = await expectOpenAiError(response, status, null);
      expect(error.code).toBe(errorCode);
      if (status === 503) expect(response.headers.get('retry-after')).toBe('1');
      if (status === 500) expect(error.message).not.toContain('scripted');
      if (status === 400) expect(error.message).toBe('scripted failure');
    }
  });

  it('echoes x-request-id and passes it to the worker', async () => {
    const response = await post(audioForm(wav, 'a.wav'), TRANSCRIPTIONS, {
      'x-request-id': 'req-123',
    });
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect(harness.worker?.sessions.at(-1)?.requestId).toBe('req-123');
    const generated = await post(audioForm(wav, 'a.wav'));
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves concurrent requests independently', async () => {
    const forms = Array.from({ length: 6 }, (_, i) =>
      audioForm(i % 2 === 0 ? wav : mp3, i === 5 ? 'bad.wav' : 'a.wav'),
    );
    forms[5] = audioForm(PNG_BYTES, 'bad.wav');
    const statuses = await Promise.all(forms.map(async (form) => (await post(form)).status));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 415]);
  });

  it('removes the partial upload when the client disconnects mid-upload', async () => {
    const { port } = new URL(harness.baseUrl);
    const boundary = 'xBOUNDARYx';
    await new Promise<void>((resolve, reject) => {
      const request = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: TRANSCRIPTIONS,
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': '100000',
        },
      });
      request.on('error', () => {
        resolve();
      });
      request.write(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n` +
          'Content-Type: audio/wav\r\n\r\n',
      );
      request.write(wav.subarray(0, 30_000), () => {
        waitFor(async () => (await harness.tempFiles()).length === 1).then(() => {
          request.destroy();
          resolve();
        }, reject);
      });
      request.on('response', () => {
        reject(new Error('unexpected response'));
      });
    });
    await waitFor(async () => (await harness.tempFiles()).length === 0);
    expect((await fetch(`${harness.baseUrl}/health`)).status).toBe(200);
  });

  it('cancels the worker call and removes the temp file when the client leaves', async () => {
    if (harness.worker !== undefined) harness.worker.script = { isHanging: true };
    const before = harness.worker?.sessions.length ?? 0;
    const controller = new AbortController();
    const pending = fetch(`${harness.baseUrl}${TRANSCRIPTIONS}`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav'),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await waitFor(() => harness.worker?.sessions.at(before)?.audioBytes === 64_000);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(() => harness.worker?.sessions.at(before)?.isCancelled === true);
    await waitFor(async () => (await harness.tempFiles()).length === 0);
  });
});

describe('POST /v1/audio/translations', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ worker: { isMultilingual: true } });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('asks the worker to translate and ignores language', async () => {
    const response = await fetch(`${harness.baseUrl}${TRANSLATIONS}`, {
      method: 'POST',
      body: audioForm(wav, 'a.wav', { language: 'de', response_format: 'verbose_json' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { task: string; language: string };
    expect(body.task).toBe('translate');
    expect(body.language).toBe('english');
    const config = harness.worker?.sessions.at(-1)?.config;
    expect(config?.task).toBe('TASK_TRANSLATE');
    expect(config?.language_code).toBe('');
    expect(await harness.tempFiles()).toEqual([]);
  });
});
