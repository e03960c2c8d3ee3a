import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { InternalError, WorkerBusyError } from '../../../gateway/src/errors.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import { createGatewayMetrics } from '../../../gateway/src/metrics.js';
import type { Dialect } from '../../../gateway/src/realtime/protocol.js';
import {
  createRealtimeSession,
  type RealtimeLimits,
  type RealtimeSession,
} from '../../../gateway/src/realtime/session.js';
import type { TranscriptEvent, TurnEnd } from '../../../gateway/src/transcript.js';
import { createSessionAdmission } from '../../../gateway/src/ws/server.js';
import { FakeSocket } from '../support/fake_socket.js';
import { fakePool, liveSegment, ScriptedRecognizeStream } from '../support/fake_stream.js';
import { TINY_EN_INFO } from '../support/fixtures.js';

const LIMITS: RealtimeLimits = {
  maxSessionMs: 1_800_000,
  idleTimeoutMs: 120_000,
  maxPendingAudioMs: 10_000,
  readyTimeoutMs: 30_000,
  maxSendBufferBytes: 1024 * 1024,
};

const INFO = TINY_EN_INFO;

/** `ms` of 24 kHz PCM16 (a quiet tone), base64. */
function pcm24k(ms: number): string {
  const samples = (24 * ms) | 0;
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i += 1) {
    pcm.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 24_000)), i * 2);
  }
  return pcm.toString('base64');
}

interface Setup {
  readonly session: RealtimeSession;
  readonly socket: FakeSocket;
  readonly streams: ScriptedRecognizeStream[];
  readonly pool: ReturnType<typeof fakePool>;
  stream(): ScriptedRecognizeStream;
  /** The events sent, without their event ids, from `from` on. */
  events(from?: number): Record<string, unknown>[];
  send(event: unknown): void;
}

function setup(
  options: { dialect?: Dialect; maxSessions?: number; limits?: Partial<RealtimeLimits> } = {},
): Setup {
  const socket = new FakeSocket();
  const streams: ScriptedRecognizeStream[] = [];
  const pool = fakePool(() => {
    const stream = new ScriptedRecognizeStream();
    streams.push(stream);
    return stream;
  }, INFO);
  const admission = createSessionAdmission({
    maxSessions: options.maxSessions ?? 8,
    maxConnectionMs: 600_000,
  });
  if (options.maxSessions === 0) admission.admit('someone else');
  const session = createRealtimeSession({
    sessionId: 's1',
    requestId: 'req-1',
    dialect: options.dialect ?? 'ga',
    socket,
    pool,
    admission,
    limits: { ...LIMITS, ...options.limits },
    metrics: createGatewayMetrics(),
    logger: createSilentLogger(),
  });
  session.start();
  return {
    session,
    socket,
    streams,
    pool,
    stream() {
      const stream = streams[0];
      if (stream === undefined) throw new Error('no stream');
      return stream;
    },
    events(from = 0) {
      return socket
        .messages()
        .slice(from)
        .map((message) => {
          const { event_id: eventId, ...rest } = message as Record<string, unknown>;
          expect(eventId).toMatch(/^event_[A-Za-z0-9]{21}$/);
          return rest;
        });
    },
    send(event: unknown) {
      session.handleMessage(
        Buffer.from(typeof event === 'string' ? event : JSON.stringify(event)),
        false,
      );
    },
  };
}

async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

function push(s: Setup, ...events: TranscriptEvent[]): void {
  s.stream().push(...events);
}

function final(index: number, text: string): TranscriptEvent {
  return { type: 'results', segments: [liveSegment(index, text, 0, 1000, true)] };
}

function turnEnd(turn: Partial<TurnEnd> & Pick<TurnEnd, 'reason'>): TranscriptEvent {
  return {
    type: 'turn_end',
    turn: { index: 0, startMs: 0, endMs: 1000, hadSpeech: true, ...turn },
  };
}

/** Item ids of the events, in order of first appearance. */
function itemIds(events: Record<string, unknown>[]): string[] {
  const ids: string[] = [];
  for (const event of events) {
    const id = event.item_id;
    if (typeof id === 'string' && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

const DEFAULT_INPUT = {
  format: { type: 'audio/pcm', rate: 24000 },
  transcription: { model: 'tiny.en', language: null, prompt: '' },
  turn_detection: {
    type: 'server_vad',
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 500,
  },
  noise_reduction: null,
};

describe('RealtimeSession', () => {
  it('opens with session.created: a GA transcription session on OpenAI defaults and the served model', () => {
    const s = setup();
    const [created] = s.events();
    expect(created).toEqual({
      type: 'session.created',
      session: {
        type: 'transcription',
        object: 'realtime.transcription_session',
        id: expect.stringMatching(/^sess_[A-Za-z0-9]{21}$/) as unknown,
        expires_at: expect.any(Number) as unknown,
        audio: { input: DEFAULT_INPUT },
        include: null,
      },
    });
    expect(s.streams).toEqual([]);
  });

  it('speaks the beta dialect when the client asked for it', () => {
    const s = setup({ dialect: 'beta' });
    expect(s.events()).toEqual([
      {
        type: 'transcription_session.created',
        session: {
          id: expect.stringMatching(/^sess_/) as unknown,
          object: 'realtime.transcription_session',
          expires_at: expect.any(Number) as unknown,
          input_audio_format: 'pcm16',
          input_audio_transcription: { model: 'tiny.en', language: null, prompt: '' },
          turn_detection: DEFAULT_INPUT.turn_detection,
          input_audio_noise_reduction: null,
          include: null,
        },
      },
    ]);
    s.send({
      type: 'transcription_session.update',
      session: {
        input_audio_format: 'g711_ulaw',
        input_audio_transcription: { model: 'whisper-1', language: 'en' },
        turn_detection: null,
      },
    });
    expect(s.events(1)).toEqual([
      {
        type: 'transcription_session.updated',
        session: expect.objectContaining({
          input_audio_format: 'g711_ulaw',
          input_audio_transcription: { model: 'whisper-1', language: 'en', prompt: '' },
          turn_detection: null,
        }) as unknown,
      },
    ]);
  });

  it('session.update changes only the fields present, null clears, and session.updated says all', () => {
    const s = setup();
    s.send({
      type: 'session.update',
      event_id: 'evt_1',
      session: {
        type: 'transcription',
        audio: {
          input: {
            transcription: { language: 'en', prompt: 'Names: Ada.' },
            turn_detection: { silence_duration_ms: 800 },
            noise_reduction: { type: 'far_field' },
          },
        },
        include: ['item.input_audio_transcription.logprobs'],
      },
    });
    const [updated] = s.events(1);
    expect(updated).toEqual({
      type: 'session.updated',
      session: expect.objectContaining({
        audio: {
          input: {
            ...DEFAULT_INPUT,
            transcription: { model: 'tiny.en', language: 'en', prompt: 'Names: Ada.' },
            turn_detection: { ...DEFAULT_INPUT.turn_detection, silence_duration_ms: 800 },
            noise_reduction: { type: 'far_field' },
          },
        },
        include: ['item.input_audio_transcription.logprobs'],
      }) as unknown,
    });
    s.send({
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    const [second] = s.events(2);
    expect(second?.session).toMatchObject({
      audio: {
        input: {
          transcription: { language: 'en' },
          turn_detection: null,
          noise_reduction: { type: 'far_field' },
        },
      },
    });
  });

  it('server VAD: speech_started, deltas as text commits, then speech_stopped, committed and completed', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(1000) });
    expect(s.pool.settings).toEqual([
      expect.objectContaining({
        mode: 'live',
        model: 'tiny.en',
        languageCode: undefined,
        hasInterimResults: false,
        encoding: 'linear16',
        turns: { silenceDurationMs: 500, prefixPaddingMs: 300, threshold: 0.5 },
      }),
    ]);
    s.stream().ack();
    push(
      s,
      { type: 'speech', boundary: 'speech_begin', offsetMs: 120 },
      { type: 'results', segments: [liveSegment(0, ' Hello', 0, 500, false)] },
      final(0, ' Hello world.'),
      final(1, ' How are you?'),
      turnEnd({ index: 0, startMs: 0, endMs: 2300, reason: 'silence' }),
      { type: 'speech', boundary: 'speech_begin', offsetMs: 2600 },
      final(2, ' Fine.'),
      turnEnd({ index: 1, startMs: 2300, endMs: 3900, reason: 'silence' }),
    );
    await settle();
    const events = s.events(1);
    const [first, second] = itemIds(events);
    expect(first).toMatch(/^item_[A-Za-z0-9]{21}$/);
    expect(second).not.toBe(first);
    expect(events).toEqual([
      { type: 'input_audio_buffer.speech_started', audio_start_ms: 120, item_id: first },
      {
        type: 'conversation.item.input_audio_transcription.delta',
        item_id: first,
        content_index: 0,
        delta: 'Hello world.',
      },
      {
        type: 'conversation.item.input_audio_transcription.delta',
        item_id: first,
        content_index: 0,
        delta: ' How are you?',
      },
      { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 2300, item_id: first },
      { type: 'input_audio_buffer.committed', item_id: first, previous_item_id: null },
      {
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: first,
        content_index: 0,
        transcript: 'Hello world. How are you?',
        usage: { type: 'duration', seconds: 2.3 },
      },
      { type: 'input_audio_buffer.speech_started', audio_start_ms: 2600, item_id: second },
      {
        type: 'conversation.item.input_audio_transcription.delta',
        item_id: second,
        content_index: 0,
        delta: 'Fine.',
      },
      { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 3900, item_id: second },
      { type: 'input_audio_buffer.committed', item_id: second, previous_item_id: first },
      {
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: second,
        content_index: 0,
        transcript: 'Fine.',
        usage: { type: 'duration', seconds: 1.6 },
      },
    ]);
    expect(s.socket.closed).toBeUndefined();
  });

  it('converts 24 kHz PCM16 to 16 kHz: two thirds of the samples reach the worker', async () => {
    const s = setup();
    for (let i = 0; i < 10; i += 1)
      s.send({ type: 'input_audio_buffer.append', audio: pcm24k(100) });
    s.stream().ack();
    await settle();
    // 1 s at 16 kHz is 32000 bytes, less what the filter holds back for future input.
    const bytes = s.stream().writtenBytes;
    expect(bytes).toBeGreaterThan(32_000 - 2 * 64);
    expect(bytes).toBeLessThanOrEqual(32_000);
  });

  it('manual turns: commit answers committed at once and ends the worker turn behind its audio', async () => {
    const s = setup();
    s.send({
      type: 'session.update',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(300) });
    expect(s.pool.settings[0]?.turns).toEqual({ silenceDurationMs: 0, prefixPaddingMs: 0 });
    s.stream().ack();
    await settle();
    const written = s.stream().writtenBytes;
    s.send({ type: 'input_audio_buffer.commit', event_id: 'c1' });
    await settle();
    expect(s.stream().turnEnds).toEqual([written]);
    const [committed] = s.events(2);
    const itemId = committed?.item_id;
    expect(committed).toEqual({
      type: 'input_audio_buffer.committed',
      item_id: expect.stringMatching(/^item_/) as unknown,
      previous_item_id: null,
    });
    push(
      s,
      // No VAD events without turn detection, even if the worker reports speech.
      { type: 'speech', boundary: 'speech_begin', offsetMs: 0 },
      final(0, ' One two three.'),
      turnEnd({ startMs: 0, endMs: 300, reason: 'requested' }),
    );
    await settle();
    expect(s.events(3)).toEqual([
      {
        type: 'conversation.item.input_audio_transcription.delta',
        item_id: itemId,
        content_index: 0,
        delta: 'One two three.',
      },
      {
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript: 'One two three.',
        usage: { type: 'duration', seconds: 0.3 },
      },
    ]);
  });

  it('refuses a commit of less than 100 ms with input_audio_buffer_commit_empty and goes on', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.commit', event_id: 'c0' });
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(50) });
    s.send({ type: 'input_audio_buffer.commit', event_id: 'c1' });
    expect(s.events(1)).toEqual([
      {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          code: 'input_audio_buffer_commit_empty',
          message:
            'Error committing input audio buffer: buffer too small. Expected at least 100ms ' +
            'of audio, but buffer only has 0.00ms of audio.',
          param: null,
          event_id: 'c0',
        },
      },
      {
        type: 'error',
        error: expect.objectContaining({
          message: expect.stringContaining('buffer only has 50.00ms of audio.') as unknown,
          event_id: 'c1',
        }) as unknown,
      },
    ]);
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(60) });
    s.send({ type: 'input_audio_buffer.commit' });
    s.stream().ack();
    await settle();
    expect(s.stream().turnEnds).toHaveLength(1);
    // With server VAD the item is the turn the worker ends on request, heard or not.
    expect(s.events(3)).toEqual([]);
    push(s, turnEnd({ endMs: 110, hadSpeech: false, reason: 'requested' }));
    await settle();
    expect(s.events(3).map((event) => event.type)).toEqual([
      'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.completed',
    ]);
    expect(s.events(4)[0]).toMatchObject({ transcript: '' });
    expect(s.socket.closed).toBeUndefined();
  });

  it('clear drops the turn the worker ends on request: its end stays unsaid', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(400) });
    s.stream().ack();
    await settle();
    s.send({ type: 'input_audio_buffer.clear' });
    await settle();
    expect(s.events(1)).toEqual([{ type: 'input_audio_buffer.cleared' }]);
    expect(s.stream().turnEnds).toHaveLength(1);
    push(
      s,
      final(0, ' dropped words'),
      turnEnd({ endMs: 400, reason: 'requested' }),
      { type: 'speech', boundary: 'speech_begin', offsetMs: 500 },
      final(1, ' Kept.'),
      turnEnd({ index: 1, startMs: 400, endMs: 1500, reason: 'silence' }),
    );
    await settle();
    const events = s.events(2);
    // Text that came before the worker ended the cleared turn was already said; its end is not.
    expect(events.map((event) => event.type)).toEqual([
      'conversation.item.input_audio_transcription.delta',
      'input_audio_buffer.speech_started',
      'conversation.item.input_audio_transcription.delta',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.completed',
    ]);
    const [dropped, kept] = itemIds(events);
    expect(dropped).not.toBe(kept);
    expect(events[5]).toMatchObject({ item_id: kept, transcript: 'Kept.' });
    expect(events[4]).toMatchObject({ previous_item_id: null });
    // Clearing nothing ends no turn.
    s.send({ type: 'input_audio_buffer.clear' });
    expect(s.stream().turnEnds).toHaveLength(1);
  });

  it('answers bad events with error events, echoing their event_id, and stays open', () => {
    const s = setup();
    s.send('{not json');
    s.send({ type: 'response.create', event_id: 'e2' });
    s.send({ type: 'input_audio_buffer.append', event_id: 'e3', audio: 'not base64!' });
    s.send({ type: 'session.update', event_id: 'e4', session: { type: 'realtime' } });
    s.send({
      type: 'session.update',
      event_id: 'e5',
      session: { type: 'transcription', audio: { input: { format: { type: 'audio/opus' } } } },
    });
    s.send({
      type: 'session.update',
      event_id: 'e6',
      session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-9' } } } },
    });
    s.session.handleMessage(Buffer.from([1, 2, 3]), true);
    const errors = s.events(1).map((event) => event.error as Record<string, unknown>);
    expect(errors.map((error) => [error.code, error.param, error.event_id])).toEqual([
      ['invalid_json', null, null],
      ['invalid_value', 'type', 'e2'],
      ['invalid_value', 'audio', 'e3'],
      ['invalid_value', 'session.type', 'e4'],
      ['invalid_value', 'session.audio.input.format.type', 'e5'],
      ['model_not_found', 'session.audio.input.transcription.model', 'e6'],
      ['invalid_type', null, null],
    ]);
    expect(errors.every((error) => error.type === 'invalid_request_error')).toBe(true);
    expect(errors[4]?.message).toBe(
      "Invalid value: 'audio/opus'. Supported values are: 'audio/pcm', 'audio/pcmu', 'audio/pcma'.",
    );
    expect(s.socket.closed).toBeUndefined();
    expect(s.session.isClosed).toBe(false);
    expect(s.streams).toEqual([]);
  });

  it("a settings change between turns reopens the worker stream; times stay the session's", async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(1000) });
    s.stream().ack();
    push(
      s,
      { type: 'speech', boundary: 'speech_begin', offsetMs: 100 },
      final(0, ' First.'),
      turnEnd({ startMs: 0, endMs: 900, reason: 'silence' }),
    );
    await settle();
    const before = s.events().length;
    s.send({
      type: 'session.update',
      event_id: 'u1',
      session: {
        type: 'transcription',
        audio: { input: { turn_detection: null, transcription: { language: 'en' } } },
      },
    });
    expect(s.events(before)).toMatchObject([{ type: 'session.updated' }]);
    // The old stream is half-closed; what it still says is nobody's.
    expect(s.stream().isEnded).toBe(true);
    push(s, final(1, ' late silence words'), turnEnd({ index: 1, reason: 'stream_end' }));
    s.stream().finish();
    await settle();
    expect(s.events(before + 1)).toEqual([]);
    expect(s.socket.closed).toBeUndefined();

    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(500) });
    expect(s.streams).toHaveLength(2);
    expect(s.pool.settings[1]).toMatchObject({
      languageCode: 'en',
      turns: { silenceDurationMs: 0, prefixPaddingMs: 0 },
    });
    const second = s.streams[1];
    if (second === undefined) throw new Error('no second stream');
    second.ack();
    s.send({ type: 'input_audio_buffer.commit' });
    second.push(final(0, ' Second.'), turnEnd({ startMs: 0, endMs: 500, reason: 'requested' }));
    await settle();
    const events = s.events(before + 1);
    expect(events.map((event) => event.type)).toEqual([
      'input_audio_buffer.committed',
      'conversation.item.input_audio_transcription.delta',
      'conversation.item.input_audio_transcription.completed',
    ]);
    // The second stream's turn is 0.5 s long, wherever it lies in the session.
    expect(events[2]).toMatchObject({ transcript: 'Second.', usage: { seconds: 0.5 } });
    expect(events[0]?.previous_item_id).toBe(itemIds(s.events())[0]);
  });

  it('refuses a settings change while a turn is open, but lets the format change', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(100) });
    s.stream().ack();
    push(s, { type: 'speech', boundary: 'speech_begin', offsetMs: 0 });
    await settle();
    const before = s.events().length;
    s.send({
      type: 'session.update',
      event_id: 'u1',
      session: { type: 'transcription', audio: { input: { turn_detection: null } } },
    });
    s.send({
      type: 'session.update',
      event_id: 'u2',
      session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcma' } } } },
    });
    const events = s.events(before);
    expect(events[0]).toMatchObject({
      type: 'error',
      error: { code: 'turn_in_progress', event_id: 'u1' },
    });
    expect(events[1]).toMatchObject({
      type: 'session.updated',
      session: { audio: { input: { format: { type: 'audio/pcma' } } } },
    });
    expect(s.streams).toHaveLength(1);
    const written = s.stream().writtenBytes;
    // 100 ms of A-law silence (0xD5) at 8 kHz: 1600 bytes at 16 kHz, less the filter's delay.
    s.send({
      type: 'input_audio_buffer.append',
      audio: Buffer.alloc(800, 0xd5).toString('base64'),
    });
    await settle();
    expect(s.stream().writtenBytes - written).toBeGreaterThan(1400);
  });

  it('a worker failure mid-turn fails the open item, then an error event and close 1011', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(500) });
    s.stream().ack();
    push(s, { type: 'speech', boundary: 'speech_begin', offsetMs: 0 }, final(0, ' Half'));
    await settle();
    s.stream().fail(new InternalError());
    await settle();
    const events = s.events(3);
    const itemId = itemIds(s.events(1))[0];
    expect(events).toEqual([
      {
        type: 'conversation.item.input_audio_transcription.failed',
        item_id: itemId,
        content_index: 0,
        error: {
          type: 'server_error',
          code: 'internal_error',
          message: 'The server had an error while processing your request.',
          param: null,
        },
      },
      {
        type: 'error',
        error: {
          type: 'server_error',
          code: 'internal_error',
          message: 'The server had an error while processing your request.',
          param: null,
          event_id: null,
        },
      },
    ]);
    expect(s.socket.closed).toEqual({ code: 1011, reason: 'internal_error' });
    expect(s.session.isClosed).toBe(true);
  });

  it('a busy worker at the first audio ends the session with close 1013', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(100) });
    s.stream().fail(new WorkerBusyError('The worker is at capacity.'));
    await settle();
    expect(s.events(1)).toEqual([
      {
        type: 'error',
        error: {
          type: 'server_error',
          code: 'worker_busy',
          message: 'The worker is at capacity.',
          param: null,
          event_id: null,
        },
      },
    ]);
    expect(s.socket.closed?.code).toBe(1013);
  });

  it('a full server refuses the session with an error event and close 1013, before session.created', () => {
    const s = setup({ maxSessions: 0 });
    expect(s.events()).toEqual([
      {
        type: 'error',
        error: expect.objectContaining({ type: 'server_error', code: 'server_busy' }) as unknown,
      },
    ]);
    expect(s.socket.closed).toEqual({ code: 1013, reason: 'server full' });
  });

  it('closes an idle session and one that reaches its time limit', async () => {
    const idle = setup({ limits: { idleTimeoutMs: 5000 } });
    await vi.advanceTimersByTimeAsync(4000);
    idle.send({ type: 'input_audio_buffer.clear' });
    await vi.advanceTimersByTimeAsync(4000);
    expect(idle.socket.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1001);
    expect(idle.events().at(-1)).toMatchObject({ type: 'error', error: { code: 'idle_timeout' } });
    expect(idle.socket.closed?.code).toBe(1000);

    const old = setup({ limits: { maxSessionMs: 3000 } });
    old.send({ type: 'input_audio_buffer.append', audio: pcm24k(100) });
    await vi.advanceTimersByTimeAsync(3000);
    expect(old.events().at(-1)).toMatchObject({
      type: 'error',
      error: {
        code: 'session_expired',
        message: 'Your session hit the maximum duration of 3 seconds.',
      },
    });
    expect(old.socket.closed?.code).toBe(1000);
    expect(old.stream().isCancelled).toBe(true);
  });

  it('says goodbye on shutdown: error server_shutting_down, close 1001, the stream cancelled', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(100) });
    s.stream().ack();
    await settle();
    s.session.shutdown();
    expect(s.events().at(-1)).toEqual({
      type: 'error',
      error: {
        type: 'server_error',
        code: 'server_shutting_down',
        message: 'The server is shutting down.',
        param: null,
        event_id: null,
      },
    });
    expect(s.socket.closed).toEqual({ code: 1001, reason: 'server shutdown' });
    expect(s.stream().isCancelled).toBe(true);
    s.send({ type: 'input_audio_buffer.clear' });
    expect(s.events().at(-1)?.type).toBe('error');
  });

  it('server VAD: a commit names the turn the worker ends on request, even when its turns lag', async () => {
    const s = setup();
    s.send({ type: 'input_audio_buffer.append', audio: pcm24k(3000) });
    s.stream().ack();
    // The worker has reported the first turn's speech only; the client commits at 3 s.
    push(s, { type: 'speech', boundary: 'speech_begin', offsetMs: 100 });
    await settle();
    s.send({ type: 'input_audio_buffer.commit' });
    push(
      s,
      final(0, ' One.'),
      turnEnd({ startMs: 0, endMs: 1200, reason: 'silence' }),
      { type: 'speech', boundary: 'speech_begin', offsetMs: 1500 },
      final(1, ' Two.'),
      turnEnd({ index: 1, startMs: 1200, endMs: 3000, reason: 'requested' }),
    );
    await settle();
    const events = s.events(1);
    const [first, second] = itemIds(events);
    expect(events.filter((event) => String(event.type).endsWith('completed'))).toMatchObject([
      { item_id: first, transcript: 'One.' },
      { item_id: second, transcript: 'Two.' },
    ]);
    expect(events.filter((event) => event.type === 'input_audio_buffer.committed')).toEqual([
      { type: 'input_audio_buffer.committed', item_id: first, previous_item_id: null },
      { type: 'input_audio_buffer.committed', item_id: second, previous_item_id: first },
    ]);
    // The requested end is no VAD stop.
    expect(events.filter((event) => String(event.type).endsWith('speech_stopped'))).toHaveLength(1);
  });
});
