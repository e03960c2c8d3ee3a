import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  InvalidRequestError,
  WorkerBusyError,
  WorkerUnavailableError,
  WorkerUnresponsiveError,
} from '../../../gateway/src/errors.js';
import { createGatewayMetrics } from '../../../gateway/src/metrics.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type { StreamSettings } from '../../../gateway/src/transcript.js';
import {
  createWsSession,
  type SessionAdmission,
  type SessionLimits,
  type WsSession,
} from '../../../gateway/src/ws/session.js';
import { createSessionAdmission } from '../../../gateway/src/ws/server.js';
import { fakePool, liveSegment, ScriptedRecognizeStream } from '../support/fake_stream.js';
import { FakeSocket } from '../support/fake_socket.js';

const LIMITS: SessionLimits = {
  optionsTimeoutMs: 10_000,
  readyTimeoutMs: 30_000,
  maxConnectionMs: 600_000,
  flushTimeoutMs: 60_000,
  maxPendingAudioMs: 10_000,
  maxSendBufferBytes: 1024 * 1024,
};

const END = Buffer.from('END_OF_AUDIO');
/** 100 ms of float32 audio. */
const FLOAT_100MS = Buffer.alloc(6400);

interface Setup {
  readonly session: WsSession;
  readonly socket: FakeSocket;
  readonly streams: ScriptedRecognizeStream[];
  readonly settings: StreamSettings[];
  readonly admission: SessionAdmission & { readonly size: number };
  /** The first (usually only) stream. */
  stream(): ScriptedRecognizeStream;
}

function setup(
  options: {
    limits?: Partial<SessionLimits>;
    admission?: SessionAdmission & { readonly size: number };
    pool?: ReturnType<typeof fakePool>;
  } = {},
): Setup {
  const socket = new FakeSocket();
  const streams: ScriptedRecognizeStream[] = [];
  const pool =
    options.pool ??
    fakePool(() => {
      const stream = new ScriptedRecognizeStream();
      streams.push(stream);
      return stream;
    });
  const admission =
    options.admission ?? createSessionAdmission({ maxSessions: 8, maxConnectionMs: 600_000 });
  const session = createWsSession({
    sessionId: `s-${Math.random()}`,
    requestId: 'req-session-test',
    metrics: createGatewayMetrics(),
    socket,
    pool,
    admission,
    limits: { ...LIMITS, ...options.limits },
    logger: createSilentLogger(),
  });
  session.start();
  return {
    session,
    socket,
    streams,
    settings: pool.settings,
    admission,
    stream(): ScriptedRecognizeStream {
      const stream = streams[0];
      if (stream === undefined) throw new Error('no stream was started');
      return stream;
    },
  };
}

function text(session: WsSession, value: unknown): void {
  session.handleMessage(
    Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    false,
  );
}

/** Lets promise callbacks run (the session's worker loop is async). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** A session past SERVER_READY. */
async function streaming(
  options: Record<string, unknown> = {},
  setupOptions: Parameters<typeof setup>[0] = {},
): Promise<Setup> {
  const s = setup(setupOptions);
  text(s.session, { uid: 'u1', language: 'en', ...options });
  s.stream().ack();
  await settle();
  expect(s.session.state).toBe('streaming');
  return s;
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('WsSession', () => {
  it('sends nothing before the worker acks, then SERVER_READY first', async () => {
    const s = setup();
    expect(s.session.state).toBe('awaiting_config');
    text(s.session, { uid: 'u1', language: null, task: 'transcribe', model: 'small' });
    expect(s.session.state).toBe('starting');
    s.stream().push();
    await settle();
    expect(s.socket.sent).toEqual([]);
    s.stream().ack();
    await settle();
    expect(s.session.state).toBe('streaming');
    expect(s.socket.sent).toEqual([
      '{"uid":"u1","message":"SERVER_READY","backend":"faster_whisper"}',
    ]);
  });

  it('opens a LIVE stream with the settings the options ask for', () => {
    const s = setup();
    text(s.session, {
      uid: 'u1',
      language: 'de',
      task: 'translate',
      model: 'large-v3',
      use_vad: true,
      vad_parameters: { threshold: 0.4, min_silence_duration_ms: 300 },
      no_speech_thresh: 0.3,
      same_output_threshold: 7,
      initial_prompt: 'Hi',
      hotwords: 'gRPC',
      word_timestamps: true,
      audio_format: 'uint8',
    });
    expect(s.settings).toEqual([
      {
        mode: 'live',
        task: 'translate',
        languageCode: 'de',
        model: 'large-v3',
        prompt: 'Hi',
        temperature: 0,
        hasWordTimestamps: true,
        hasInterimResults: true,
        encoding: 'linear16',
        hotwords: 'gRPC',
        isVadEnabled: true,
        vad: {
          threshold: 0.4,
          minSpeechMs: undefined,
          minSilenceMs: 300,
          speechPadMs: undefined,
          maxSpeechMs: undefined,
        },
        noSpeechThreshold: 0.3,
        sameOutputThreshold: 7,
      },
    ]);
  });

  it('uses the defaults for a minimal option set', () => {
    const s = setup();
    text(s.session, { uid: 'u1' });
    expect(s.settings[0]).toMatchObject({
      languageCode: undefined,
      model: undefined,
      task: 'transcribe',
      encoding: 'float32',
      hotwords: '',
      prompt: undefined,
      isVadEnabled: false,
      vad: undefined,
      noSpeechThreshold: 0.45,
      sameOutputThreshold: 10,
      hasWordTimestamps: false,
    });
  });

  it('streams audio, reports segments and ends cleanly after END_OF_AUDIO', async () => {
    const s = await streaming({ language: null, send_last_n_segments: 2 });
    const stream = s.stream();
    s.session.handleMessage(FLOAT_100MS, true);
    s.session.handleMessage(FLOAT_100MS, true);
    await settle();
    expect(stream.writtenBytes).toBe(2 * FLOAT_100MS.length);

    stream.push({
      type: 'results',
      segments: [liveSegment(0, ' Hallo', 0, 500, false, 'de', 0.87)],
    });
    await settle();
    stream.push({
      type: 'results',
      segments: [
        liveSegment(0, ' Hallo Welt.', 0, 1200, true, 'de', 0.87),
        liveSegment(1, ' Wie', 1200, 1500, false, 'de', 0.87),
      ],
    });
    await settle();
    stream.push({
      type: 'results',
      segments: [liveSegment(1, ' Wie geht es?', 1200, 2100, true, 'de', 0.9)],
    });
    stream.push({
      type: 'results',
      segments: [
        liveSegment(2, ' Gut.', 2100, 2600, true, 'de', 0.9),
        liveSegment(3, ' Und', 2600, 2800, false, 'de', 0.9),
      ],
    });
    await settle();
    s.session.handleMessage(END, true);
    expect(s.session.state).toBe('draining');
    await settle();
    expect(stream.isEnded).toBe(true);
    stream.push(
      {
        type: 'results',
        segments: [liveSegment(3, ' Und du?', 2600, 3000, true, 'de', 0.9)],
      },
      {
        type: 'summary',
        summary: {
          durationMs: 3000,
          durationAfterVadMs: 3000,
          languageCode: 'de',
          languageProbability: 1,
          options: undefined,
          model: 'tiny',
        },
      },
    );
    stream.finish();
    await settle();

    expect(s.socket.sent).toEqual([
      '{"uid":"u1","message":"SERVER_READY","backend":"faster_whisper"}',
      '{"uid":"u1","language":"de","language_prob":0.87}',
      '{"uid":"u1","segments":[{"start":"0.000","end":"0.500","text":" Hallo","completed":false}]}',
      '{"uid":"u1","segments":[' +
        '{"start":"0.000","end":"1.200","text":" Hallo Welt.","completed":true},' +
        '{"start":"1.200","end":"1.500","text":" Wie","completed":false}]}',
      '{"uid":"u1","segments":[' +
        '{"start":"0.000","end":"1.200","text":" Hallo Welt.","completed":true},' +
        '{"start":"1.200","end":"2.100","text":" Wie geht es?","completed":true}]}',
      '{"uid":"u1","segments":[' +
        '{"start":"1.200","end":"2.100","text":" Wie geht es?","completed":true},' +
        '{"start":"2.100","end":"2.600","text":" Gut.","completed":true},' +
        '{"start":"2.600","end":"2.800","text":" Und","completed":false}]}',
      '{"uid":"u1","segments":[' +
        '{"start":"2.100","end":"2.600","text":" Gut.","completed":true},' +
        '{"start":"2.600","end":"3.000","text":" Und du?","completed":true}]}',
    ]);
    expect(s.socket.closed).toEqual({ code: 1000, reason: 'end of audio' });
    expect(s.session.state).toBe('closed');
    expect(stream.isCancelled).toBe(false);
    expect(s.admission.size).toBe(0);
  });

  it('takes END_OF_AUDIO as a text frame too, and ignores other text frames', async () => {
    const s = await streaming();
    text(s.session, 'hello?');
    expect(s.session.state).toBe('streaming');
    text(s.session, 'END_OF_AUDIO');
    expect(s.session.state).toBe('draining');
    await settle();
    expect(s.stream().isEnded).toBe(true);
    s.session.handleMessage(FLOAT_100MS, true);
    s.stream().finish();
    await settle();
    expect(s.stream().writtenBytes).toBe(0);
    expect(s.socket.closed?.code).toBe(1000);
  });

  it('half-closes only after SERVER_READY when END_OF_AUDIO comes before the ack', async () => {
    const s = setup();
    text(s.session, { uid: 'u1' });
    s.session.handleMessage(FLOAT_100MS, true);
    s.session.handleMessage(END, true);
    await settle();
    expect(s.stream().isEnded).toBe(false);
    expect(s.stream().writtenBytes).toBe(FLOAT_100MS.length);
    s.stream().ack();
    await settle();
    expect(s.session.state).toBe('draining');
    expect(s.stream().isEnded).toBe(true);
    expect(s.socket.messages()).toEqual([
      { uid: 'u1', message: 'SERVER_READY', backend: 'faster_whisper' },
    ]);
  });

  it('sends the language notice only when detecting, once', async () => {
    const s = await streaming({ language: 'en' });
    s.stream().push({ type: 'results', segments: [liveSegment(0, ' Hi', 0, 500, false)] });
    await settle();
    expect(s.socket.messages().some((m) => Object.hasOwn(m as object, 'language'))).toBe(false);

    const detect = await streaming({ language: null });
    for (let i = 0; i < 3; i += 1) {
      detect.stream().push({
        type: 'results',
        segments: [liveSegment(i, ' Hi', i * 500, i * 500 + 500, true, 'en', 0.99)],
      });
    }
    await settle();
    const notices = detect.socket.messages().filter((m) => Object.hasOwn(m as object, 'language'));
    expect(notices).toEqual([{ uid: 'u1', language: 'en', language_prob: 0.99 }]);
  });

  it('ignores repeated finals, keeps completed segments from overlapping, withdraws the partial', async () => {
    const s = await streaming({ word_timestamps: true });
    const withWords = {
      ...liveSegment(0, ' One', 0, 1000, true),
      words: [{ word: ' One', startMs: 100, endMs: 900, probability: 0.987_654 }],
    };
    s.stream().push(
      { type: 'results', segments: [withWords] },
      { type: 'results', segments: [liveSegment(0, ' One again', 0, 1000, true)] },
      { type: 'results', segments: [liveSegment(1, ' Two', 800, 1500, true)] },
      { type: 'results', segments: [liveSegment(2, ' Three', 1400, 1450, true)] },
    );
    await settle();
    const last = s.socket.messages().at(-1);
    expect(last).toEqual({
      uid: 'u1',
      segments: [
        {
          start: '0.000',
          end: '1.000',
          text: ' One',
          completed: true,
          words: [{ word: ' One', start: '0.100', end: '0.900', probability: 0.9877 }],
        },
        { start: '1.000', end: '1.500', text: ' Two', completed: true, words: [] },
        { start: '1.500', end: '1.500', text: ' Three', completed: true, words: [] },
      ],
    });
  });

  it('repeats every segment completed since the last message even beyond N', async () => {
    const s = await streaming({ send_last_n_segments: 1 });
    s.stream().push({
      type: 'results',
      segments: [
        liveSegment(0, ' A', 0, 1000, true),
        liveSegment(1, ' B', 1000, 2000, true),
        liveSegment(2, ' c', 2000, 2500, false),
      ],
    });
    s.stream().push({ type: 'results', segments: [liveSegment(2, ' c', 2000, 2600, false)] });
    await settle();
    const [, first, second] = s.socket.messages();
    expect(first).toMatchObject({
      segments: [{ text: ' A' }, { text: ' B' }, { text: ' c', completed: false }],
    });
    expect(second).toMatchObject({
      segments: [{ text: ' B' }, { text: ' c', completed: false, end: '2.600' }],
    });
  });

  it('sends DISCONNECT at the time limit, even when the client sends nothing', async () => {
    const s = await streaming();
    await vi.advanceTimersByTimeAsync(LIMITS.maxConnectionMs - 1);
    expect(s.socket.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(s.socket.messages().at(-1)).toEqual({ uid: 'u1', message: 'DISCONNECT' });
    expect(s.socket.closed).toEqual({ code: 1000, reason: 'session time limit reached' });
    expect(s.stream().isCancelled).toBe(true);
    expect(s.admission.size).toBe(0);
  });

  it('cancels the call when the client closes the socket', async () => {
    const s = await streaming();
    s.session.handleSocketClose(1001);
    expect(s.session.state).toBe('closed');
    expect(s.stream().isCancelled).toBe(true);
    expect(s.admission.size).toBe(0);
    await settle();
    expect(s.socket.sent).toHaveLength(1);
  });

  it('answers WAIT with the minutes until the oldest session ends when full', async () => {
    const admission = createSessionAdmission({ maxSessions: 1, maxConnectionMs: 600_000 });
    const first = await streaming({}, { admission });
    await vi.advanceTimersByTimeAsync(90_000);
    const second = setup({ admission });
    text(second.session, { uid: 'u2' });
    expect(second.socket.sent).toEqual(['{"uid":"u2","status":"WAIT","message":8.5}']);
    expect(second.socket.closed).toEqual({ code: 1013, reason: 'server full' });
    expect(second.streams).toEqual([]);
    expect(first.session.state).toBe('streaming');
    first.session.handleSocketClose(1000);
    const third = setup({ admission });
    text(third.session, { uid: 'u3' });
    expect(third.session.state).toBe('starting');
  });

  it('answers WAIT when the worker is at capacity, using its retry-after', async () => {
    const s = setup();
    text(s.session, { uid: 'u1' });
    s.stream().fail(new WorkerBusyError('busy', 90_000));
    await settle();
    expect(s.socket.sent).toEqual(['{"uid":"u1","status":"WAIT","message":1.5}']);
    expect(s.socket.closed?.code).toBe(1013);
    expect(s.admission.size).toBe(0);
  });

  it('answers ERROR with the reason and 1008 when the worker refuses the config', async () => {
    const s = setup();
    text(s.session, { uid: 'u1', task: 'translate' });
    s.stream().fail(
      new InvalidRequestError(
        "model 'tiny.en' is English-only and cannot translate; use a multilingual model",
      ),
    );
    await settle();
    expect(s.socket.sent).toEqual([
      '{"uid":"u1","status":"ERROR","message":"model \'tiny.en\' is English-only and cannot translate; use a multilingual model"}',
    ]);
    expect(s.socket.closed).toEqual({ code: 1008, reason: 'invalid options' });
  });

  it('answers ERROR "worker unavailable" and 1011 when no worker serves', () => {
    const pool = fakePool(() => new ScriptedRecognizeStream());
    pool.acquire = () => {
      throw new WorkerUnavailableError('No transcription worker is ready');
    };
    const s = setup({ pool });
    text(s.session, { uid: 'u1' });
    expect(s.socket.sent).toEqual(['{"uid":"u1","status":"ERROR","message":"worker unavailable"}']);
    expect(s.socket.closed).toEqual({ code: 1011, reason: 'worker unavailable' });
    expect(s.admission.size).toBe(0);
  });

  it('answers ERROR "worker unavailable" when the worker dies mid-stream', async () => {
    const s = await streaming();
    s.stream().fail(new WorkerUnavailableError('gone'));
    await settle();
    expect(s.socket.messages().at(-1)).toEqual({
      uid: 'u1',
      status: 'ERROR',
      message: 'worker unavailable',
    });
    expect(s.socket.closed?.code).toBe(1011);
  });

  it('tells a client whose worker stopped responding so, and closes with 1011', async () => {
    const s = await streaming();
    s.session.handleMessage(FLOAT_100MS, true);
    s.stream().fail(new WorkerUnresponsiveError(10_000));
    await settle();
    expect(s.socket.messages().at(-1)).toEqual({
      uid: 'u1',
      status: 'ERROR',
      message: 'worker unavailable: it stopped responding',
    });
    expect(s.socket.closed).toEqual({ code: 1011, reason: 'worker not responding' });
    expect(s.session.state).toBe('closed');
    expect(s.admission.size).toBe(0);
  });

  it('gives up when the worker does not ack in time', async () => {
    const s = setup();
    text(s.session, { uid: 'u1' });
    await vi.advanceTimersByTimeAsync(LIMITS.readyTimeoutMs);
    expect(s.socket.messages()).toEqual([
      { uid: 'u1', status: 'ERROR', message: 'the worker did not accept the session in time' },
    ]);
    expect(s.socket.closed?.code).toBe(1011);
    expect(s.stream().isCancelled).toBe(true);
  });

  it('closes a connection that sends no options', async () => {
    const s = setup();
    await vi.advanceTimersByTimeAsync(LIMITS.optionsTimeoutMs);
    expect(s.socket.messages()).toEqual([
      { uid: '', status: 'ERROR', message: 'no options message within 10 s' },
    ]);
    expect(s.socket.closed).toEqual({ code: 1008, reason: 'no options message' });
  });

  it('refuses malformed options and a binary first frame with ERROR and 1008', () => {
    const cases: [Buffer, boolean, string][] = [
      [
        Buffer.from('not json'),
        false,
        '{"uid":"","status":"ERROR","message":"the first message must be the options JSON"}',
      ],
      [
        Buffer.from('{"language":"en"}'),
        false,
        '{"uid":"","status":"ERROR","message":"the options message needs a \\"uid\\" (string)"}',
      ],
      [
        Buffer.from('{"uid":"u9","use_vad":"yes"}'),
        false,
        '{"uid":"u9","status":"ERROR","message":"invalid options: \\"use_vad\\" must be a boolean (true or false), got a string"}',
      ],
      [
        Buffer.from('{"uid":"u9"}'),
        true,
        '{"uid":"","status":"ERROR","message":"the first message must be a text frame with the options JSON"}',
      ],
    ];
    for (const [data, isBinary, expected] of cases) {
      const s = setup();
      s.session.handleMessage(data, isBinary);
      expect(s.socket.sent).toEqual([expected]);
      expect(s.socket.closed).toEqual({ code: 1008, reason: 'invalid options' });
      expect(s.streams).toEqual([]);
      expect(s.admission.size).toBe(0);
    }
  });

  it('refuses a frame that is not a whole number of samples with ERROR and 1007', async () => {
    const s = await streaming({ audio_format: 'int16' });
    s.session.handleMessage(Buffer.alloc(3), true);
    expect(s.socket.messages().at(-1)).toEqual({
      uid: 'u1',
      status: 'ERROR',
      message: 'frame of 3 bytes is not a whole number of int16 samples',
    });
    expect(s.socket.closed).toEqual({ code: 1007, reason: 'invalid audio frame' });
    expect(s.stream().isCancelled).toBe(true);
  });

  it('converts uint8 frames before they reach the worker', async () => {
    const s = await streaming({ audio_format: 'uint8' });
    s.session.handleMessage(Buffer.from([128, 255, 0]), true);
    await settle();
    expect(s.stream().writes).toEqual([Buffer.from([0, 0, 0, 0x7f, 0, 0x80])]);
  });

  it('pauses reading while the worker is behind and fails when the backlog overflows', async () => {
    const s = await streaming({}, { limits: { maxPendingAudioMs: 2000 } });
    const stream = s.stream();
    stream.isWriteBlocked = true;
    for (let i = 0; i < 10; i += 1) s.session.handleMessage(FLOAT_100MS, true);
    await settle();
    expect(s.socket.isPaused).toBe(true);
    expect(s.session.isReadPaused).toBe(true);
    stream.releaseWrites();
    await settle();
    expect(s.socket.isPaused).toBe(false);
    expect(stream.writtenBytes).toBe(10 * FLOAT_100MS.length);

    stream.isWriteBlocked = true;
    for (let i = 0; i < 21; i += 1) s.session.handleMessage(FLOAT_100MS, true);
    expect(s.socket.messages().at(-1)).toEqual({
      uid: 'u1',
      status: 'ERROR',
      message: 'audio arrives faster than it can be processed',
    });
    expect(s.socket.closed).toEqual({ code: 1008, reason: 'audio backlog over the limit' });
  });

  it('sends what it has and ERROR when the final transcript does not come in time', async () => {
    const s = await streaming();
    s.stream().push({
      type: 'results',
      segments: [liveSegment(0, ' Done', 0, 900, true), liveSegment(1, ' pend', 900, 1000, false)],
    });
    s.session.handleMessage(END, true);
    await vi.advanceTimersByTimeAsync(LIMITS.flushTimeoutMs);
    expect(s.socket.messages().slice(-2)).toEqual([
      { uid: 'u1', segments: [{ start: '0.000', end: '0.900', text: ' Done', completed: true }] },
      {
        uid: 'u1',
        status: 'ERROR',
        message: 'the worker did not send the final transcript in time',
      },
    ]);
    expect(s.socket.closed?.code).toBe(1011);
  });

  it('says DISCONNECT on shutdown, or just closes before the options', async () => {
    const s = await streaming();
    s.session.shutdown();
    expect(s.socket.messages().at(-1)).toEqual({ uid: 'u1', message: 'DISCONNECT' });
    expect(s.socket.closed).toEqual({ code: 1001, reason: 'server shutdown' });
    expect(s.stream().isCancelled).toBe(true);

    const idle = setup();
    idle.session.shutdown();
    expect(idle.socket.sent).toEqual([]);
    expect(idle.socket.closed?.code).toBe(1001);
  });

  it('closes a client that does not read its messages', async () => {
    const s = await streaming();
    s.socket.bufferedAmount = 2 * 1024 * 1024;
    s.stream().push({ type: 'results', segments: [liveSegment(0, ' x', 0, 100, false)] });
    await settle();
    expect(s.socket.closed).toEqual({ code: 1008, reason: 'client does not read' });
    expect(s.stream().isCancelled).toBe(true);
  });
});
