import { describe, expect, it } from 'vitest';

import {
  responseToEvents,
  roundFloat32,
  toProtoConfig,
  toWorkerInfo,
} from '../../../gateway/src/grpc/mapping.js';
import { PLAIN_SETTINGS } from '../support/fixtures.js';

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

describe('toProtoConfig (coarse segments)', () => {
  it('asks for coarse segments only when told to', () => {
    const settings = { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false } as const;
    expect(toProtoConfig(settings)).not.toHaveProperty('coarse_segments');
    expect(toProtoConfig({ ...settings, hasCoarseSegments: false })).not.toHaveProperty(
      'coarse_segments',
    );
    expect(toProtoConfig({ ...settings, hasCoarseSegments: true }).coarse_segments).toBe(true);
  });
});

describe('toProtoConfig (audio duration)', () => {
  it('sends a file duration rounded up to the ms, and never for live streams or bad values', () => {
    const file = { ...PLAIN_SETTINGS, mode: 'file', hasInterimResults: false } as const;
    expect(toProtoConfig(file)).not.toHaveProperty('audio_duration_ms');
    expect(toProtoConfig({ ...file, audioDurationMs: 180_110 }).audio_duration_ms).toBe(180_110);
    expect(toProtoConfig({ ...file, audioDurationMs: 1234.5 }).audio_duration_ms).toBe(1235);
    expect(toProtoConfig({ ...file, audioDurationMs: 0 }).audio_duration_ms).toBe(0);
    for (const bad of [undefined, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32]) {
      expect(toProtoConfig({ ...file, audioDurationMs: bad })).not.toHaveProperty(
        'audio_duration_ms',
      );
    }
    const live = { ...file, mode: 'live', hasInterimResults: true } as const;
    expect(toProtoConfig({ ...live, audioDurationMs: 5000 })).not.toHaveProperty(
      'audio_duration_ms',
    );
  });
});

describe('toProtoConfig (live options)', () => {
  it('adds the optional live settings only when they are set', () => {
    expect(
      toProtoConfig({
        mode: 'live',
        task: 'transcribe',
        languageCode: 'de',
        model: undefined,
        prompt: undefined,
        temperature: 0,
        hasWordTimestamps: false,
        hasInterimResults: true,
        encoding: 'float32',
        hotwords: '',
        isVadEnabled: false,
        vad: { threshold: 0.6, minSilenceMs: 500, maxSpeechMs: undefined },
        noSpeechThreshold: 0.45,
        sameOutputThreshold: 10,
      }),
    ).toEqual({
      encoding: 'AUDIO_ENCODING_FLOAT32',
      sample_rate_hertz: 16000,
      mode: 'TRANSCRIPTION_MODE_LIVE',
      language_code: 'de',
      task: 'TASK_TRANSCRIBE',
      model: '',
      interim_results: true,
      enable_word_time_offsets: false,
      initial_prompt: '',
      temperature: 0,
      hotwords: '',
      enable_vad: false,
      vad: { threshold: 0.6, min_silence_ms: 500 },
      no_speech_threshold: 0.45,
      same_output_threshold: 10,
    });
  });
});

describe('responseToEvents', () => {
  it('groups the results of a live response into one event', () => {
    const result = {
      segment_index: 3,
      transcript: ' hi',
      is_final: false,
      stability: 0,
      start_offset_ms: 100,
      end_offset_ms: 200,
      words: [],
      language_code: 'en',
      language_probability: 1,
      token_ids: [],
      temperature: 0,
      avg_logprob: 0,
      compression_ratio: 0,
      no_speech_probability: 0,
      window_offset_ms: 0,
    };
    const response = {
      results: [{ ...result, is_final: true, segment_index: 2 }, result],
      speech_event: 'SPEECH_EVENT_UNSPECIFIED' as const,
      speech_event_offset_ms: 0,
      progress: null,
      summary: null,
      turn_end: null,
    };
    const live = responseToEvents(response, 'live');
    expect(live).toHaveLength(1);
    expect(
      live[0]?.type === 'results' && live[0].segments.map((s) => [s.index, s.isFinal]),
    ).toEqual([
      [2, true],
      [3, false],
    ]);
    expect(responseToEvents(response).map((event) => event.type)).toEqual(['segment', 'segment']);
    expect(responseToEvents({ ...response, results: [] }, 'live')).toEqual([]);
  });

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
      turn_end: null,
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

describe('turn mode', () => {
  const live = { ...PLAIN_SETTINGS, mode: 'live' as const, hasInterimResults: false };

  it('sends TurnConfig for live streams with turns, the threshold only when set', () => {
    expect(
      toProtoConfig({ ...live, turns: { silenceDurationMs: 500, prefixPaddingMs: 300 } }).turns,
    ).toEqual({ silence_duration_ms: 500, prefix_padding_ms: 300 });
    expect(
      toProtoConfig({
        ...live,
        turns: { silenceDurationMs: 0, prefixPaddingMs: 0, threshold: 0.6 },
      }).turns,
    ).toEqual({ silence_duration_ms: 0, prefix_padding_ms: 0, threshold: 0.6 });
    expect(toProtoConfig(live).turns).toBeUndefined();
    expect(
      toProtoConfig({
        ...live,
        mode: 'file',
        turns: { silenceDurationMs: 500, prefixPaddingMs: 0 },
      }).turns,
    ).toBeUndefined();
  });

  it.each([
    ['TURN_END_REASON_SILENCE', 'silence'],
    ['TURN_END_REASON_REQUESTED', 'requested'],
    ['TURN_END_REASON_STREAM_END', 'stream_end'],
    ['TURN_END_REASON_UNSPECIFIED', 'requested'],
  ] as const)("maps a turn end (%s) after the turn's last results", (reason, domain) => {
    const events = responseToEvents(
      {
        results: [],
        speech_event: 'SPEECH_EVENT_UNSPECIFIED',
        speech_event_offset_ms: 0,
        progress: null,
        summary: null,
        turn_end: {
          turn_index: 3,
          start_offset_ms: 1200,
          end_offset_ms: 4700,
          had_speech: true,
          reason,
        },
      },
      'live',
    );
    expect(events).toEqual([
      {
        type: 'turn_end',
        turn: { index: 3, startMs: 1200, endMs: 4700, hadSpeech: true, reason: domain },
      },
    ]);
  });
});

describe('toWorkerInfo', () => {
  const response = {
    model: { name: 'base', is_multilingual: true, languages: ['en', 'de'] },
    backend: 'faster_whisper',
    device: 'cuda',
    compute_type: 'float16',
    version: '1.2.3',
    cpu_threads: 4,
  };

  it('maps every load field, floats as the decimals they stand for', () => {
    expect(
      toWorkerInfo({
        ...response,
        load: {
          active_streams: 5,
          max_streams: 32,
          queue_depth: 3,
          max_queue_depth: 64,
          real_time_factor: Math.fround(0.12),
          live_streams: 4,
          live_cycle_ms: 640,
          max_live_cycle_ms: 2000,
          file_backlog_ms: 45_000,
          mean_batch_size: Math.fround(3.3),
        },
      }),
    ).toStrictEqual({
      modelName: 'base',
      isMultilingual: true,
      languages: ['en', 'de'],
      backend: 'faster_whisper',
      device: 'cuda',
      load: {
        activeStreams: 5,
        maxStreams: 32,
        queueDepth: 3,
        maxQueueDepth: 64,
        realTimeFactor: 0.12,
        liveStreams: 4,
        liveCycleMs: 640,
        maxLiveCycleMs: 2000,
        fileBacklogMs: 45_000,
        meanBatchSize: 3.3,
      },
      version: '1.2.3',
    });
  });

  it('reads a missing load as zeros', () => {
    expect(toWorkerInfo({ ...response, load: null }).load).toStrictEqual({
      activeStreams: 0,
      maxStreams: 0,
      queueDepth: 0,
      maxQueueDepth: 0,
      realTimeFactor: 0,
      liveStreams: 0,
      liveCycleMs: 0,
      maxLiveCycleMs: 0,
      fileBacklogMs: 0,
      meanBatchSize: 0,
    });
  });
});
