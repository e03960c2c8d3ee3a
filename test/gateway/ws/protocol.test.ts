import { describe, expect, it } from 'vitest';

import {
  MAX_LANGUAGE_CHARS as HTTP_MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS as HTTP_MAX_MODEL_CHARS,
  MAX_PROMPT_CHARS as HTTP_MAX_PROMPT_CHARS,
} from '../../../gateway/src/http/form.js';
import type { Segment } from '../../../gateway/src/transcript.js';
import {
  audioBytesToMs,
  decodeAudioFrame,
  encodeDisconnect,
  encodeError,
  encodeLanguage,
  encodeSegments,
  encodeServerReady,
  encodeWait,
  formatSeconds,
  isEndOfAudio,
  MAX_HF_TOKEN_CHARS,
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_OPTIONS_MESSAGE_BYTES,
  MAX_PROMPT_CHARS,
  MAX_UID_CHARS,
  parseOptionsMessage,
  sampleWidthBytes,
  selectSegments,
  toWireSegment,
  unsupportedFeatures,
  workerEncodingFor,
  type ClientOptions,
  type OptionsParseResult,
} from '../../../gateway/src/ws/protocol.js';
import { finalSegment } from '../support/fake_stream.js';
import { STOCK_CLIENT_OPTIONS } from '../support/fixtures.js';

function optionsOf(result: OptionsParseResult): ClientOptions {
  if (!result.isValid) throw new Error(`expected valid options, got: ${result.message}`);
  return result.options;
}

function refusal(text: string): { uid: string; message: string } {
  const result = parseOptionsMessage(text);
  if (result.isValid) throw new Error('expected the options to be refused');
  return { uid: result.uid, message: result.message };
}

/** The options the stock Python client v0.9.0 sends, in its order. */

describe('parseOptionsMessage', () => {
  it('fills every default from a message with only a uid', () => {
    expect(optionsOf(parseOptionsMessage('{"uid": "u1"}'))).toEqual({
      uid: 'u1',
      language: null,
      task: 'transcribe',
      model: null,
      useVad: false,
      vadParameters: null,
      sendLastNSegments: 10,
      noSpeechThresh: 0.45,
      clipAudio: false,
      sameOutputThreshold: 10,
      initialPrompt: null,
      hotwords: null,
      wordTimestamps: false,
      enableTranslation: false,
      targetLanguage: 'fr',
      enableDiarization: false,
      diarizationThreshold: 0.55,
      maxSpeakers: 10,
      audioFormat: 'float32',
    });
  });

  it("reads the stock Python client's message", () => {
    expect(optionsOf(parseOptionsMessage(JSON.stringify(STOCK_CLIENT_OPTIONS)))).toMatchObject({
      uid: STOCK_CLIENT_OPTIONS.uid,
      language: 'en',
      task: 'transcribe',
      model: 'small',
      useVad: true,
      vadParameters: null,
      hotwords: null,
      initialPrompt: null,
    });
  });

  it("reads the Chrome extension's five keys", () => {
    const text = '{"uid":"c","language":null,"task":"translate","model":"base","use_vad":false}';
    expect(optionsOf(parseOptionsMessage(text))).toMatchObject({
      uid: 'c',
      language: null,
      task: 'translate',
      model: 'base',
      useVad: false,
    });
  });

  it('reads every key of the full option set', () => {
    const text = JSON.stringify({
      uid: 'full',
      language: 'de',
      task: 'translate',
      model: 'large-v3',
      use_vad: true,
      vad_parameters: {
        threshold: 0.6,
        neg_threshold: 0.35,
        min_speech_duration_ms: 250,
        max_speech_duration_s: 12.5,
        min_silence_duration_ms: 500,
        speech_pad_ms: 100,
        window_size_samples: 512,
      },
      send_last_n_segments: 3,
      no_speech_thresh: 0.3,
      clip_audio: true,
      same_output_threshold: 5,
      initial_prompt: 'Glossary: gRPC.',
      hotwords: 'WhisperLive',
      word_timestamps: true,
      enable_translation: true,
      target_language: 'es',
      enable_diarization: true,
      diarization_threshold: 0.7,
      max_speakers: 4,
      hf_token: 'hf_secret',
      audio_format: 'int16',
      max_clients: 4,
      max_connection_time: 600,
      multilingual: true,
      unknown_key: { anything: 1 },
    });
    const options = optionsOf(parseOptionsMessage(text));
    expect(options).toEqual({
      uid: 'full',
      language: 'de',
      task: 'translate',
      model: 'large-v3',
      useVad: true,
      vadParameters: {
        threshold: 0.6,
        minSpeechMs: 250,
        minSilenceMs: 500,
        speechPadMs: 100,
        maxSpeechMs: 12_500,
      },
      sendLastNSegments: 3,
      noSpeechThresh: 0.3,
      clipAudio: true,
      sameOutputThreshold: 5,
      initialPrompt: 'Glossary: gRPC.',
      hotwords: 'WhisperLive',
      wordTimestamps: true,
      enableTranslation: true,
      targetLanguage: 'es',
      enableDiarization: true,
      diarizationThreshold: 0.7,
      maxSpeakers: 4,
      audioFormat: 'int16',
    });
    expect(JSON.stringify(options)).not.toContain('hf_secret');
    expect(unsupportedFeatures(options)).toEqual(['enable_translation', 'enable_diarization']);
  });

  it("accepts Python's Infinity for max_speech_duration_s as no limit", () => {
    const text =
      '{"uid": "p", "vad_parameters": {"threshold": 0.5, "max_speech_duration_s": Infinity},' +
      ' "initial_prompt": "Infinity and NaN stay text"}';
    const options = optionsOf(parseOptionsMessage(text));
    expect(options.vadParameters).toEqual({
      threshold: 0.5,
      minSpeechMs: undefined,
      minSilenceMs: undefined,
      speechPadMs: undefined,
      maxSpeechMs: undefined,
    });
    expect(options.initialPrompt).toBe('Infinity and NaN stay text');
  });

  it('treats null and empty language and model as unset', () => {
    expect(
      optionsOf(parseOptionsMessage('{"uid":"x","language":"","model":"","task":null}')),
    ).toMatchObject({ language: null, model: null, task: 'transcribe' });
  });

  it('refuses what is not a JSON object with a string uid', () => {
    expect(refusal('hello')).toEqual({
      uid: '',
      message: 'the first message must be the options JSON',
    });
    expect(refusal('[1, 2]')).toEqual({
      uid: '',
      message: 'the options message must be a JSON object, got an array',
    });
    expect(refusal('"text"')).toEqual({
      uid: '',
      message: 'the options message must be a JSON object, got a string',
    });
    expect(refusal('{"language": "en"}')).toEqual({
      uid: '',
      message: 'the options message needs a "uid" (string)',
    });
    expect(refusal('{"uid": 42}')).toEqual({
      uid: '',
      message: '"uid" must be a string, got a number',
    });
  });

  it('refuses wrong types and ranges, naming every problem and echoing the uid', () => {
    expect(refusal('{"uid": "u", "use_vad": "yes"}')).toEqual({
      uid: 'u',
      message: 'invalid options: "use_vad" must be a boolean (true or false), got a string',
    });
    expect(refusal('{"uid": "u", "audio_format": "mp3"}').message).toBe(
      'invalid options: "audio_format" must be one of "float32", "int16", "uint8", got "mp3"',
    );
    expect(refusal('{"uid": "u", "task": "summarize"}').message).toBe(
      'invalid options: "task" must be one of "transcribe", "translate", got "summarize"',
    );
    const many = refusal(
      JSON.stringify({
        uid: 'u',
        language: 5,
        send_last_n_segments: 2.5,
        no_speech_thresh: 3,
        vad_parameters: { threshold: 1, speech_pad_ms: -1 },
        word_timestamps: 1,
        hf_token: false,
      }),
    );
    expect(many.message).toBe(
      'invalid options: "language" must be a string or null, got a number; ' +
        '"vad_parameters.threshold" must be a number in (0, 1), got 1; ' +
        '"vad_parameters.speech_pad_ms" must be a number in [0, 86400000], got -1; ' +
        '"send_last_n_segments" must be an integer in [1, 1000], got 2.5; ' +
        '"no_speech_thresh" must be a number in [0, 1], got 3; ' +
        '"word_timestamps" must be a boolean (true or false), got a number; ' +
        '"hf_token" must be a string or null, got a boolean',
    );
    expect(refusal('{"uid": "u", "vad_parameters": [1]}').message).toBe(
      'invalid options: "vad_parameters" must be an object or null, got an array',
    );
  });
});

describe('audio frames', () => {
  it('maps client formats to worker encodings and sample widths', () => {
    expect([
      sampleWidthBytes('float32'),
      sampleWidthBytes('int16'),
      sampleWidthBytes('uint8'),
    ]).toEqual([4, 2, 1]);
    expect(workerEncodingFor('float32')).toBe('float32');
    expect(workerEncodingFor('int16')).toBe('linear16');
    expect(workerEncodingFor('uint8')).toBe('linear16');
    expect(audioBytesToMs(64_000, 'float32')).toBe(1000);
    expect(audioBytesToMs(32_000, 'linear16')).toBe(1000);
  });

  it('passes float32 and int16 through unchanged', () => {
    const float = Buffer.from(new Float32Array([0.5, -0.25]).buffer);
    const decodedFloat = decodeAudioFrame(float, 'float32');
    expect(decodedFloat.isValid && decodedFloat.pcm).toBe(float);
    const int16 = Buffer.from([1, 2, 3, 4]);
    const decodedInt = decodeAudioFrame(int16, 'int16');
    expect(decodedInt.isValid && decodedInt.pcm).toBe(int16);
  });

  it('widens uint8 to LINEAR16 as (x - 128) / 128', () => {
    const decoded = decodeAudioFrame(Buffer.from([0, 64, 128, 192, 255]), 'uint8');
    if (!decoded.isValid) throw new Error(decoded.message);
    const samples = [0, 1, 2, 3, 4].map((i) => decoded.pcm.readInt16LE(i * 2));
    expect(samples).toEqual([-32768, -16384, 0, 16384, 32512]);
    expect(samples.map((s) => s / 32768)).toEqual([-1, -0.5, 0, 0.5, 127 / 128]);
  });

  it('accepts any whole number of samples and refuses the rest', () => {
    expect(decodeAudioFrame(Buffer.alloc(4 * 1001), 'float32').isValid).toBe(true);
    expect(decodeAudioFrame(Buffer.alloc(0), 'float32').isValid).toBe(true);
    expect(decodeAudioFrame(Buffer.alloc(3), 'uint8').isValid).toBe(true);
    expect(decodeAudioFrame(Buffer.alloc(6), 'float32')).toEqual({
      isValid: false,
      message: 'frame of 6 bytes is not a whole number of float32 samples',
    });
    expect(decodeAudioFrame(Buffer.alloc(7), 'int16')).toEqual({
      isValid: false,
      message: 'frame of 7 bytes is not a whole number of int16 samples',
    });
  });

  it('recognises END_OF_AUDIO as a binary or a text frame', () => {
    expect(isEndOfAudio(Buffer.from('END_OF_AUDIO'), true)).toBe(true);
    expect(isEndOfAudio(Buffer.from('END_OF_AUDIO'), false)).toBe(true);
    expect(isEndOfAudio(Buffer.from('END_OF_AUDIO\n'), false)).toBe(true);
    expect(isEndOfAudio(Buffer.from('END_OF_AUDIO\n'), true)).toBe(false);
    expect(isEndOfAudio(Buffer.from('end_of_audio'), true)).toBe(false);
  });
});

function segmentAt(index: number, startMs: number, endMs: number, text: string): Segment {
  return { ...finalSegment(index, text), startMs, endMs };
}

describe('server messages', () => {
  it('formats times as seconds with exactly three decimals', () => {
    expect(formatSeconds(0)).toBe('0.000');
    expect(formatSeconds(12_480)).toBe('12.480');
    expect(formatSeconds(15_020)).toBe('15.020');
    expect(formatSeconds(5)).toBe('0.005');
    expect(formatSeconds(3_600_001)).toBe('3600.001');
    expect(formatSeconds(1234.6)).toBe('1.235');
  });

  it('encodes every message exactly', () => {
    expect(encodeServerReady('u')).toBe(
      '{"uid":"u","message":"SERVER_READY","backend":"faster_whisper"}',
    );
    expect(encodeWait('u', 4.73)).toBe('{"uid":"u","status":"WAIT","message":4.73}');
    expect(encodeError('u', 'Failed')).toBe('{"uid":"u","status":"ERROR","message":"Failed"}');
    expect(encodeDisconnect('u')).toBe('{"uid":"u","message":"DISCONNECT"}');
    expect(encodeLanguage('u', 'de', 0.97)).toBe(
      '{"uid":"u","language":"de","language_prob":0.97}',
    );
    const segment = segmentAt(0, 12_480, 15_020, ' and so my fellow Americans');
    expect(encodeSegments('u', [toWireSegment(segment, true, false)])).toBe(
      '{"uid":"u","segments":[{"start":"12.480","end":"15.020",' +
        '"text":" and so my fellow Americans","completed":true}]}',
    );
  });

  it('adds words with string times and probabilities rounded to four places', () => {
    const segment: Segment = {
      ...segmentAt(1, 0, 800, ' Hello'),
      words: [{ word: ' Hello', startMs: 0, endMs: 800, probability: 0.953_718 }],
    };
    expect(JSON.stringify(toWireSegment(segment, false, true))).toBe(
      '{"start":"0.000","end":"0.800","text":" Hello","completed":false,' +
        '"words":[{"word":" Hello","start":"0.000","end":"0.800","probability":0.9537}]}',
    );
  });

  it('selects the last N completed segments, oldest first, then the partial', () => {
    const completed = [0, 1, 2, 3].map((i) => segmentAt(i, i * 1000, i * 1000 + 1000, ` s${i}`));
    const partial = { ...segmentAt(4, 4000, 4500, ' part'), isFinal: false };
    expect(selectSegments(completed, partial, 2, false)).toEqual([
      { start: '2.000', end: '3.000', text: ' s2', completed: true },
      { start: '3.000', end: '4.000', text: ' s3', completed: true },
      { start: '4.000', end: '4.500', text: ' part', completed: false },
    ]);
    expect(selectSegments(completed, undefined, 10, false)).toHaveLength(4);
    expect(selectSegments([], partial, 10, false)).toEqual([
      { start: '4.000', end: '4.500', text: ' part', completed: false },
    ]);
    expect(selectSegments([], undefined, 10, false)).toEqual([]);
  });
});

describe('parseOptionsMessage on hostile input', () => {
  /** Wall time of one parse, in ms. */
  function timeParse(text: string): { ms: number; result: OptionsParseResult } {
    const started = performance.now();
    const result = parseOptionsMessage(text);
    return { ms: performance.now() - started, result };
  }

  it('answers a 1 MiB unterminated string of escaped quotes in well under 100 ms', () => {
    const text = `{"uid": "a", "initial_prompt": "${'\\"'.repeat(512 * 1024)}`;
    expect(text.length).toBeGreaterThan(1024 * 1024);
    const { ms, result } = timeParse(text);
    expect(result).toEqual({
      isValid: false,
      uid: '',
      message: `the options message must be at most ${MAX_OPTIONS_MESSAGE_BYTES} bytes`,
    });
    expect(ms).toBeLessThan(100);
  });

  it('scans the largest allowed frame of escaped quotes in linear time', () => {
    // Just under the size cap, so the JSON rewrite itself runs: the old regex took ~1 s here.
    const body = '\\"'.repeat((MAX_OPTIONS_MESSAGE_BYTES - 64) / 2);
    const unterminated = `{"uid": "a", "hotwords": "${body}`;
    expect(Buffer.byteLength(unterminated)).toBeLessThanOrEqual(MAX_OPTIONS_MESSAGE_BYTES);
    const first = timeParse(unterminated);
    expect(first.result.isValid).toBe(false);
    expect(first.ms).toBeLessThan(100);
    const mixed = `{"uid": "a", "x": [${'"\\"", NaN, Infinity, '.repeat(2000)}0]`;
    const second = timeParse(mixed);
    expect(second.result.isValid).toBe(false);
    expect(second.ms).toBeLessThan(100);
  });

  it('counts the cap in UTF-8 bytes', () => {
    const prompt = 'é'.repeat(MAX_PROMPT_CHARS);
    const padding = 'ü'.repeat(MAX_OPTIONS_MESSAGE_BYTES / 2);
    const text = JSON.stringify({ uid: 'u', initial_prompt: prompt, pad: padding });
    expect(text.length).toBeLessThan(MAX_OPTIONS_MESSAGE_BYTES);
    expect(refusal(text).message).toBe(
      `the options message must be at most ${MAX_OPTIONS_MESSAGE_BYTES} bytes`,
    );
    const fits = JSON.stringify({ uid: 'u', initial_prompt: prompt });
    expect(optionsOf(parseOptionsMessage(fits)).initialPrompt).toBe(prompt);
  });

  it('keeps the Infinity/NaN rewrite out of strings and off longer words', () => {
    const text =
      '{"uid": "u", "initial_prompt": "say \\"NaN\\" and -Infinity", "hotwords": "Infinity",' +
      ' "vad_parameters": {"max_speech_duration_s": Infinity, "threshold": NaN}, "x": -Infinity}';
    const options = optionsOf(parseOptionsMessage(text));
    expect(options.initialPrompt).toBe('say "NaN" and -Infinity');
    expect(options.hotwords).toBe('Infinity');
    expect(options.vadParameters?.maxSpeechMs).toBeUndefined();
    expect(options.vadParameters?.threshold).toBeUndefined();
    expect(refusal('{"uid": "u", "x": Infinityx}').message).toBe(
      'the first message must be the options JSON',
    );
    expect(refusal('{"uid": "u", "x": NaNa}').message).toBe(
      'the first message must be the options JSON',
    );
  });

  it('caps uid at 128 printable characters and does not echo a refused one', () => {
    expect(
      optionsOf(parseOptionsMessage(JSON.stringify({ uid: 'u'.repeat(128) }))).uid,
    ).toHaveLength(MAX_UID_CHARS);
    expect(refusal(JSON.stringify({ uid: 'u'.repeat(129) }))).toEqual({
      uid: '',
      message: `"uid" must be at most ${MAX_UID_CHARS} characters, got 129`,
    });
    for (const uid of ['a\u0000b', 'line\nbreak', '\u001b[31mred', 'lone \ud800', 'del\u007f']) {
      expect(refusal(JSON.stringify({ uid }))).toEqual({
        uid: '',
        message: '"uid" must be printable text (no control characters)',
      });
    }
    expect(optionsOf(parseOptionsMessage(JSON.stringify({ uid: 'Ümit 🎙️ #1' }))).uid).toBe(
      'Ümit 🎙️ #1',
    );
  });

  it('caps every text option, naming each one over its cap', () => {
    const caps = {
      language: MAX_LANGUAGE_CHARS,
      model: MAX_MODEL_CHARS,
      initial_prompt: MAX_PROMPT_CHARS,
      hotwords: MAX_PROMPT_CHARS,
      target_language: MAX_LANGUAGE_CHARS,
      hf_token: MAX_HF_TOKEN_CHARS,
    };
    const atCap = Object.fromEntries(Object.entries(caps).map(([k, n]) => [k, 'x'.repeat(n)]));
    // `language` must also be a real code, which no 32-letter string is.
    const valid = JSON.stringify({ uid: 'u', ...atCap, language: 'en' });
    expect(parseOptionsMessage(valid).isValid).toBe(true);
    const over = Object.fromEntries(Object.entries(caps).map(([k, n]) => [k, 'x'.repeat(n + 1)]));
    const { uid, message } = refusal(JSON.stringify({ uid: 'u', ...over }));
    expect(uid).toBe('u');
    expect(message).toBe(
      'invalid options: ' +
        Object.entries(caps)
          .map(([k, n]) => `"${k}" must be at most ${n} characters, got ${n + 1}`)
          .join('; '),
    );
  });

  it('takes Whisper language codes in any case and refuses unknown ones', () => {
    const parsed = parseOptionsMessage(JSON.stringify({ uid: 'u', language: 'DE' }));
    expect(parsed.isValid && parsed.options.language).toBe('de');
    expect(refusal(JSON.stringify({ uid: 'u', language: 'klingon' })).message).toBe(
      'invalid options: "language" must be a Whisper language code such as "en" or "de", ' +
        'got "klingon"',
    );
  });

  it('caps prompts, languages and models as the HTTP forms do', () => {
    expect([MAX_PROMPT_CHARS, MAX_LANGUAGE_CHARS, MAX_MODEL_CHARS]).toEqual([
      HTTP_MAX_PROMPT_CHARS,
      HTTP_MAX_LANGUAGE_CHARS,
      HTTP_MAX_MODEL_CHARS,
    ]);
    expect([MAX_OPTIONS_MESSAGE_BYTES, MAX_UID_CHARS, MAX_HF_TOKEN_CHARS]).toEqual([
      65_536, 128, 256,
    ]);
  });

  it('echoes only the start of a long invalid choice', () => {
    const { message } = refusal(JSON.stringify({ uid: 'u', task: 't'.repeat(3000) }));
    expect(message).toBe(
      `invalid options: "task" must be one of "transcribe", "translate", got "${'t'.repeat(40)}…"`,
    );
  });
});
