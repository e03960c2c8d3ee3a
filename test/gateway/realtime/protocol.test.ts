import { describe, expect, it } from 'vitest';

import {
  applySessionPatch,
  defaultSessionConfig,
  encodeServerEvent,
  parseClientEvent,
  type ParsedClientEvent,
} from '../../../gateway/src/realtime/protocol.js';

function parse(event: unknown): ParsedClientEvent {
  return parseClientEvent(JSON.stringify(event));
}

function errorOf(event: unknown): unknown {
  const parsed = parse(event);
  if (parsed.isValid) throw new Error('expected an error');
  return parsed.error;
}

describe('parseClientEvent', () => {
  it('reads a GA session.update into a patch of the fields present', () => {
    expect(
      parse({
        type: 'session.update',
        event_id: 'e1',
        session: {
          type: 'transcription',
          audio: {
            input: {
              format: { type: 'audio/pcm', rate: 24000 },
              transcription: { model: 'whisper-1', language: 'de', prompt: null },
              turn_detection: {
                type: 'server_vad',
                threshold: 0.6,
                prefix_padding_ms: 200,
                silence_duration_ms: 700,
              },
              noise_reduction: null,
            },
          },
        },
      }),
    ).toEqual({
      isValid: true,
      event: {
        type: 'session.update',
        eventId: 'e1',
        dialect: 'ga',
        patch: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: { model: 'whisper-1', language: 'de', prompt: '' },
          turnDetection: {
            type: 'server_vad',
            threshold: 0.6,
            prefix_padding_ms: 200,
            silence_duration_ms: 700,
          },
          noiseReduction: null,
        },
      },
    });
  });

  it('reads the beta transcription_session.update into the same patch', () => {
    expect(
      parse({
        type: 'transcription_session.update',
        session: {
          input_audio_format: 'g711_alaw',
          input_audio_transcription: { model: 'whisper-1' },
          turn_detection: null,
        },
      }),
    ).toEqual({
      isValid: true,
      event: {
        type: 'session.update',
        eventId: null,
        dialect: 'beta',
        patch: {
          format: { type: 'audio/pcma' },
          transcription: { model: 'whisper-1' },
          turnDetection: null,
        },
      },
    });
  });

  it('decodes the audio of an append and reads commit and clear', () => {
    expect(parse({ type: 'input_audio_buffer.append', audio: 'AAEC' })).toEqual({
      isValid: true,
      event: { type: 'input_audio_buffer.append', eventId: null, audio: Buffer.from([0, 1, 2]) },
    });
    expect(parse({ type: 'input_audio_buffer.commit', event_id: 'x' })).toEqual({
      isValid: true,
      event: { type: 'input_audio_buffer.commit', eventId: 'x' },
    });
  });

  it('answers what is wrong the way OpenAI does: code, message, param, the event id', () => {
    expect(parseClientEvent('[1')).toMatchObject({
      isValid: false,
      error: { type: 'invalid_request_error', code: 'invalid_json', param: null, event_id: null },
    });
    expect(errorOf({ type: 'input_audio_buffer.append', event_id: 'a' })).toEqual({
      type: 'invalid_request_error',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'audio'.",
      param: 'audio',
      event_id: 'a',
    });
    expect(errorOf({ type: 'input_audio_buffer.append', audio: 5 })).toMatchObject({
      code: 'invalid_type',
      message: "Invalid type for 'audio': expected a string, but got an integer instead.",
    });
    expect(errorOf({ type: 'input_audio_buffer.append', audio: 'AAE' })).toMatchObject({
      code: 'invalid_value',
      param: 'audio',
    });
    expect(errorOf({ type: 'input_audio_buffer.nope' })).toMatchObject({
      code: 'invalid_value',
      param: 'type',
      message:
        "Invalid value: 'input_audio_buffer.nope'. Supported values are: 'session.update', " +
        "'transcription_session.update', 'input_audio_buffer.append', " +
        "'input_audio_buffer.commit', 'input_audio_buffer.clear'.",
    });
    expect(
      errorOf({ type: 'session.update', session: { type: 'transcription', voice: 'alloy' } }),
    ).toMatchObject({
      code: 'unknown_parameter',
      message: "Unknown parameter: 'session.voice'.",
      param: 'session.voice',
    });
    expect(errorOf({ type: 'session.update', session: { audio: {} } })).toMatchObject({
      code: 'missing_required_parameter',
      param: 'session.type',
    });
    expect(
      errorOf({
        type: 'session.update',
        session: {
          type: 'transcription',
          audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } },
        },
      }),
    ).toMatchObject({
      code: 'invalid_value',
      param: 'session.audio.input.format.rate',
      message: "Invalid value: '16000'. Supported values are: '24000'.",
    });
    expect(
      errorOf({
        type: 'transcription_session.update',
        session: { turn_detection: { type: 'semantic_vad' } },
      }),
    ).toMatchObject({ code: 'invalid_value', param: 'session.turn_detection.type' });
    expect(
      errorOf({
        type: 'transcription_session.update',
        session: { turn_detection: { threshold: 2 } },
      }),
    ).toMatchObject({ code: 'invalid_value', param: 'session.turn_detection.threshold' });
    expect(
      errorOf({
        type: 'transcription_session.update',
        session: { turn_detection: { threshold: 0 } },
      }),
    ).toMatchObject({
      message:
        "Invalid 'session.turn_detection.threshold': expected a number strictly between 0 and 1, got 0.",
    });
    expect(
      errorOf({
        type: 'transcription_session.update',
        session: { turn_detection: { silence_duration_ms: 0 } },
      }),
    ).toMatchObject({
      message:
        "Invalid 'session.turn_detection.silence_duration_ms': expected a number from 1 to 10000, got 0.",
    });
    expect(errorOf({ type: 'input_audio_buffer.clear', event_id: 7 })).toMatchObject({
      code: 'invalid_type',
      param: 'event_id',
    });
  });
});

describe('applySessionPatch', () => {
  it('changes what is present; null clears; nested fields merge', () => {
    const defaults = defaultSessionConfig('tiny.en');
    const manual = applySessionPatch(defaults, { turnDetection: null }, defaults);
    expect(manual.turnDetection).toBeNull();
    const vad = applySessionPatch(manual, { turnDetection: { threshold: 0.7 } }, defaults);
    expect(vad.turnDetection).toEqual({
      type: 'server_vad',
      threshold: 0.7,
      prefix_padding_ms: 300,
      silence_duration_ms: 500,
    });
    const german = applySessionPatch(vad, { transcription: { language: 'de' } }, defaults);
    expect(german.transcription).toEqual({ model: 'tiny.en', language: 'de', prompt: '' });
    expect(applySessionPatch(german, { transcription: null }, defaults).transcription).toEqual(
      defaults.transcription,
    );
  });
});

describe('encodeServerEvent', () => {
  it('puts a fresh event_id first', () => {
    const text = encodeServerEvent({ type: 'input_audio_buffer.cleared' });
    expect(text).toMatch(
      /^\{"event_id":"event_[A-Za-z0-9]{21}","type":"input_audio_buffer.cleared"\}$/,
    );
    expect(encodeServerEvent({ type: 'x' })).not.toBe(encodeServerEvent({ type: 'x' }));
  });
});
