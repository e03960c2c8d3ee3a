/**
 * Property-based tests of HTTP form parsing (issue #9): on any field map a body parser can
 * produce (multer, express.json, express.urlencoded), the parsers either answer values
 * within their rules or throw an InvalidRequestError naming the field, never anything else.
 * Fixed seed and run counts keep failures reproducible and the suite inside its budget.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { InvalidRequestError } from '../../../gateway/src/errors.js';
import { formFields, maxFieldChars } from '../../../gateway/src/http/form.js';
import { RESPONSE_FORMATS } from '../../../gateway/src/http/response_formats.js';
import { parseLegacyFields } from '../../../gateway/src/http/transcribe_legacy.js';
import { parseTranscriptionForm } from '../../../gateway/src/http/transcriptions.js';

const SEED = 20_260_909;
const RUNS = 1000;

const FIELD_NAMES = [
  'file',
  'model',
  'language',
  'prompt',
  'response_format',
  'temperature',
  'timestamp_granularities',
  'timestamp_granularities[]',
  'stream',
  'task',
  'url',
] as const;

/** Any UTF-16 unit, lone surrogates and controls included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

/** Values near the rules: valid choices, case and space variants, long and odd text. */
const text = fc.oneof(
  fc.constantFrom(
    ...RESPONSE_FORMATS,
    'segment',
    'word',
    'true',
    'FALSE',
    '1',
    '0',
    '0.5',
    '1e-3',
    'NaN',
    '-0',
    'Infinity',
    'whisper-1',
    'EN',
    'translate',
    ' transcribe ',
    '',
    '   ',
  ),
  fc.string({ unit: anyUnit, maxLength: 40 }),
  fc
    .tuple(fc.constantFrom('x', ' ', 'é', '\u0000'), fc.nat({ max: 9000 }))
    .map(([unit, count]) => unit.repeat(count)),
);

/** What a body parser can put under a key: text, repeated text, JSON scalars and objects. */
const fieldValue = fc.oneof(
  text,
  fc.array(text, { maxLength: 4 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);

const fieldMap = fc.dictionary(
  fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 12 })),
  fieldValue,
  { maxKeys: 8 },
);

/** Runs `parse`; an InvalidRequestError must name a field of the form. */
function refusedParam(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidRequestError)) throw error;
    expect(error.httpStatus).toBe(400);
    expect(error.message.length).toBeGreaterThan(0);
    // Messages echo values, but never more than a capped field's worth.
    expect(error.message.length).toBeLessThan(1024);
    expect(error.param).not.toBeNull();
    return error.param ?? undefined;
  }
}

describe('formFields (properties)', () => {
  it('answers trimmed, non-blank text within the cap, or names the field', () => {
    fc.assert(
      fc.property(fieldMap, fc.constantFrom(...FIELD_NAMES), (body, name) => {
        const fields = formFields(body);
        let value: string | undefined;
        const param = refusedParam(() => {
          value = fields.string(name);
        });
        if (param !== undefined) {
          expect(param).toBe(name);
          return;
        }
        if (value === undefined) return;
        expect(value).toBe(value.trim());
        expect(value).not.toBe('');
        expect(value.length).toBeLessThanOrEqual(maxFieldChars(name));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers lists of trimmed, non-blank items within the cap, or names the field', () => {
    fc.assert(
      fc.property(fieldMap, fc.constantFrom('timestamp_granularities', 'model'), (body, name) => {
        let values: string[] = [];
        const param = refusedParam(() => {
          values = formFields(body).strings(name);
        });
        if (param !== undefined) {
          expect(param).toBe(name);
          return;
        }
        for (const value of values) {
          expect(value).toBe(value.trim());
          expect(value).not.toBe('');
          expect(value.length).toBeLessThanOrEqual(maxFieldChars(name));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('answers any body a parser may hand over, even a non-object', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.constant(undefined)), (body) => {
        refusedParam(() => formFields(body).string('prompt'));
        refusedParam(() => formFields(body).strings('timestamp_granularities'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('parseTranscriptionForm (properties)', () => {
  it('answers parameters that keep every rule, or a 400 naming a form field', () => {
    fc.assert(
      fc.property(fieldMap, fc.constantFrom('transcribe', 'translate'), (body, task) => {
        let params: ReturnType<typeof parseTranscriptionForm> | undefined;
        const param = refusedParam(() => {
          params = parseTranscriptionForm(body, task);
        });
        if (param !== undefined) {
          expect(FIELD_NAMES).toContain(param);
          return;
        }
        if (params === undefined) throw new Error('unreachable: parsed without an answer');
        expect(RESPONSE_FORMATS).toContain(params.responseFormat);
        expect(params.temperature).toBeGreaterThanOrEqual(0);
        expect(params.temperature).toBeLessThanOrEqual(1);
        expect(new Set(params.granularities).size).toBe(params.granularities.length);
        if (params.granularities.length > 0) expect(params.responseFormat).toBe('verbose_json');
        if (params.isStream) expect(['json', 'text']).toContain(params.responseFormat);
        if (task === 'translate') expect(params.languageCode).toBeUndefined();
        for (const [name, value] of [
          ['prompt', params.prompt],
          ['model', params.model],
          ['language', params.languageCode],
        ] as const) {
          if (value !== undefined) expect(value.length).toBeLessThanOrEqual(maxFieldChars(name));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('parseLegacyFields (properties)', () => {
  it('answers a known task and capped fields, or a 400 naming a form field', () => {
    fc.assert(
      fc.property(fieldMap, (body) => {
        let params: ReturnType<typeof parseLegacyFields> | undefined;
        const param = refusedParam(() => {
          params = parseLegacyFields(formFields(body));
        });
        if (param !== undefined) {
          expect(['task', 'language', 'model']).toContain(param);
          return;
        }
        if (params === undefined) throw new Error('unreachable: parsed without an answer');
        expect(['transcribe', 'translate']).toContain(params.task);
        if (params.languageCode !== undefined) {
          expect(params.languageCode).toBe(params.languageCode.toLowerCase());
          expect(params.languageCode.length).toBeLessThanOrEqual(maxFieldChars('language'));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
