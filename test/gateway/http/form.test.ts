import { describe, expect, it } from 'vitest';

import { InvalidRequestError } from '../../../gateway/src/errors.js';
import {
  FIELD_MAX_CHARS,
  formFields,
  MAX_FIELD_CHARS,
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_PROMPT_CHARS,
  MAX_URL_CHARS,
  maxFieldChars,
} from '../../../gateway/src/http/form.js';
import { parseLegacyFields } from '../../../gateway/src/http/transcribe_legacy.js';
import { parseTranscriptionForm } from '../../../gateway/src/http/transcriptions.js';

function paramOf(run: () => unknown): string | null | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidRequestError) return error.param;
    throw error;
  }
  return undefined;
}

describe('formFields', () => {
  it('reads strings, lists and nothing else', () => {
    const fields = formFields({ a: ' x ', b: ['1', ' ', '2'], 'c[]': 'y', n: 3, o: { x: 1 } });
    expect(fields.string('a')).toBe('x');
    expect(fields.string('n')).toBe('3');
    expect(fields.string('missing')).toBeUndefined();
    expect(fields.strings('b')).toEqual(['1', '2']);
    expect(fields.strings('c')).toEqual(['y']);
    expect(() => fields.string('b')).toThrow(InvalidRequestError);
    expect(() => fields.string('o')).toThrow(InvalidRequestError);
    expect(formFields(undefined).string('a')).toBeUndefined();
    expect(formFields(Object.create(null)).string('toString')).toBeUndefined();
  });
});

describe('field caps', () => {
  it('gives prompt, language, model and url their own caps and every other field one', () => {
    expect(FIELD_MAX_CHARS).toEqual({
      prompt: MAX_PROMPT_CHARS,
      language: MAX_LANGUAGE_CHARS,
      model: MAX_MODEL_CHARS,
      url: MAX_URL_CHARS,
    });
    expect([MAX_PROMPT_CHARS, MAX_LANGUAGE_CHARS, MAX_MODEL_CHARS, MAX_URL_CHARS]).toEqual([
      4096, 32, 256, 8192,
    ]);
    expect(maxFieldChars('temperature')).toBe(MAX_FIELD_CHARS);
    expect(maxFieldChars('toString')).toBe(MAX_FIELD_CHARS);
  });

  it('accepts a value at its cap and refuses one over it, with code field_too_long', () => {
    for (const name of ['prompt', 'language', 'model', 'url', 'task', 'stream']) {
      const max = maxFieldChars(name);
      expect(formFields({ [name]: ` ${'x'.repeat(max)} ` }).string(name)).toHaveLength(max);
      let caught: unknown;
      try {
        formFields({ [name]: 'x'.repeat(max + 1) }).string(name);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect(caught).toMatchObject({
        param: name,
        code: 'field_too_long',
        httpStatus: 400,
        message: `'${name}' must be at most ${max} characters, got ${max + 1}.`,
      });
    }
    expect(paramOf(() => formFields({ 'g[]': ['ok', 'x'.repeat(300)] }).strings('g'))).toBe('g');
  });

  it('names the capped field in both form parsers', () => {
    const long = (name: string): string => 'x'.repeat(maxFieldChars(name) + 1);
    for (const name of ['prompt', 'language', 'model', 'temperature', 'response_format']) {
      expect(paramOf(() => parseTranscriptionForm({ [name]: long(name) }, 'transcribe'))).toBe(
        name,
      );
    }
    for (const name of ['language', 'model', 'task']) {
      expect(paramOf(() => parseLegacyFields(formFields({ [name]: long(name) })))).toBe(name);
    }
  });
});

describe('parseTranscriptionForm', () => {
  it('applies OpenAI defaults', () => {
    expect(parseTranscriptionForm({}, 'transcribe')).toEqual({
      model: undefined,
      languageCode: undefined,
      prompt: undefined,
      responseFormat: 'json',
      temperature: 0,
      granularities: [],
      isStream: false,
    });
  });

  it('reads every field', () => {
    expect(
      parseTranscriptionForm(
        {
          model: 'whisper-1',
          language: 'DE',
          prompt: 'Names: Ümit.',
          response_format: 'verbose_json',
          temperature: '0.3',
          timestamp_granularities: ['word', 'segment', 'word'],
        },
        'transcribe',
      ),
    ).toEqual({
      model: 'whisper-1',
      languageCode: 'de',
      prompt: 'Names: Ümit.',
      responseFormat: 'verbose_json',
      temperature: 0.3,
      granularities: ['word', 'segment'],
      isStream: false,
    });
    expect(
      parseTranscriptionForm({ stream: 'TRUE', response_format: 'text' }, 'transcribe').isStream,
    ).toBe(true);
    expect(parseTranscriptionForm({ language: 'de' }, 'translate').languageCode).toBeUndefined();
  });

  it('names the bad param', () => {
    expect(paramOf(() => parseTranscriptionForm({ response_format: 'xml' }, 'transcribe'))).toBe(
      'response_format',
    );
    expect(paramOf(() => parseTranscriptionForm({ temperature: '1.5' }, 'transcribe'))).toBe(
      'temperature',
    );
    expect(paramOf(() => parseTranscriptionForm({ temperature: 'NaN' }, 'transcribe'))).toBe(
      'temperature',
    );
    expect(paramOf(() => parseTranscriptionForm({ stream: 'yes' }, 'transcribe'))).toBe('stream');
    expect(
      paramOf(() =>
        parseTranscriptionForm({ stream: 'true', response_format: 'vtt' }, 'transcribe'),
      ),
    ).toBe('stream');
    expect(
      paramOf(() => parseTranscriptionForm({ timestamp_granularities: 'word' }, 'transcribe')),
    ).toBe('timestamp_granularities');
    expect(paramOf(() => parseTranscriptionForm({ model: ['a', 'b'] }, 'transcribe'))).toBe(
      'model',
    );
  });
});
