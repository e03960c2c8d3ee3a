import { describe, expect, it } from 'vitest';

import {
  formatTimestamp,
  renderJson,
  renderLegacy,
  renderSrt,
  renderText,
  renderTranscript,
  renderVerboseJson,
  renderVtt,
} from '../../../gateway/src/http/response_formats.js';
import type { FileTranscript, Segment } from '../../../gateway/src/transcript.js';

function segment(
  index: number,
  text: string,
  startMs: number,
  endMs: number,
  words: [string, number, number][] = [],
): Segment {
  return {
    index,
    text,
    isFinal: true,
    stability: 0,
    startMs,
    endMs,
    words: words.map(([word, start, end]) => ({
      word,
      startMs: start,
      endMs: end,
      probability: 0.9,
    })),
    languageCode: 'de',
    languageProbability: 0.9,
    tokenIds: [1, 2],
    temperature: 0.2,
    avgLogprob: -0.3,
    compressionRatio: 1.5,
    noSpeechProbability: 0.05,
    windowOffsetMs: index === 2 ? 30_000 : 0,
  };
}

const SEGMENTS: Segment[] = [
  segment(0, ' Guten Tag.', 0, 1500, [
    [' Guten', 0, 700],
    [' Tag.', 700, 1500],
  ]),
  segment(1, '   ', 1500, 1600),
  segment(2, ' Wie geht --> es?', 3_723_004, 3_725_000, [[' Wie', 3_723_004, 3_724_000]]),
];

const TRANSCRIPT: FileTranscript = {
  task: 'transcribe',
  segments: SEGMENTS,
  summary: {
    durationMs: 3_725_500,
    durationAfterVadMs: 3_000_000,
    languageCode: 'de',
    languageProbability: 0.97,
    options: undefined,
    model: 'base',
  },
  audioMs: 3_725_500,
};

describe('formatTimestamp', () => {
  it('writes HH:MM:SS with the separator and milliseconds', () => {
    expect(formatTimestamp(0, ',')).toBe('00:00:00,000');
    expect(formatTimestamp(3_723_004, ',')).toBe('01:02:03,004');
    expect(formatTimestamp(59_999.6, '.')).toBe('00:01:00.000');
    expect(formatTimestamp(100 * 3_600_000, '.')).toBe('100:00:00.000');
    expect(formatTimestamp(-5, '.')).toBe('00:00:00.000');
  });
});

describe('text renderers', () => {
  it('join stripped non-empty segment texts with single spaces', () => {
    expect(renderJson(SEGMENTS)).toEqual({ text: 'Guten Tag. Wie geht --> es?' });
    expect(renderText(SEGMENTS)).toBe('Guten Tag. Wie geht --> es?\n');
    expect(renderJson([])).toEqual({ text: '' });
  });
});

describe('renderSrt', () => {
  it('numbers cues from 1 and skips empty segments', () => {
    expect(renderSrt(SEGMENTS)).toBe(
      '1\n00:00:00,000 --> 00:00:01,500\nGuten Tag.\n\n' +
        '2\n01:02:03,004 --> 01:02:05,000\nWie geht -> es?\n\n',
    );
    expect(renderSrt([])).toBe('');
  });
});

describe('renderVtt', () => {
  it('starts with WEBVTT and uses dots', () => {
    expect(renderVtt(SEGMENTS)).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nGuten Tag.\n\n' +
        '01:02:03.004 --> 01:02:05.000\nWie geht -> es?\n\n',
    );
    expect(renderVtt([])).toBe('WEBVTT\n\n');
  });
});

describe('renderVerboseJson', () => {
  it('writes the language name, seconds, seek in frames and the segment fields', () => {
    const body = renderVerboseJson(TRANSCRIPT, []);
    expect(body).toMatchObject({
      task: 'transcribe',
      language: 'german',
      duration: 3725.5,
      text: 'Guten Tag. Wie geht --> es?',
    });
    expect(body.segments?.[2]).toEqual({
      id: 2,
      seek: 3000,
      start: 3723.004,
      end: 3725,
      text: ' Wie geht --> es?',
      tokens: [1, 2],
      temperature: 0.2,
      avg_logprob: -0.3,
      compression_ratio: 1.5,
      no_speech_prob: 0.05,
    });
    expect(body.words).toBeUndefined();
  });

  it('adds stripped words only when asked, and drops segments for word-only', () => {
    expect(renderVerboseJson(TRANSCRIPT, ['word', 'segment']).words).toEqual([
      { word: 'Guten', start: 0, end: 0.7 },
      { word: 'Tag.', start: 0.7, end: 1.5 },
      { word: 'Wie', start: 3723.004, end: 3724 },
    ]);
    expect(renderVerboseJson(TRANSCRIPT, ['word']).segments).toBeUndefined();
  });

  it('says english for translations', () => {
    expect(renderVerboseJson({ ...TRANSCRIPT, task: 'translate' }, []).language).toBe('english');
  });
});

describe('renderTranscript', () => {
  it('picks the content type per format', () => {
    expect(renderTranscript('json', TRANSCRIPT, []).contentType).toMatch(/^application\/json/);
    expect(renderTranscript('verbose_json', TRANSCRIPT, []).contentType).toMatch(
      /^application\/json/,
    );
    for (const format of ['text', 'srt', 'vtt'] as const) {
      expect(renderTranscript(format, TRANSCRIPT, []).contentType).toMatch(/^text\/plain/);
    }
  });
});

describe('renderLegacy', () => {
  it('writes exactly the legacy keys', () => {
    const body = renderLegacy(TRANSCRIPT, 'a.wav');
    expect(Object.keys(body)).toEqual(['success', 'segments', 'info', 'filename']);
    expect(body.segments[0]).toEqual({
      start: 0,
      end: 1.5,
      text: 'Guten Tag.',
      no_speech_prob: 0.05,
    });
    expect(body.segments).toHaveLength(2);
    expect(body.info).toEqual({
      language: 'de',
      language_probability: 0.97,
      duration: 3725.5,
      duration_after_vad: 3000,
      transcription_options: {},
    });
  });
});
