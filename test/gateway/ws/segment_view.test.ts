import { describe, expect, it } from 'vitest';

import {
  createSegmentView,
  type SegmentViewOptions,
} from '../../../gateway/src/ws/segment_view.js';
import { liveSegment } from '../support/fake_stream.js';

function view(options: Partial<SegmentViewOptions> = {}) {
  return createSegmentView({
    uid: 'u1',
    sendLastNSegments: 2,
    hasWordTimestamps: false,
    isDetectingLanguage: false,
    ...options,
  });
}

function parsed(message: string | undefined): unknown {
  return message === undefined ? undefined : JSON.parse(message);
}

describe('SegmentView', () => {
  it('shows the last N completed segments then the partial', () => {
    const v = view();
    expect(
      v.apply([liveSegment(0, ' A', 0, 1000, true), liveSegment(1, ' b', 1000, 1200, false)]),
    ).toBeUndefined();
    expect(parsed(v.nextMessage(false))).toEqual({
      uid: 'u1',
      segments: [
        { start: '0.000', end: '1.000', text: ' A', completed: true },
        { start: '1.000', end: '1.200', text: ' b', completed: false },
      ],
    });
    v.apply([liveSegment(1, ' B', 1000, 2000, true)]);
    v.apply([liveSegment(2, ' C', 2000, 3000, true), liveSegment(3, ' d', 3000, 3100, false)]);
    expect(parsed(v.nextMessage(false))).toMatchObject({
      segments: [{ text: ' B' }, { text: ' C' }, { text: ' d' }],
    });
    v.apply([liveSegment(3, ' d e', 3000, 3300, false)]);
    expect(parsed(v.nextMessage(false))).toMatchObject({
      segments: [{ text: ' B' }, { text: ' C' }, { text: ' d e', completed: false }],
    });
  });

  it('sends every segment completed since the previous message, even beyond N', () => {
    const v = view({ sendLastNSegments: 1 });
    v.apply([
      liveSegment(0, ' A', 0, 1000, true),
      liveSegment(1, ' B', 1000, 2000, true),
      liveSegment(2, ' c', 2000, 2500, false),
    ]);
    expect(parsed(v.nextMessage(false))).toMatchObject({
      segments: [{ text: ' A' }, { text: ' B' }, { text: ' c', completed: false }],
    });
    v.apply([liveSegment(2, ' c', 2000, 2600, false)]);
    expect(parsed(v.nextMessage(false))).toMatchObject({
      segments: [{ text: ' B' }, { text: ' c', end: '2.600' }],
    });
  });

  it('ignores revised finals and keeps completed segments in order without overlap', () => {
    const v = view({ sendLastNSegments: 10 });
    v.apply([liveSegment(0, ' One', 0, 1000, true)]);
    v.apply([liveSegment(0, ' One again', 0, 1000, true)]);
    v.apply([liveSegment(1, ' Two', 800, 1500, true), liveSegment(2, ' th', 1200, 1300, false)]);
    expect(parsed(v.nextMessage(false))).toEqual({
      uid: 'u1',
      segments: [
        { start: '0.000', end: '1.000', text: ' One', completed: true },
        { start: '1.000', end: '1.500', text: ' Two', completed: true },
        { start: '1.500', end: '1.500', text: ' th', completed: false },
      ],
    });
  });

  it('withdraws the partial when a response has none, and leaves it out of the final message', () => {
    const v = view();
    v.apply([liveSegment(0, ' par', 0, 500, false)]);
    expect(parsed(v.nextMessage(false))).toMatchObject({ segments: [{ completed: false }] });
    v.apply([liveSegment(0, ' Done.', 0, 900, true), liveSegment(1, ' x', 900, 950, false)]);
    expect(parsed(v.nextMessage(true))).toEqual({
      uid: 'u1',
      segments: [{ start: '0.000', end: '0.900', text: ' Done.', completed: true }],
    });
    // The same final message again is not sent twice; nothing at all is undefined too.
    expect(v.nextMessage(true)).toBeUndefined();
    expect(view().nextMessage(false)).toBeUndefined();
  });

  it('gives the language notice once, and only when detecting', () => {
    const detecting = view({ isDetectingLanguage: true });
    expect(detecting.languageCode).toBe('');
    expect(detecting.apply([liveSegment(0, ' Hallo', 0, 500, false, 'de', 0.87)])).toBe(
      '{"uid":"u1","language":"de","language_prob":0.87}',
    );
    expect(detecting.apply([liveSegment(0, ' Hallo', 0, 600, false, 'de', 0.9)])).toBeUndefined();
    expect(detecting.languageCode).toBe('de');

    const fixed = view();
    expect(fixed.apply([liveSegment(0, ' Hi', 0, 500, false, 'en', 1)])).toBeUndefined();
    expect(fixed.languageCode).toBe('en');
    fixed.noteLanguage('fr');
    expect(fixed.languageCode).toBe('en');
    const fromSummary = view();
    fromSummary.noteLanguage('fr');
    expect(fromSummary.languageCode).toBe('fr');
  });

  it('adds words when asked', () => {
    const v = view({ hasWordTimestamps: true });
    v.apply([
      {
        ...liveSegment(0, ' One', 0, 1000, true),
        words: [{ word: ' One', startMs: 100, endMs: 900, probability: 0.987_654 }],
      },
    ]);
    expect(parsed(v.nextMessage(false))).toEqual({
      uid: 'u1',
      segments: [
        {
          start: '0.000',
          end: '1.000',
          text: ' One',
          completed: true,
          words: [{ word: ' One', start: '0.100', end: '0.900', probability: 0.9877 }],
        },
      ],
    });
  });
});
