import { describe, expect, it } from 'vitest';

import { isLanguageCode, LANGUAGE_NAMES, languageName } from '../../gateway/src/languages.js';

describe('languageName', () => {
  it('names Whisper languages in English', () => {
    expect(languageName('en')).toBe('english');
    expect(languageName('de')).toBe('german');
    expect(languageName('yue')).toBe('cantonese');
    expect(languageName('zz')).toBe('zz');
    expect(Object.keys(LANGUAGE_NAMES)).toHaveLength(100);
  });

  it('does not treat Object.prototype keys as languages', () => {
    expect(isLanguageCode('constructor')).toBe(false);
    expect(isLanguageCode('toString')).toBe(false);
  });
});
