/**
 * Reading form fields (multipart text fields, urlencoded or JSON bodies) at the trust
 * boundary: the body is `unknown` and each field is narrowed here.
 */
import { InvalidRequestError } from '../errors.js';

/** Typed access to the fields of a request body. */
export interface FormFields {
  /** A field given at most once, trimmed; undefined when absent or blank. */
  string(name: string): string | undefined;
  /** A field that may repeat (`name[]=a&name[]=b`, or `name=a`), trimmed, blanks dropped. */
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
      return trimmed === '' ? undefined : trimmed;
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
          if (item.trim() !== '') values.push(item.trim());
        }
      }
      return values;
    },
  };
}
