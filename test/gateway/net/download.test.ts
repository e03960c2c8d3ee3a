import { describe, expect, it } from 'vitest';

import { InvalidUrlError } from '../../../gateway/src/errors.js';
import {
  filenameFromUrl,
  MAX_URL_LENGTH,
  parseHttpUrl,
} from '../../../gateway/src/net/download.js';

describe('parseHttpUrl', () => {
  it('accepts absolute http and https URLs', () => {
    expect(parseHttpUrl('https://example.com/a.wav').hostname).toBe('example.com');
    expect(parseHttpUrl('http://[::1]:8080/').hostname).toBe('[::1]');
  });

  it('rejects everything else with InvalidUrlError', () => {
    for (const text of [
      'not a url',
      '/relative.wav',
      'ftp://x/a.wav',
      'file:///etc/passwd',
      'data:,x',
      'gopher://x',
    ]) {
      expect(() => parseHttpUrl(text)).toThrow(InvalidUrlError);
    }
  });

  it('rejects overlong URLs and host names before any DNS lookup', () => {
    expect(() => parseHttpUrl(`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`)).toThrow(
      /longer than 2048 characters/,
    );
    expect(() => parseHttpUrl(`https://${'a'.repeat(254)}/x.wav`)).toThrow(
      /host name is longer than 253/,
    );
    expect(parseHttpUrl(`https://${'a'.repeat(63)}.example/x.wav`).hostname).toHaveLength(71);
  });
});

describe('filenameFromUrl', () => {
  it('takes the decoded last path segment', () => {
    expect(filenameFromUrl(new URL('https://x/a/b/speech%20one.wav?sig=1#t'))).toBe(
      'speech one.wav',
    );
    expect(filenameFromUrl(new URL('https://x/dir/'))).toBe('dir');
    expect(filenameFromUrl(new URL('https://x/'))).toBe('audio');
    expect(filenameFromUrl(new URL('https://x/%E0%A4%A'))).toBe('%E0%A4%A');
  });
});
