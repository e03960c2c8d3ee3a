/**
 * Property-based tests of the WhisperLive protocol parsers (issue #9): whatever a hostile
 * client sends, `parseOptionsMessage`, `decodeAudioFrame` and `isEndOfAudio` answer, quickly,
 * without throwing. Fixed seed and run counts, so a failure reproduces and the suite keeps
 * its time budget; fast-check prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  AUDIO_FORMATS,
  decodeAudioFrame,
  END_OF_AUDIO,
  isEndOfAudio,
  MAX_HF_TOKEN_CHARS,
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_OPTIONS_MESSAGE_BYTES,
  MAX_PROMPT_CHARS,
  MAX_UID_CHARS,
  parseOptionsMessage,
  sampleWidthBytes,
  type OptionsParseResult,
} from '../../../gateway/src/ws/protocol.js';

const SEED = 20_260_909;

/** Runs of the cheap properties, and of the ones whose inputs reach the size cap. */
const RUNS = 1000;
const BIG_RUNS = 100;

/** A parse of at most 64 KiB must not hold the event loop longer than this, in ms. */
const SLOW_PARSE_MS = 100;

/** Any UTF-16 unit, lone surrogates and controls included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

/** Strings of any UTF-16 units. */
const anyText = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: anyUnit, maxLength });

/** Checks the shape every answer has, valid or not. */
function expectWellFormed(result: OptionsParseResult): void {
  expect(typeof result.isValid).toBe('boolean');
  if (result.isValid) {
    expect(typeof result.options.uid).toBe('string');
    expect(result.options.uid.length).toBeLessThanOrEqual(MAX_UID_CHARS);
  } else {
    expect(typeof result.uid).toBe('string');
    expect(result.uid.length).toBeLessThanOrEqual(MAX_UID_CHARS);
    expect(result.message.length).toBeGreaterThan(0);
    // The refusal goes back to the client: it never grows with the input.
    expect(result.message.length).toBeLessThan(2048);
  }
}

function timedParse(text: string): { ms: number; result: OptionsParseResult } {
  const started = performance.now();
  const result = parseOptionsMessage(text);
  return { ms: performance.now() - started, result };
}

/** A valid options object as a client sends it, and what the parser must make of it. */
const validOptions = fc.record(
  {
    uid: fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme-ascii', maxLength: MAX_UID_CHARS })),
    language: fc.option(fc.constantFrom('en', 'de', 'yue', 'haw'), { nil: null }),
    task: fc.constantFrom('transcribe', 'translate'),
    model: fc.option(fc.constantFrom('tiny.en', 'base', 'large-v3', 'org/repo'), { nil: null }),
    use_vad: fc.boolean(),
    send_last_n_segments: fc.integer({ min: 1, max: 1000 }),
    no_speech_thresh: fc.double({ min: 0, max: 1, noNaN: true }),
    clip_audio: fc.boolean(),
    same_output_threshold: fc.integer({ min: 0, max: 1000 }),
    initial_prompt: fc.option(fc.string({ unit: 'grapheme', maxLength: 200 }), { nil: null }),
    hotwords: fc.option(fc.string({ unit: 'grapheme', maxLength: 50 }), { nil: null }),
    word_timestamps: fc.boolean(),
    enable_translation: fc.boolean(),
    target_language: fc.constantFrom('fr', 'es'),
    enable_diarization: fc.boolean(),
    diarization_threshold: fc.double({ min: 0, max: 1, noNaN: true }),
    max_speakers: fc.integer({ min: 1, max: 1000 }),
    audio_format: fc.constantFrom(...AUDIO_FORMATS),
    vad_parameters: fc.option(
      fc.record(
        {
          threshold: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
          min_speech_duration_ms: fc.integer({ min: 0, max: 10_000 }),
          min_silence_duration_ms: fc.integer({ min: 0, max: 10_000 }),
          speech_pad_ms: fc.integer({ min: 0, max: 10_000 }),
          max_speech_duration_s: fc.oneof(
            fc.constant(Number.POSITIVE_INFINITY),
            fc.integer({ min: 1, max: 3600 }),
          ),
        },
        { requiredKeys: [] },
      ),
      { nil: null },
    ),
  },
  { requiredKeys: ['uid'] },
);

type ValidOptions = typeof validOptions extends fc.Arbitrary<infer T> ? T : never;

const PYTHON_FLOATS = new Map<number, string>([
  [Number.POSITIVE_INFINITY, 'Infinity'],
  [Number.NEGATIVE_INFINITY, '-Infinity'],
  [Number.NaN, 'NaN'],
]);

/** JSON as Python's `json.dumps` writes it: `Infinity`, `-Infinity` and `NaN` bare. */
function pythonDumps(value: unknown): string {
  let text = JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && PYTHON_FLOATS.has(v) ? `__PY_${String(v)}__` : v,
  );
  for (const [number, spelling] of PYTHON_FLOATS) {
    text = text.replaceAll(`"__PY_${String(number)}__"`, spelling);
  }
  return text;
}

/** One edit of a serialised message: truncation, insertion, deletion or a swapped value. */
const textMutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: anyText(8) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.nat({ max: 8 }) }),
);

type TextMutation = typeof textMutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, mutation: TextMutation): string {
  const at = text.length === 0 ? 0 : mutation.at % (text.length + 1);
  switch (mutation.kind) {
    case 'truncate':
      return text.slice(0, at);
    case 'insert':
      return text.slice(0, at) + mutation.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + mutation.count);
  }
}

/** Fragments that stress the Infinity/NaN rewrite and JSON.parse. */
const hostileFragment = fc.constantFrom(
  '\\"',
  '"',
  '\\',
  '\\\\',
  'Infinity',
  '-Infinity',
  'NaN',
  '{',
  '[',
  '}',
  ']',
  ',',
  ':',
  '1e999',
  '"uid":',
  '\u0000',
  '\ud800',
);

describe('parseOptionsMessage (properties)', () => {
  it('answers any string without throwing', () => {
    fc.assert(
      fc.property(anyText(2000), (text) => {
        expectWellFormed(parseOptionsMessage(text));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers any JSON value without throwing; only objects can be valid', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const result = parseOptionsMessage(JSON.stringify(value));
        expectWellFormed(result);
        const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
        if (!isObject) expect(result.isValid).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers any value under each known key without throwing', () => {
    const keys = fc.constantFrom(
      'uid',
      'language',
      'task',
      'model',
      'use_vad',
      'vad_parameters',
      'send_last_n_segments',
      'no_speech_thresh',
      'same_output_threshold',
      'initial_prompt',
      'hotwords',
      'target_language',
      'hf_token',
      'max_speakers',
      'audio_format',
      '__proto__',
      'constructor',
    );
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      anyText(300),
      fc.double(),
      fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN),
    );
    fc.assert(
      fc.property(fc.dictionary(keys, value), fc.string({ maxLength: 20 }), (fields, uid) => {
        expectWellFormed(parseOptionsMessage(pythonDumps({ uid, ...fields })));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers every mutation of a valid message without throwing', () => {
    fc.assert(
      fc.property(validOptions, fc.array(textMutation, { maxLength: 4 }), (options, edits) => {
        const text = edits.reduce(mutate, pythonDumps(options));
        expectWellFormed(parseOptionsMessage(text));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('reads back every valid option object, Python-style Infinity included', () => {
    fc.assert(
      fc.property(validOptions, (sent: ValidOptions) => {
        const result = parseOptionsMessage(pythonDumps(sent));
        if (!result.isValid) throw new Error(result.message);
        const { options } = result;
        expect(options.uid).toBe(sent.uid);
        expect(options.language).toBe(sent.language ?? null);
        expect(options.task).toBe(sent.task ?? 'transcribe');
        expect(options.model).toBe(sent.model ?? null);
        expect(options.useVad).toBe(sent.use_vad ?? false);
        expect(options.sendLastNSegments).toBe(sent.send_last_n_segments ?? 10);
        expect(options.noSpeechThresh).toBe(sent.no_speech_thresh ?? 0.45);
        expect(options.sameOutputThreshold).toBe(sent.same_output_threshold ?? 10);
        expect(options.initialPrompt).toBe(sent.initial_prompt ?? null);
        expect(options.hotwords).toBe(sent.hotwords ?? null);
        expect(options.targetLanguage).toBe(sent.target_language ?? 'fr');
        expect(options.maxSpeakers).toBe(sent.max_speakers ?? 10);
        expect(options.audioFormat).toBe(sent.audio_format ?? 'float32');
        const vad = sent.vad_parameters;
        if (vad === undefined || vad === null) {
          expect(options.vadParameters).toBeNull();
        } else {
          const maxS = vad.max_speech_duration_s;
          expect(options.vadParameters).toEqual({
            threshold: vad.threshold,
            minSpeechMs: vad.min_speech_duration_ms,
            minSilenceMs: vad.min_silence_duration_ms,
            speechPadMs: vad.speech_pad_ms,
            maxSpeechMs: maxS === undefined || !Number.isFinite(maxS) ? undefined : maxS * 1000,
          });
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('refuses any text option over its cap, keeping the uid', () => {
    const caps: Record<string, number> = {
      language: MAX_LANGUAGE_CHARS,
      model: MAX_MODEL_CHARS,
      initial_prompt: MAX_PROMPT_CHARS,
      hotwords: MAX_PROMPT_CHARS,
      target_language: MAX_LANGUAGE_CHARS,
      hf_token: MAX_HF_TOKEN_CHARS,
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(caps)),
        fc.nat({ max: 500 }),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
        (key, extra, fill) => {
          const cap = caps[key] ?? 0;
          const result = parseOptionsMessage(
            JSON.stringify({ uid: 'u', [key]: fill.repeat(cap + 1 + extra) }),
          );
          expect(result).toMatchObject({ isValid: false, uid: 'u' });
          if (!result.isValid) expect(result.message).toContain(`"${key}" must be at most ${cap}`);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers adversarial frames up to the cap fast', () => {
    const frame = fc
      .tuple(
        fc.constantFrom('', '{"uid": "a", "initial_prompt": "', '{"uid": "a", "x": [', '['),
        fc.array(hostileFragment, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: MAX_OPTIONS_MESSAGE_BYTES / 2 }),
      )
      .map(([head, fragments, repeats]) => {
        const unit = fragments.join('');
        const times = Math.max(1, Math.floor(repeats / unit.length));
        return head + unit.repeat(times);
      });
    fc.assert(
      fc.property(frame, (text) => {
        const { ms, result } = timedParse(text);
        expectWellFormed(result);
        expect(ms).toBeLessThan(SLOW_PARSE_MS);
      }),
      { seed: SEED, numRuns: BIG_RUNS },
    );
  });

  it('refuses any frame over the cap at once', () => {
    fc.assert(
      fc.property(
        hostileFragment,
        fc.integer({ min: MAX_OPTIONS_MESSAGE_BYTES + 1, max: 4 * 1024 * 1024 }),
        (fragment, size) => {
          const text = fragment.repeat(Math.ceil(size / fragment.length));
          const { ms, result } = timedParse(text);
          expect(result).toEqual({
            isValid: false,
            uid: '',
            message: `the options message must be at most ${MAX_OPTIONS_MESSAGE_BYTES} bytes`,
          });
          expect(ms).toBeLessThan(SLOW_PARSE_MS);
        },
      ),
      { seed: SEED, numRuns: BIG_RUNS },
    );
  });
});

describe('audio frames (properties)', () => {
  const frame = fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes));
  const format = fc.constantFrom(...AUDIO_FORMATS);

  it('accepts exactly the frames that hold whole samples', () => {
    fc.assert(
      fc.property(frame, format, (bytes, audioFormat) => {
        const decoded = decodeAudioFrame(bytes, audioFormat);
        const isWhole = bytes.length % sampleWidthBytes(audioFormat) === 0;
        expect(decoded.isValid).toBe(isWhole);
        if (!decoded.isValid) {
          expect(decoded.message).toContain(`${bytes.length} bytes`);
          return;
        }
        if (audioFormat === 'uint8') {
          expect(decoded.pcm.length).toBe(bytes.length * 2);
          bytes.forEach((value, i) => {
            expect(decoded.pcm.readInt16LE(i * 2)).toBe((value - 128) * 256);
          });
        } else {
          expect(decoded.pcm.equals(bytes)).toBe(true);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('sees END_OF_AUDIO only in the exact marker (binary) or the trimmed marker (text)', () => {
    const marker = Buffer.from(END_OF_AUDIO, 'ascii');
    const nearMarker = fc
      .tuple(
        fc.constantFrom('', ' ', '\n', '\t', '\u0000', 'x'),
        fc.constantFrom(END_OF_AUDIO, 'END_OF_AUDI', 'end_of_audio', ''),
        fc.constantFrom('', ' ', '\r\n', '\u0000', '!'),
      )
      .map(([head, body, tail]) => Buffer.from(head + body + tail, 'utf8'));
    fc.assert(
      fc.property(fc.oneof(frame, nearMarker), fc.boolean(), (bytes, isBinary) => {
        const expected = isBinary
          ? bytes.equals(marker)
          : bytes.toString('utf8').trim() === END_OF_AUDIO;
        expect(isEndOfAudio(bytes, isBinary)).toBe(expected);
        if (isBinary && expected) expect(bytes.length).toBe(marker.length);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
