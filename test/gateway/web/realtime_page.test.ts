/**
 * The web page's OpenAI Realtime modules: the transcript built from server events, the
 * PCM16/base64 audio, and the events the page sends, checked against the gateway's own
 * parser of client events (what the server will make of them).
 */
import { describe, expect, it } from 'vitest';

import { parseClientEvent } from '../../../gateway/src/realtime/protocol.js';
import {
  importPageModule,
  type Pcm16Module,
  type RealtimeModule,
  type RealtimeTranscriptModule,
} from './page_modules.js';

const { RealtimeTranscript } =
  await importPageModule<RealtimeTranscriptModule>('realtime_transcript.js');
const { floatToPcm16, bytesToBase64 } = await importPageModule<Pcm16Module>('pcm16.js');
const { REALTIME_RATE, defaultRealtimeUrl, realtimeProtocols, sessionUpdate, appendEvent } =
  await importPageModule<RealtimeModule>('realtime.js');

const ITEM = 'conversation.item.input_audio_transcription';

describe('RealtimeTranscript', () => {
  it('shows a turn pending at speech_started, in progress with deltas, final at completed', () => {
    const transcript = new RealtimeTranscript();
    expect(transcript.apply({ type: 'session.updated', session: {} })).toBeUndefined();
    transcript.apply({ type: 'input_audio_buffer.speech_started', item_id: 'item_a' });
    expect(transcript.items).toEqual([
      { id: 'item_a', state: 'pending', text: '', isStoppedBySilence: false },
    ]);
    expect(transcript.pendingCount).toBe(1);
    transcript.apply({ type: `${ITEM}.delta`, item_id: 'item_a', delta: 'And so' });
    transcript.apply({ type: `${ITEM}.delta`, item_id: 'item_a', delta: ' my fellow' });
    expect(transcript.items[0]).toMatchObject({ state: 'partial', text: 'And so my fellow' });
    expect(transcript.completedText).toBe('');
    transcript.apply({ type: 'input_audio_buffer.speech_stopped', item_id: 'item_a' });
    transcript.apply({ type: 'input_audio_buffer.committed', item_id: 'item_a' });
    transcript.apply({
      type: `${ITEM}.completed`,
      item_id: 'item_a',
      transcript: 'And so my fellow Americans,',
    });
    expect(transcript.items).toEqual([
      {
        id: 'item_a',
        state: 'completed',
        text: 'And so my fellow Americans,',
        isStoppedBySilence: true,
      },
    ]);
    expect(transcript.pendingCount).toBe(0);
    // Nothing changes a completed turn.
    expect(
      transcript.apply({ type: `${ITEM}.delta`, item_id: 'item_a', delta: ' again' }),
    ).toBeUndefined();
    expect(transcript.completedText).toBe('And so my fellow Americans,');
  });

  it('keeps turns in the order the server named them and leaves out empty ones', () => {
    const transcript = new RealtimeTranscript();
    transcript.apply({ type: 'input_audio_buffer.speech_started', item_id: 'item_1' });
    transcript.apply({ type: `${ITEM}.delta`, item_id: 'item_1', delta: 'first' });
    // The next turn's speech begins before the first turn's text is final.
    transcript.apply({ type: 'input_audio_buffer.speech_started', item_id: 'item_2' });
    transcript.apply({ type: `${ITEM}.completed`, item_id: 'item_1', transcript: 'first' });
    transcript.apply({ type: `${ITEM}.completed`, item_id: 'item_2', transcript: 'second' });
    // A commit over silence: a turn in which nothing was said.
    transcript.apply({ type: `${ITEM}.completed`, item_id: 'item_3', transcript: '' });
    expect(transcript.items.map((item) => [item.id, item.text])).toEqual([
      ['item_1', 'first'],
      ['item_2', 'second'],
    ]);
    expect(transcript.completedText).toBe('first second');
    expect(transcript.pendingCount).toBe(0);
  });

  it('marks a failed turn with the error and counts it as over', () => {
    const transcript = new RealtimeTranscript();
    transcript.apply({ type: `${ITEM}.delta`, item_id: 'item_x', delta: 'half' });
    const item = transcript.apply({
      type: `${ITEM}.failed`,
      item_id: 'item_x',
      error: { message: 'The transcription worker failed.' },
    });
    expect(item).toMatchObject({
      state: 'failed',
      text: 'half',
      error: 'The transcription worker failed.',
    });
    expect(transcript.pendingCount).toBe(0);
    expect(transcript.completedText).toBe('');
  });
});

describe('floatToPcm16 and bytesToBase64', () => {
  it('writes rounded, clipped 16-bit little-endian samples', () => {
    const bytes = floatToPcm16(Float32Array.from([0, 0.5, -0.5, 1, -1, 1.5, -2, 1 / 32767]));
    const view = new DataView(bytes.buffer);
    const values = Array.from({ length: bytes.length / 2 }, (_, i) => view.getInt16(2 * i, true));
    expect(values).toEqual([0, 16384, -16384, 32767, -32768, 32767, -32768, 1]);
    // Little-endian: 16384 is 0x4000, low byte first.
    expect([...bytes.subarray(2, 4)]).toEqual([0x00, 0x40]);
  });

  it('encodes standard padded base64 at any length, also past its chunk size', () => {
    for (const length of [0, 1, 2, 3, 4800, 0x6000 + 7, 3 * 0x6000]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + 7) % 256);
      expect(bytesToBase64(bytes), `${length} bytes`).toBe(Buffer.from(bytes).toString('base64'));
    }
  });
});

describe('the events the page sends', () => {
  it('connects beside the page, wss under https, with the key as a subprotocol', () => {
    expect(defaultRealtimeUrl('http://stt.example.com:8080/')).toBe(
      'ws://stt.example.com:8080/v1/realtime?intent=transcription',
    );
    // Behind a proxy under a path, as the page's HTTP calls (`v1/models`) are.
    expect(defaultRealtimeUrl('https://example.com/stt/index.html')).toBe(
      'wss://example.com/stt/v1/realtime?intent=transcription',
    );
    expect(realtimeProtocols('')).toEqual(['realtime']);
    expect(realtimeProtocols('sk-1')).toEqual(['realtime', 'openai-insecure-api-key.sk-1']);
  });

  it('sends a session.update the server takes: 24 kHz PCM, model, language, server VAD', () => {
    const update = sessionUpdate({ model: 'whisper-1', language: 'en', silenceDurationMs: 700 });
    const parsed = parseClientEvent(JSON.stringify(update));
    expect(parsed).toEqual({
      isValid: true,
      event: {
        type: 'session.update',
        eventId: 'page_session_update',
        dialect: 'ga',
        patch: {
          format: { type: 'audio/pcm', rate: 24_000 },
          transcription: { model: 'whisper-1', language: 'en' },
          turnDetection: { type: 'server_vad', silence_duration_ms: 700 },
        },
      },
    });
    // No language: the server detects it (the field is left out, not sent empty).
    const detect = sessionUpdate({ model: 'whisper-1', language: '', silenceDurationMs: 500 });
    const parsedDetect = parseClientEvent(JSON.stringify(detect));
    expect(parsedDetect.isValid && parsedDetect.event).toMatchObject({
      patch: { transcription: { model: 'whisper-1' } },
    });
    expect(JSON.stringify(detect)).not.toContain('language');
  });

  it('sends 100 ms appends whose audio the server decodes to the same samples', () => {
    expect(REALTIME_RATE).toBe(24_000);
    const samples = Float32Array.from({ length: 2400 }, (_, i) => Math.sin(i / 10) * 0.8);
    const parsed = parseClientEvent(JSON.stringify(appendEvent(samples)));
    if (!parsed.isValid || parsed.event.type !== 'input_audio_buffer.append') {
      throw new Error(`refused: ${JSON.stringify(parsed)}`);
    }
    const audio = parsed.event.audio;
    expect(audio.length).toBe(4800);
    for (let i = 0; i < samples.length; i += 1) {
      expect(audio.readInt16LE(2 * i) / 32767).toBeCloseTo(samples[i] ?? 0, 4);
    }
  });
});
