// The official `openai` Node SDK against a running server (the real worker and model).
// Driven by test_openai_node.py, which starts the server and sets STT_E2E_BASE_URL.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import OpenAI from 'openai';

const baseURL = process.env.STT_E2E_BASE_URL;
const audioDir = path.resolve(import.meta.dirname, '../../../shared/audio');
const JFK = path.join(audioDir, 'jfk.wav');
const REFERENCE =
  'and so my fellow americans ask not what your country can do for you ask what you can do for your country';

function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9' ]+/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

/** Word error rate by edit distance over words. */
function wer(reference: string, hypothesis: string): number {
  const ref = words(reference);
  const hyp = words(hypothesis);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= hyp.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      current.push(Math.min(substitution, (previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1));
    }
    previous = current;
  }
  return (previous[hyp.length] ?? 0) / ref.length;
}

function client(): OpenAI {
  if (baseURL === undefined) throw new Error('STT_E2E_BASE_URL is not set');
  return new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
}

describe('openai Node SDK', () => {
  it('transcribes real speech as json', async () => {
    const result = await client().audio.transcriptions.create({
      file: createReadStream(JFK),
      model: 'whisper-1',
    });
    expect(wer(REFERENCE, result.text)).toBeLessThanOrEqual(0.1);
  });

  it('returns verbose_json with ordered words inside segments', async () => {
    const result = await client().audio.transcriptions.create({
      file: createReadStream(JFK),
      model: 'whisper-1',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });
    expect(result.language).toBe('english');
    const segments = result.segments ?? [];
    const found = result.words ?? [];
    expect(segments.length).toBeGreaterThan(0);
    expect(found.length).toBeGreaterThan(5);
    let previous = 0;
    for (const word of found) {
      expect(word.start).toBeGreaterThanOrEqual(previous - 1e-6);
      expect(word.end).toBeGreaterThanOrEqual(word.start);
      expect(segments.some((s) => s.start - 0.02 <= word.start && word.end <= s.end + 0.02)).toBe(
        true,
      );
      previous = word.start;
    }
  });

  it('returns srt text', async () => {
    const srt = await client().audio.transcriptions.create({
      file: createReadStream(JFK),
      model: 'whisper-1',
      response_format: 'srt',
    });
    expect(srt).toMatch(/^1\r?\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\r?\n/);
  });

  it('streams deltas that concatenate to the final text', async () => {
    const stream = await client().audio.transcriptions.create({
      file: createReadStream(JFK),
      model: 'whisper-1',
      stream: true,
    });
    const deltas: string[] = [];
    let done: string | undefined;
    for await (const event of stream) {
      if (event.type === 'transcript.text.delta') deltas.push(event.delta);
      if (event.type === 'transcript.text.done') done = event.text;
    }
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.join('')).toBe(done);
    expect(wer(REFERENCE, done ?? '')).toBeLessThanOrEqual(0.1);
  });

  it('raises BadRequestError on an empty file', async () => {
    const empty = new File([new Uint8Array(0)], 'empty.wav', { type: 'audio/wav' });
    await expect(
      client().audio.transcriptions.create({ file: empty, model: 'whisper-1' }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
