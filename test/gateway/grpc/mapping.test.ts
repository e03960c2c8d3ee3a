import { describe, expect, it } from 'vitest';

import {
  responseToEvents,
  roundFloat32,
  toProtoConfig,
} from '../../../gateway/src/grpc/mapping.js';

describe('roundFloat32', () => {
  it('gives float32 values back as the short decimals they stand for', () => {
    expect(roundFloat32(Math.fround(0.2))).toBe(0.2);
    expect(roundFloat32(Math.fround(-0.2345678))).toBe(-0.2345678);
    expect(roundFloat32(0)).toBe(0);
    expect(roundFloat32(Number.NaN)).toBeNaN();
  });
});

describe('toProtoConfig', () => {
  it('maps domain settings to the config message', () => {
    expect(
      toProtoConfig({
        mode: 'live',
        task: 'translate',
        languageCode: undefined,
        model: 'whisper-1',
        prompt: 'Hi',
        temperature: 0.5,
        hasWordTimestamps: true,
        hasInterimResults: true,
      }),
    ).toEqual({
      encoding: 'AUDIO_ENCODING_LINEAR16',
      sample_rate_hertz: 16000,
      mode: 'TRANSCRIPTION_MODE_LIVE',
      language_code: '',
      task: 'TASK_TRANSLATE',
      model: 'whisper-1',
      interim_results: true,
      enable_word_time_offsets: true,
      initial_prompt: 'Hi',
      temperature: 0.5,
    });
  });
});

describe('responseToEvents', () => {
  it('keeps the order: results, speech event, progress, summary', () => {
    const events = responseToEvents({
      results: [],
      speech_event: 'SPEECH_EVENT_SPEECH_END',
      speech_event_offset_ms: 1200,
      progress: { processed_audio_ms: 1, total_audio_ms: 2 },
      summary: {
        duration_ms: 2,
        duration_after_vad_ms: 1,
        language_code: 'en',
        language_probability: 1,
        options: null,
        model: 'm',
      },
    });
    expect(events).toEqual([
      { type: 'speech', boundary: 'speech_end', offsetMs: 1200 },
      { type: 'progress', processedAudioMs: 1, totalAudioMs: 2 },
      {
        type: 'summary',
        summary: {
          durationMs: 2,
          durationAfterVadMs: 1,
          languageCode: 'en',
          languageProbability: 1,
          options: undefined,
          model: 'm',
        },
      },
    ]);
  });
});
