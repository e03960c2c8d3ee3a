import { readFile } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine, PNG_BYTES } from '../support/fixtures.js';
import { audioForm, startHarness, type Harness } from '../support/harness.js';

describe('POST /transcribe', () => {
  let harness: Harness;
  let wav: Buffer;

  beforeAll(async () => {
    wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
    harness = await startHarness({ env: { GATEWAY_MAX_UPLOAD_BYTES: String(100 * 1024) } });
  });

  afterAll(async () => {
    await harness.close();
  });

  function post(form: FormData): Promise<Response> {
    return fetch(`${harness.baseUrl}/transcribe`, { method: 'POST', body: form });
  }

  it('answers exactly the legacy keys', async () => {
    const response = await post(
      audioForm(wav, 'speech.wav', { language: 'en', task: 'transcribe' }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      success: true,
      segments: [
        { start: 0, end: 1, text: 'Hello world.', no_speech_prob: 0.01 },
        { start: 1, end: 2, text: 'This is a test.', no_speech_prob: 0.01 },
      ],
      info: {
        language: 'en',
        language_probability: 0.98,
        duration: 2,
        duration_after_vad: 2,
        transcription_options: {
          beam_size: 5,
          best_of: 5,
          temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1],
          condition_on_previous_text: true,
          initial_prompt: null,
          hotwords: null,
          word_timestamps: false,
          vad_filter: true,
          no_speech_threshold: 0.6,
          compression_ratio_threshold: 2.4,
          log_prob_threshold: -1,
          task: 'transcribe',
        },
      },
      filename: 'speech.wav',
    });
    expect(await harness.tempFiles()).toEqual([]);
  });

  it('answers errors as {success: false, error} with the OpenAI status codes', async () => {
    const cases: [FormData, number][] = [
      [audioForm(Buffer.alloc(0), 'empty.wav'), 400],
      [audioForm(PNG_BYTES, 'x.wav'), 415],
      [audioForm(Buffer.alloc(150 * 1024, 1), 'big.wav'), 413],
      [audioForm(wav, 'a.wav', { task: 'summarise' }), 400],
      [audioForm(wav, 'a.wav', { model: 'gpt-4' }), 400],
    ];
    const missing = new FormData();
    missing.append('task', 'transcribe');
    cases.push([missing, 400]);
    for (const [form, status] of cases) {
      const response = await post(form);
      expect(response.status).toBe(status);
      const body = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['error', 'success']);
      expect(body.success).toBe(false);
      expect(typeof body.error).toBe('string');
    }
    expect(await harness.tempFiles()).toEqual([]);
  });

  it('translates when asked (English-only model: 400)', async () => {
    const response = await post(audioForm(wav, 'a.wav', { task: 'translate' }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/English-only/);
  });

  it('answers unknown routes 404 in the route family style', async () => {
    const legacy = await fetch(`${harness.baseUrl}/transcribe/nope`, { method: 'POST' });
    expect(legacy.status).toBe(404);
    expect(await legacy.json()).toMatchObject({ success: false });
    const openai = await fetch(`${harness.baseUrl}/v1/nope`);
    expect(openai.status).toBe(404);
    expect(await openai.json()).toMatchObject({ error: { code: 'unknown_url' } });
  });
});
