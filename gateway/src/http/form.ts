/**
 * Reading form fields (multipart text fields, urlencoded or JSON bodies) at the trust
 * boundary: the body is `unknown` and each field is narrowed here.
 */
import { InvalidRequestError } from '../errors.js';

/**
 * Longest `prompt`, in characters (UTF-16 units). Whisper reads at most 224 prompt tokens
 * (about 1000 characters of English); the WhisperLive `initial_prompt` has the same cap.
 */
export const MAX_PROMPT_CHARS = 4096;

/** Longest `language`, in characters (codes are 2 or 3 letters). */
export const MAX_LANGUAGE_CHARS = 32;

/** Longest `model`, in characters (a name, a hub repo id or a path). */
export const MAX_MODEL_CHARS = 256;

/** Longest `url` of `/transcribe/url`, in characters (signed object-store URLs run long). */
export const MAX_URL_CHARS = 8192;

/** Longest value of any other field (`response_format`, `temperature`, `task`, …). */
export const MAX_FIELD_CHARS = 256;

/** Per-field caps; a field not named here gets {@link MAX_FIELD_CHARS}. */
export const FIELD_MAX_CHARS: Readonly<Record<string, number>> = {
  prompt: MAX_PROMPT_CHARS,
  language: MAX_LANGUAGE_CHARS,
  model: MAX_MODEL_CHARS,
  url: MAX_URL_CHARS,
};

/** The cap of a field, in characters. */
export function maxFieldChars(name: string): number {
  return Object.hasOwn(FIELD_MAX_CHARS, name) ? (FIELD_MAX_CHARS[name] ?? 0) : MAX_FIELD_CHARS;
}

function checkLength(name: string, value: string): string {
  const max = maxFieldChars(name);
  if (value.length > max) {
    throw new InvalidRequestError(
      `'${name}' must be at most ${max} characters, got ${value.length}.`,
      name,
      'field_too_long',
    );
  }
  return value;
}

/** Typed access to the fields of a request body. */
export interface FormFields {
  /**
   * A field given at most once, trimmed; undefined when absent or blank.
   *
   * @throws InvalidRequestError (param `name`) when it repeats, is not text, or is longer
   * than {@link maxFieldChars}.
   */
  string(name: string): string | undefined;
  /**
   * A field that may repeat (`name[]=a&name[]=b`, or `name=a`), trimmed, blanks dropped.
   *
   * @throws InvalidRequestError (param `name`) when an item is not text or is over the cap.
   */
  strings(name: string): string[];
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  return Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
}

/** Wraps a parsed body (multer's, express.json's or express.urlencoded's). */
export function formFields(body: unknown): FormFields {
  return {
    string(name: string): string | undefined {
      const value = field(body, name);
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      if (typeof value !== 'string') {
        throw new InvalidRequestError(`'${name}' must be given once, as a string.`, name);
      }
      const trimmed = value.trim();
      return trimmed === '' ? undefined : checkLength(name, trimmed);
    },
    strings(name: string): string[] {
      const raw = [field(body, name), field(body, `${name}[]`)];
      const values: string[] = [];
      for (const value of raw) {
        if (value === undefined || value === null) continue;
        const list: unknown[] = Array.isArray(value) ? value : [value];
        for (const item of list) {
          if (typeof item !== 'string') {
            throw new InvalidRequestError(`'${name}' must be a list of strings.`, name);
          }
          const trimmed = item.trim();
          if (trimmed !== '') values.push(checkLength(name, trimmed));
        }
      }
      return values;
    },
  };
}
