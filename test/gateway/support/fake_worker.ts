/**
 * A fake worker in TypeScript: a real `@grpc/grpc-js` server loading the same protos, with
 * scripted results and status codes, plus the gRPC health service (Check and Watch).
 */
import * as grpc from '@grpc/grpc-js';

import type { HealthCheckRequest__Output } from '../../../gateway/src/grpc/generated/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse } from '../../../gateway/src/grpc/generated/grpc/health/v1/HealthCheckResponse.js';
import type { GetWorkerInfoResponse } from '../../../gateway/src/grpc/generated/stt/v1/GetWorkerInfoResponse.js';
import type { StreamingTranscribeConfig__Output } from '../../../gateway/src/grpc/generated/stt/v1/StreamingTranscribeConfig.js';
import type { StreamingTranscribeRequest__Output } from '../../../gateway/src/grpc/generated/stt/v1/StreamingTranscribeRequest.js';
import type { StreamingTranscribeResponse } from '../../../gateway/src/grpc/generated/stt/v1/StreamingTranscribeResponse.js';
import type { TranscriptResult } from '../../../gateway/src/grpc/generated/stt/v1/TranscriptResult.js';
import type { WorkerLoad } from '../../../gateway/src/grpc/generated/stt/v1/WorkerLoad.js';
import { loadProtos } from '../../../gateway/src/grpc/proto.js';

/** Serving status names. */
export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

/** What the fake saw of one stream. */
export interface FakeSession {
  config: StreamingTranscribeConfig__Output | undefined;
  audioBytes: number;
  chunks: number;
  /** The audio chunks as received. */
  readonly audio: Buffer[];
  requestId: string | undefined;
  isCancelled: boolean;
  /** Whether the client half-closed. */
  isHalfClosed: boolean;
  /** LIVE mode: what the default script committed so far. */
  readonly live: { committedMs: number; nextIndex: number };
  /** Turn mode: `end_turn` requests received, and where the current turn starts (ms). */
  readonly turns: { ended: number; startMs: number };
}

/** A scripted gRPC failure. */
export interface ScriptedError {
  readonly code: grpc.status;
  readonly details: string;
  readonly retryAfterMs?: number;
}

/** What the fake does with a LIVE-mode stream (after `failOnConfig`, if any). */
export interface LiveScript {
  /** Never send the ack (for ready-timeout tests). */
  readonly isAckWithheld?: boolean;
  /** Responses sent after each audio chunk; default {@link defaultLiveUpdate}. */
  readonly onAudio?: (session: FakeSession) => StreamingTranscribeResponse[];
  /** Responses sent after the half-close, before the summary; default {@link defaultLiveFlush}. */
  readonly onEnd?: (session: FakeSession) => StreamingTranscribeResponse[];
  /** Responses to an `end_turn` request; default {@link defaultLiveEndTurn}. */
  readonly onEndTurn?: (session: FakeSession) => StreamingTranscribeResponse[];
  /** Fail once this many audio bytes arrived (a worker failing mid-stream). */
  readonly failAfterBytes?: { readonly bytes: number; readonly error: ScriptedError };
}

/** What the fake does with a stream. */
export interface Script {
  /** LIVE-mode behaviour. */
  readonly live?: LiveScript;
  /** Fail right after the config message (admission). */
  readonly failOnConfig?: ScriptedError;
  /** Never answer after the half-close (for crash and deadline tests). */
  readonly isHanging?: boolean;
  /** Responses sent after the half-close; default: two segments over the received audio. */
  readonly responses?: (session: FakeSession) => StreamingTranscribeResponse[];
  /** Fail after sending the responses. */
  readonly failAtEnd?: ScriptedError;
}

/** A running fake worker. */
export interface FakeWorker {
  readonly port: number;
  readonly address: string;
  /** Streams seen, in order. */
  readonly sessions: FakeSession[];
  /** Behaviour of new streams. */
  script: Script;
  /** The load `GetWorkerInfo` reports (replace it to change what the next call says). */
  load: WorkerLoad;
  /** When set, `GetWorkerInfo` fails with this instead. */
  infoError: ScriptedError | undefined;
  /** `GetWorkerInfo` calls answered so far (failed ones included). */
  readonly infoCalls: number;
  /** Changes the health status (Watchers are told). */
  setHealth(status: ServingStatus): void;
  /** Graceful stop. */
  stop(): Promise<void>;
  /** Immediate stop: open calls fail as the connection drops. */
  kill(): void;
}

/** Model name the fake reports. */
export const FAKE_MODEL = 'tiny.en';

/**
 * The load the fake reports unless told otherwise: every field set and distinct, with floats
 * that float32 cannot hold exactly (the gateway must give back 0.3, not 0.30000001192092896).
 */
export const FAKE_LOAD: Readonly<Required<WorkerLoad>> = Object.freeze({
  active_streams: 1,
  max_streams: 4,
  queue_depth: 2,
  max_queue_depth: 16,
  real_time_factor: 0.3,
  live_streams: 1,
  live_cycle_ms: 420,
  max_live_cycle_ms: 1500,
  file_backlog_ms: 3000,
  mean_batch_size: 1.7,
});

/**
 * The default transcript: " Hello world." over the first second and " This is a test." over
 * the rest, with words when asked.
 */
export function defaultResponses(session: FakeSession): StreamingTranscribeResponse[] {
  const durationMs = Math.floor(session.audioBytes / 32);
  const split = Math.min(1000, durationMs);
  const words = session.config?.enable_word_time_offsets === true;
  const segment = (index: number, text: string, start: number, end: number): TranscriptResult => {
    const parts = text.trim().split(' ');
    const step = (end - start) / parts.length;
    return {
      segment_index: index,
      transcript: text,
      is_final: true,
      start_offset_ms: start,
      end_offset_ms: end,
      language_code: 'en',
      language_probability: 0.98,
      token_ids: [50364 + index, 2425, 1002],
      temperature: 0,
      avg_logprob: -0.25,
      compression_ratio: 1.2,
      no_speech_probability: 0.01,
      window_offset_ms: 0,
      words: words
        ? parts.map((word, i) => ({
            word: ` ${word}`,
            start_offset_ms: Math.round(start + i * step),
            end_offset_ms: Math.round(start + (i + 1) * step),
            probability: 0.9,
          }))
        : [],
    };
  };
  return [
    {
      results: [segment(0, ' Hello world.', 0, split)],
      progress: { processed_audio_ms: split, total_audio_ms: durationMs },
    },
    {
      results: [segment(1, ' This is a test.', split, durationMs)],
      progress: { processed_audio_ms: durationMs, total_audio_ms: durationMs },
    },
    {
      summary: {
        duration_ms: durationMs,
        duration_after_vad_ms: durationMs,
        language_code: 'en',
        language_probability: 0.98,
        model: FAKE_MODEL,
        options: {
          beam_size: 5,
          best_of: 5,
          temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1],
          condition_on_previous_text: true,
          word_timestamps: words,
          vad_filter: true,
          no_speech_threshold: 0.6,
          compression_ratio_threshold: 2.4,
          log_prob_threshold: -1,
          task: session.config?.task === 'TASK_TRANSLATE' ? 'translate' : 'transcribe',
        },
      },
    },
  ];
}

/** Milliseconds of audio the session received (16 kHz, its config's encoding). */
export function receivedMs(session: FakeSession): number {
  const width = session.config?.encoding === 'AUDIO_ENCODING_FLOAT32' ? 4 : 2;
  return Math.floor(session.audioBytes / width / 16);
}

/** A LIVE-mode result over [startMs, endMs] of the session's audio. */
export function liveResult(
  session: FakeSession,
  index: number,
  text: string,
  startMs: number,
  endMs: number,
  isFinal: boolean,
): TranscriptResult {
  const language = session.config?.language_code ?? '';
  return {
    segment_index: index,
    transcript: text,
    is_final: isFinal,
    start_offset_ms: startMs,
    end_offset_ms: endMs,
    language_code: language === '' ? 'de' : language,
    language_probability: language === '' ? 0.87 : 1,
    words:
      session.config?.enable_word_time_offsets === true
        ? [{ word: text, start_offset_ms: startMs, end_offset_ms: endMs, probability: 0.912345 }]
        : [],
  };
}

/**
 * The default LIVE update after each chunk: every whole second of audio not yet committed
 * becomes a final " Second N." result, the rest the interim " partial" result.
 */
export function defaultLiveUpdate(session: FakeSession): StreamingTranscribeResponse[] {
  const totalMs = receivedMs(session);
  const results: TranscriptResult[] = [];
  const { live } = session;
  while (totalMs - live.committedMs >= 1000) {
    live.nextIndex += 1;
    results.push(
      liveResult(
        session,
        live.nextIndex - 1,
        ` Second ${live.nextIndex}.`,
        live.committedMs,
        live.committedMs + 1000,
        true,
      ),
    );
    live.committedMs += 1000;
  }
  if (totalMs > live.committedMs) {
    results.push(liveResult(session, live.nextIndex, ' partial', live.committedMs, totalMs, false));
  }
  if (results.length === 0) return [];
  return [{ results, progress: { processed_audio_ms: totalMs, total_audio_ms: totalMs } }];
}

/** The default LIVE flush after the half-close: what is left becomes " Last words.". */
export function defaultLiveFlush(session: FakeSession): StreamingTranscribeResponse[] {
  const totalMs = receivedMs(session);
  const { live } = session;
  if (totalMs <= live.committedMs) return [];
  const result = liveResult(
    session,
    live.nextIndex,
    ' Last words.',
    live.committedMs,
    totalMs,
    true,
  );
  live.nextIndex += 1;
  live.committedMs = totalMs;
  return [
    { results: [result], progress: { processed_audio_ms: totalMs, total_audio_ms: totalMs } },
  ];
}

/**
 * The default answer to `end_turn`: what is left of the turn as a final " Last words.", then
 * the turn's end.
 */
export function defaultLiveEndTurn(session: FakeSession): StreamingTranscribeResponse[] {
  const flushed = defaultLiveFlush(session);
  const endMs = receivedMs(session);
  const turnEnd: StreamingTranscribeResponse = {
    turn_end: {
      turn_index: session.turns.ended - 1,
      start_offset_ms: session.turns.startMs,
      end_offset_ms: endMs,
      had_speech: endMs > session.turns.startMs,
      reason: 'TURN_END_REASON_REQUESTED',
    },
  };
  session.turns.startMs = endMs;
  return [...flushed, turnEnd];
}

function liveSummary(session: FakeSession): StreamingTranscribeResponse {
  const totalMs = receivedMs(session);
  return {
    progress: { processed_audio_ms: totalMs, total_audio_ms: totalMs },
    summary: {
      duration_ms: totalMs,
      duration_after_vad_ms: totalMs,
      language_code: session.config?.language_code ?? 'en',
      language_probability: 1,
      model: FAKE_MODEL,
    },
  };
}

function statusError(error: ScriptedError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (error.retryAfterMs !== undefined) metadata.set('retry-after-ms', String(error.retryAfterMs));
  return { code: error.code, details: error.details, metadata };
}

/** Options of {@link startFakeWorker}. */
export interface FakeWorkerOptions {
  /** Loopback address to bind (default 127.0.0.1; any 127.x.y.z works on Linux). */
  readonly host?: string;
  readonly port?: number;
  readonly health?: ServingStatus;
  readonly script?: Script;
  readonly isMultilingual?: boolean;
  /** What `GetWorkerInfo` reports as load (default {@link FAKE_LOAD}). */
  readonly load?: WorkerLoad;
  /** Make `GetWorkerInfo` fail (until `infoError` is cleared). */
  readonly infoError?: ScriptedError;
}

/** Starts a fake worker on 127.0.0.1 (port 0 = any). */
export async function startFakeWorker(options: FakeWorkerOptions = {}): Promise<FakeWorker> {
  const protos = loadProtos();
  const server = new grpc.Server();
  const sessions: FakeSession[] = [];
  let health: ServingStatus = options.health ?? 'SERVING';
  const watchers = new Set<
    grpc.ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse>
  >();
  let infoCalls = 0;

  const worker: FakeWorker = {
    port: 0,
    address: '',
    sessions,
    script: options.script ?? {},
    load: { ...(options.load ?? FAKE_LOAD) },
    infoError: options.infoError,
    get infoCalls(): number {
      return infoCalls;
    },
    setHealth(status: ServingStatus): void {
      health = status;
      for (const watcher of watchers) watcher.write({ status });
    },
    stop(): Promise<void> {
      for (const watcher of watchers) watcher.end();
      return new Promise((resolve) => {
        // Calls still open after a second are cut, as a real worker's grace period would.
        const timer = setTimeout(() => {
          server.forceShutdown();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    kill(): void {
      server.forceShutdown();
    },
  };

  server.addService(protos.stt.TranscriberService.service, {
    StreamingTranscribe(
      call: grpc.ServerDuplexStream<
        StreamingTranscribeRequest__Output,
        StreamingTranscribeResponse
      >,
    ): void {
      const script = worker.script;
      const requestId = call.metadata.get('x-request-id')[0];
      const session: FakeSession = {
        config: undefined,
        audioBytes: 0,
        chunks: 0,
        audio: [],
        requestId: typeof requestId === 'string' ? requestId : undefined,
        isCancelled: false,
        isHalfClosed: false,
        live: { committedMs: 0, nextIndex: 0 },
        turns: { ended: 0, startMs: 0 },
      };
      sessions.push(session);
      let isFinished = false;
      const isLive = (): boolean => session.config?.mode === 'TRANSCRIPTION_MODE_LIVE';
      const live = script.live ?? {};
      call.on('cancelled', () => {
        session.isCancelled = true;
      });
      call.on('error', () => {
        // The client went away.
      });
      call.on('data', (request: StreamingTranscribeRequest__Output) => {
        if (isFinished) return;
        if (request.request === 'config') {
          session.config = request.config ?? undefined;
          if (script.failOnConfig !== undefined) {
            isFinished = true;
            call.emit('error', statusError(script.failOnConfig));
          } else if (!isLive() || live.isAckWithheld !== true) {
            // The ack, as the real worker sends it for both modes.
            const totalMs = isLive() ? 0 : (session.config?.audio_duration_ms ?? 0);
            call.write({ progress: { processed_audio_ms: 0, total_audio_ms: totalMs } });
          }
          return;
        }
        if (request.request === 'end_turn') {
          session.turns.ended += 1;
          if (!isLive()) return;
          for (const response of (live.onEndTurn ?? defaultLiveEndTurn)(session)) {
            call.write(response);
          }
          return;
        }
        const audio = request.audio ?? Buffer.alloc(0);
        session.audioBytes += audio.length;
        session.chunks += 1;
        session.audio.push(audio);
        if (!isLive()) return;
        if (live.failAfterBytes !== undefined && session.audioBytes >= live.failAfterBytes.bytes) {
          isFinished = true;
          call.emit('error', statusError(live.failAfterBytes.error));
          return;
        }
        for (const response of (live.onAudio ?? defaultLiveUpdate)(session)) call.write(response);
      });
      call.on('end', () => {
        session.isHalfClosed = true;
        if (isFinished || script.isHanging === true) return;
        if (isLive()) {
          isFinished = true;
          for (const response of (live.onEnd ?? defaultLiveFlush)(session)) call.write(response);
          call.write(liveSummary(session));
          call.end();
          return;
        }
        isFinished = true;
        for (const response of (script.responses ?? defaultResponses)(session))
          call.write(response);
        if (script.failAtEnd !== undefined) {
          call.emit('error', statusError(script.failAtEnd));
        } else {
          call.end();
        }
      });
    },
    GetWorkerInfo(
      _call: grpc.ServerUnaryCall<unknown, GetWorkerInfoResponse>,
      callback: grpc.sendUnaryData<GetWorkerInfoResponse>,
    ): void {
      infoCalls += 1;
      if (worker.infoError !== undefined) {
        callback(statusError(worker.infoError), null);
        return;
      }
      callback(null, {
        model: {
          name: FAKE_MODEL,
          is_multilingual: options.isMultilingual ?? false,
          languages: options.isMultilingual === true ? ['en', 'de', 'fr', 'es'] : ['en'],
        },
        backend: 'fake',
        device: 'cpu',
        compute_type: 'int8',
        load: worker.load,
        version: 'test',
        cpu_threads: 1,
      });
    },
  });
  server.addService(protos.health.Health.service, {
    Check(
      _call: grpc.ServerUnaryCall<HealthCheckRequest__Output, HealthCheckResponse>,
      callback: grpc.sendUnaryData<HealthCheckResponse>,
    ): void {
      callback(null, { status: health });
    },
    Watch(call: grpc.ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse>): void {
      watchers.add(call);
      call.write({ status: health });
      call.on('cancelled', () => {
        watchers.delete(call);
      });
      call.on('close', () => {
        watchers.delete(call);
      });
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${options.host ?? '127.0.0.1'}:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => {
        if (error !== null) reject(error);
        else resolve(bound);
      },
    );
  });
  return Object.assign(worker, { port, address: `${options.host ?? '127.0.0.1'}:${port}` });
}
