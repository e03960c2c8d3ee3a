import { describe, expect, it } from 'vitest';

import { InvalidRequestError } from '../../../gateway/src/errors.js';
import { formFields } from '../../../gateway/src/http/form.js';
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
