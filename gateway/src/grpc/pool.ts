/**
 * WorkerPool: one gRPC channel per worker, each watched with `grpc.health.v1.Health/Watch`
 * (polling `Check` every second if the worker lacks Watch), and a least-loaded pick among the
 * workers that are SERVING. Workers come and go by id: the supervisor replaces the local
 * worker's address each time it restarts on a new port. `GetWorkerInfo` is called when a
 * worker starts serving and then every `loadRefreshMs` while it serves, so the pool always
 * holds each worker's recent load (for `/health` and `/readyz`).
 *
 * A worker that is alive but does not answer (stopped with SIGSTOP, its event loop stuck,
 * its host frozen) keeps its TCP connection and its health Watch open, so neither tells us.
 * A liveness probe does: every {@link LIVENESS_INTERVAL_MS} the pool sends a `Health/Check`
 * with a deadline of {@link LIVENESS_TIMEOUT_MS}; a worker that misses it is `unresponsive`:
 * it gets no new work, and every stream it holds fails at once with
 * {@link WorkerUnresponsiveError} (503 for files, ERROR and a close for live sessions). So a
 * hung worker is detected, and its clients are answered, at most
 * `LIVENESS_INTERVAL_MS + LIVENESS_TIMEOUT_MS` (12 s) after it stopped answering. Its first
 * answer after that makes it serving again.
 */
import { setMaxListeners } from 'node:events';

import * as grpc from '@grpc/grpc-js';

import { WorkerUnavailableError, WorkerUnresponsiveError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WorkerInfo, WorkerLoad } from '../transcript.js';
import type { HealthClient } from './generated/grpc/health/v1/Health.js';
import type { HealthCheckResponse__Output } from './generated/grpc/health/v1/HealthCheckResponse.js';
import type { TranscriberServiceClient } from './generated/stt/v1/TranscriberService.js';
import { toWorkerInfo, type WorkerStreamSettings } from './mapping.js';
import { loadProtos, TRANSCRIBER_SERVICE_NAME } from './proto.js';
import { createFailoverStream, type StreamTarget } from './failover_stream.js';
import { createRecognizeStream, type RecognizeStream } from './recognize_stream.js';
import { toGatewayError } from './status.js';

/**
 * A worker's serving state as the health service reports it; `unresponsive` when it missed
 * the pool's liveness probe (connected, but not answering).
 */
export type WorkerState = 'connecting' | 'serving' | 'not_serving' | 'unreachable' | 'unresponsive';

/** A worker's load as last read with `GetWorkerInfo`, and how old that reading is. */
export interface WorkerLoadReading {
  /** The load the worker reported. */
  readonly load: WorkerLoad;
  /** Milliseconds since the worker reported it. */
  readonly ageMs: number;
}

/** One worker as the pool sees it. */
export interface WorkerStatus {
  readonly id: string;
  readonly address: string;
  readonly state: WorkerState;
  /** Its last reported load; absent until `GetWorkerInfo` first answered. */
  readonly load?: WorkerLoadReading;
}

/**
 * Why a worker stopped for good: it cannot run as configured (the worker's `fatal` line, or
 * its exit code 78), so it is not restarted until its configuration changes.
 */
export interface WorkerFailure {
  /** The kind of failure; `configuration` is the only one. */
  readonly reason: 'configuration';
  /** The worker's own words: what is missing or wrong, and how to fix it. */
  readonly message: string;
}

/** Whether the pool can take work, and why not. */
export interface PoolHealth {
  /** True when at least one worker is SERVING. */
  readonly isReady: boolean;
  /** Why not, for `/health`'s `reason`; undefined when ready. */
  readonly reason: string | undefined;
  /** Set while not ready because a worker failed for good (see {@link WorkerPool.fail}). */
  readonly failure?: WorkerFailure;
  /** Each worker's state and last reported load. */
  readonly workers: readonly WorkerStatus[];
}

/** Per-call options. */
export interface CallOptions {
  /** Correlation id, sent as `x-request-id` metadata. */
  readonly requestId: string;
  /** Deadline of the call, in ms from now. */
  readonly timeoutMs: number;
}

/** A SERVING worker picked for one piece of work. */
export interface WorkerLease {
  /**
   * Worker id (`'local'`, or the worker's address) at the time of the pick; a stream is
   * opened on the least-loaded worker when it starts, and moves on when refused.
   */
  readonly id: string;
  /** `host:port`. */
  readonly address: string;
  /** What the worker said about itself, when known. */
  readonly info: WorkerInfo | undefined;
  /** Starts a `StreamingTranscribe` call; its config is sent at once. */
  startStream(settings: WorkerStreamSettings, options: CallOptions): RecognizeStream;
  /** Calls `GetWorkerInfo`. */
  getWorkerInfo(options: CallOptions): Promise<WorkerInfo>;
}

/** The set of workers the gateway talks to. */
export interface WorkerPool {
  /** Adds a worker (or takes a retiring one back), or moves an id to a new address. */
  upsert(id: string, address: string): void;
  /** Forgets a worker and closes its channel (its streams fail). */
  remove(id: string): void;
  /**
   * Gives a worker no new work and forgets it once its streams have ended (its address left
   * DNS: scaled down or rescheduled, and draining its sessions).
   */
  retire(id: string): void;
  /**
   * Records that no worker will come, and why (the local worker failed for good): while no
   * worker serves, `health()` and the refusals of new work give this reason.
   */
  fail(failure: WorkerFailure): void;
  /** Readiness, for `/health`. */
  health(): PoolHealth;
  /**
   * The least-loaded SERVING worker. Its streams move to the next least-loaded worker when
   * a worker refuses them before accepting (full, draining). @throws WorkerUnavailableError
   * when none serves.
   */
  acquire(): WorkerLease;
  /** Closes every channel. */
  close(): void;
}

/** Options of {@link createWorkerPool}. */
export interface WorkerPoolOptions {
  /** Logger (`worker` field added per worker). */
  readonly logger: Logger;
  /** HTTP/2 keepalive ping interval, in ms. */
  readonly keepaliveMs: number;
  /** Health re-check / re-watch interval, in ms (default 1000). */
  readonly healthRetryMs?: number;
  /** Longest channel reconnect backoff, in ms (default 5000). */
  readonly maxReconnectBackoffMs?: number;
  /**
   * Interval of the `GetWorkerInfo` calls that refresh a SERVING worker's load, in ms, counted
   * from the end of the previous call; 0 calls it only when the worker starts serving
   * (default 2000).
   */
  readonly loadRefreshMs?: number;
  /** Liveness probe interval, in ms (default {@link LIVENESS_INTERVAL_MS}; tests use less). */
  readonly livenessIntervalMs?: number;
  /** Liveness probe deadline, in ms (default {@link LIVENESS_TIMEOUT_MS}; tests use less). */
  readonly livenessTimeoutMs?: number;
}

/** Deadline of the pool's own `GetWorkerInfo` calls, in ms. */
const INFO_TIMEOUT_MS = 5000;

/**
 * Pause between the end of one liveness probe and the next, in ms. Cheap: one unary
 * `Health/Check` per worker every 2 s.
 */
export const LIVENESS_INTERVAL_MS = 2000;

/**
 * How long a worker may take to answer a liveness probe before it counts as unresponsive, in
 * ms. The worker answers health checks on its event loop while the model runs in another
 * thread, so even a fully loaded worker answers in well under a second; 10 s leaves room for
 * an overloaded host without letting a hung worker hold clients for long.
 */
export const LIVENESS_TIMEOUT_MS = 10_000;

/** The controller whose signal every stream of one worker listens to. */
function streamsController(): AbortController {
  const controller = new AbortController();
  // One listener per open stream, and a worker may hold hundreds: not a leak.
  setMaxListeners(0, controller.signal);
  return controller;
}

function metadataFor(requestId: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', requestId);
  return metadata;
}

class WorkerConnection {
  readonly id: string;
  readonly address: string;
  activeStreams = 0;
  /** Takes no new work; closed by the pool once `activeStreams` is 0. */
  isRetiring = false;
  /** Called when a stream ends (the pool closes a retiring worker once idle). */
  onStreamEnded: (() => void) | undefined;
  /** `activeStreams` when the load in `#info` was read: the streams opened since count too. */
  #activeAtReading = 0;
  readonly #client: TranscriberServiceClient;
  readonly #health: HealthClient;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #loadRefreshMs: number;
  #state: WorkerState = 'connecting';
  #info: WorkerInfo | undefined;
  /** `performance.now()` when `#info` arrived. */
  #infoReadAt = 0;
  /** Number of the latest `GetWorkerInfo` call started, and of the one `#info` came from. */
  #infoCalls = 0;
  #infoCall = 0;
  #watch: grpc.ClientReadableStream<HealthCheckResponse__Output> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loadTimer: NodeJS.Timeout | undefined;
  /** Whether this serving period already logged the worker's info / a failed refresh. */
  #isInfoLogged = false;
  #isInfoFailing = false;
  #isPolling = false;
  #isClosed = false;
  /** False from a missed liveness probe until the next answer. */
  #isResponsive = true;
  readonly #livenessIntervalMs: number;
  readonly #livenessTimeoutMs: number;
  #livenessTimer: NodeJS.Timeout | undefined;
  /** Aborted (with the error to report) to fail every stream open on this worker. */
  #streams = streamsController();

  constructor(id: string, address: string, options: WorkerPoolOptions) {
    this.id = id;
    this.address = address;
    this.#logger = options.logger.child({ worker: id, worker_address: address });
    this.#retryMs = options.healthRetryMs ?? 1000;
    this.#loadRefreshMs = options.loadRefreshMs ?? 2000;
    this.#livenessIntervalMs = options.livenessIntervalMs ?? LIVENESS_INTERVAL_MS;
    this.#livenessTimeoutMs = options.livenessTimeoutMs ?? LIVENESS_TIMEOUT_MS;
    const protos = loadProtos();
    const channelOptions: grpc.ChannelOptions = {
      // Detects a worker host or network that went silent (a process that dies is seen at
      // once from the closed socket). Our worker permits pings every 10 s; gRPC servers with
      // default settings allow only one per 5 minutes on idle streams and answer faster
      // pings with GOAWAY too_many_pings: raise GATEWAY_WORKER_KEEPALIVE_S for those.
      'grpc.keepalive_time_ms': options.keepaliveMs,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs ?? 5000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    };
    const credentials = grpc.credentials.createInsecure();
    this.#client = new protos.stt.TranscriberService(address, credentials, channelOptions);
    // The health client shares the channel: same connection, same fate.
    this.#health = new protos.health.Health(address, credentials, {
      ...channelOptions,
      channelOverride: this.#client.getChannel(),
    });
  }

  get state(): WorkerState {
    return this.#isResponsive ? this.#state : 'unresponsive';
  }

  get info(): WorkerInfo | undefined {
    return this.#info;
  }

  /** The last reported load and its age; undefined until `GetWorkerInfo` first answered. */
  get load(): WorkerLoadReading | undefined {
    if (this.#info === undefined) return undefined;
    const ageMs = Math.max(0, Math.round(performance.now() - this.#infoReadAt));
    return { load: this.#info.load, ageMs };
  }

  start(): void {
    this.#checkHealth();
    this.#scheduleLivenessProbe();
  }

  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#loadTimer);
    clearTimeout(this.#livenessTimer);
    this.#watch?.cancel();
    this.#client.close();
  }

  #setState(state: WorkerState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    if (state === 'serving') {
      this.#logger.info('worker is serving', { previous_state: previous });
      this.#isInfoLogged = false;
      this.#isInfoFailing = false;
      this.#refreshInfo();
    } else if (previous === 'serving') {
      clearTimeout(this.#loadTimer);
      this.#loadTimer = undefined;
      this.#logger.warn('worker lost', { state });
    } else {
      this.#logger.debug('worker state', { state, previous_state: previous });
    }
  }

  #scheduleLivenessProbe(): void {
    if (this.#isClosed) return;
    this.#livenessTimer = setTimeout(() => {
      this.#probeLiveness();
    }, this.#livenessIntervalMs);
    this.#livenessTimer.unref();
  }

  /**
   * One liveness probe. Only a missed deadline counts: a refused connection or a NOT_SERVING
   * answer is the health Watch's news, and any answer at all proves the worker responds.
   */
  #probeLiveness(): void {
    if (this.#isClosed) return;
    this.#health.Check(
      { service: TRANSCRIBER_SERVICE_NAME },
      { deadline: Date.now() + this.#livenessTimeoutMs },
      (error) => {
        if (this.#isClosed) return;
        if (error?.code === grpc.status.DEADLINE_EXCEEDED) {
          this.#markUnresponsive();
        } else if (error?.code !== grpc.status.UNAVAILABLE) {
          this.#markResponsive();
        }
        this.#scheduleLivenessProbe();
      },
    );
  }

  #markUnresponsive(): void {
    if (!this.#isResponsive) return;
    const wasServing = this.#state === 'serving';
    this.#isResponsive = false;
    const error = new WorkerUnresponsiveError(this.#livenessTimeoutMs);
    this.#logger.warn('worker not responding; failing its streams', {
      state: this.#state,
      timeout_ms: this.#livenessTimeoutMs,
      active_streams: this.activeStreams,
      was_serving: wasServing,
    });
    const streams = this.#streams;
    this.#streams = streamsController();
    streams.abort(error);
  }

  #markResponsive(): void {
    if (this.#isResponsive) return;
    this.#isResponsive = true;
    this.#logger.info('worker responds again', { state: this.#state });
  }

  #schedule(): void {
    if (this.#isClosed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#checkHealth();
    }, this.#retryMs);
    this.#timer.unref();
  }

  #checkHealth(): void {
    if (this.#isClosed) return;
    if (this.#isPolling) {
      this.#health.Check(
        { service: TRANSCRIBER_SERVICE_NAME },
        { deadline: Date.now() + Math.max(this.#retryMs, 1000) },
        (error, response) => {
          if (this.#isClosed) return;
          if (error !== null || response === undefined) {
            this.#setState(error?.code === grpc.status.UNAVAILABLE ? 'unreachable' : 'not_serving');
          } else {
            this.#setState(response.status === 'SERVING' ? 'serving' : 'not_serving');
          }
          this.#schedule();
        },
      );
      return;
    }
    const watch = this.#health.Watch({ service: TRANSCRIBER_SERVICE_NAME });
    this.#watch = watch;
    watch.on('data', (response: HealthCheckResponse__Output) => {
      this.#setState(response.status === 'SERVING' ? 'serving' : 'not_serving');
    });
    watch.on('error', () => {
      // Reported through 'status' below.
    });
    watch.on('status', (status: grpc.StatusObject) => {
      if (this.#isClosed || this.#watch !== watch) return;
      if (status.code === grpc.status.UNIMPLEMENTED) {
        this.#logger.info('worker has no health Watch; polling Check instead');
        this.#isPolling = true;
      }
      this.#setState(status.code === grpc.status.UNAVAILABLE ? 'unreachable' : 'not_serving');
      this.#schedule();
    });
  }

  /**
   * Reads the worker's info and load now, then again every `loadRefreshMs` while it serves.
   * The first answer of each serving period is logged at info, the first failure at warn;
   * the periodic calls after that log at debug only.
   */
  #refreshInfo(): void {
    clearTimeout(this.#loadTimer);
    this.#loadTimer = undefined;
    this.getWorkerInfo({ requestId: 'health', timeoutMs: INFO_TIMEOUT_MS }).then(
      (info) => {
        if (this.#isClosed) return;
        if (!this.#isInfoLogged) {
          this.#isInfoLogged = true;
          this.#logger.info('worker info', {
            model: info.modelName,
            backend: info.backend,
            device: info.device,
            max_streams: info.load.maxStreams,
            max_queue_depth: info.load.maxQueueDepth,
            max_live_cycle_ms: info.load.maxLiveCycleMs,
          });
        } else if (this.#isInfoFailing) {
          this.#logger.debug('GetWorkerInfo answers again');
        }
        this.#isInfoFailing = false;
        this.#scheduleInfoRefresh();
      },
      (error: unknown) => {
        if (this.#isClosed) return;
        const fields = { error: toGatewayError(error).message };
        if (this.#state === 'serving' && !this.#isInfoFailing) {
          this.#logger.warn('GetWorkerInfo failed', fields);
        } else {
          this.#logger.debug('GetWorkerInfo failed', fields);
        }
        this.#isInfoFailing = true;
        this.#scheduleInfoRefresh();
      },
    );
  }

  #scheduleInfoRefresh(): void {
    if (this.#isClosed || this.#state !== 'serving' || this.#loadRefreshMs === 0) return;
    clearTimeout(this.#loadTimer);
    this.#loadTimer = setTimeout(() => {
      this.#loadTimer = undefined;
      if (!this.#isClosed && this.#state === 'serving') this.#refreshInfo();
    }, this.#loadRefreshMs);
    this.#loadTimer.unref();
  }

  getWorkerInfo(options: CallOptions): Promise<WorkerInfo> {
    this.#infoCalls += 1;
    const call = this.#infoCalls;
    return new Promise((resolve, reject) => {
      this.#client.GetWorkerInfo(
        {},
        metadataFor(options.requestId),
        { deadline: Date.now() + options.timeoutMs },
        (error, response) => {
          if (error !== null || response === undefined) {
            reject(toGatewayError(error ?? new Error('empty GetWorkerInfo response')));
            return;
          }
          const info = toWorkerInfo(response);
          // Calls may overlap (`/v1/models` asks too): keep the newest call's answer.
          if (call > this.#infoCall) {
            this.#info = info;
            this.#infoCall = call;
            this.#infoReadAt = performance.now();
            this.#activeAtReading = this.activeStreams;
          }
          resolve(info);
        },
      );
    });
  }

  startStream(settings: WorkerStreamSettings, options: CallOptions): RecognizeStream {
    const call = this.#client.StreamingTranscribe(metadataFor(options.requestId), {
      deadline: Date.now() + options.timeoutMs,
    });
    const stream = createRecognizeStream(call, settings, { signal: this.#streams.signal });
    this.activeStreams += 1;
    void stream.finished.then(() => {
      this.activeStreams -= 1;
      this.onStreamEnded?.();
    });
    return stream;
  }

  /**
   * How full the worker is: 0 idle, 1 at its stream cap or live-cycle limit. From the load
   * it last reported (which counts every gateway's streams) plus the streams this gateway
   * opened or closed on it since; by this gateway's streams alone until it reported.
   */
  fullness(): number {
    const load = this.#info?.load;
    if (load === undefined) return this.activeStreams / UNKNOWN_CAPACITY;
    const active = Math.max(0, load.activeStreams + this.activeStreams - this.#activeAtReading);
    const streams = load.maxStreams > 0 ? active / load.maxStreams : 0;
    // The cycle predicts the live streams' latency; with none it is a stale measurement.
    const cycle =
      load.maxLiveCycleMs > 0 && load.liveStreams > 0 ? load.liveCycleMs / load.maxLiveCycleMs : 0;
    return Math.max(streams, cycle);
  }
}

/** The stream cap assumed for a worker that has not reported its load yet. */
const UNKNOWN_CAPACITY = 1000;

/**
 * A worker's name where clients may read it (`/health`, `/readyz`, error messages): its id,
 * unless the id is its address (remote workers are named by address), which becomes
 * `worker-N`. Internal addresses stay in the logs.
 */
export function publicWorkerName(id: string, address: string, index: number): string {
  return id === address ? `worker-${index + 1}` : id;
}

function describe(connection: WorkerConnection, index: number): string {
  const name = `worker ${publicWorkerName(connection.id, connection.address, index)}`;
  switch (connection.state) {
    case 'connecting':
      return `connecting to ${name}`;
    case 'not_serving':
      return `${name} is not serving (model loading or shutting down)`;
    case 'unreachable':
      return `${name} is unreachable`;
    case 'serving':
      return `${name} is serving`;
    case 'unresponsive':
      return `${name} is not responding (missed its health check)`;
  }
}

/** `/health`'s reason after a configuration failure. */
export function failureReason(failure: WorkerFailure): string {
  return `the worker failed to start because of a configuration error: ${failure.message}`;
}

class GrpcWorkerPool implements WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #connections = new Map<string, WorkerConnection>();
  #failure: WorkerFailure | undefined;
  #isClosed = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  upsert(id: string, address: string): void {
    if (this.#isClosed) return;
    const existing = this.#connections.get(id);
    if (existing?.address === address) {
      existing.isRetiring = false;
      return;
    }
    existing?.close();
    const connection = new WorkerConnection(id, address, this.#options);
    connection.onStreamEnded = () => {
      if (connection.isRetiring && connection.activeStreams === 0) this.#forget(connection);
    };
    this.#connections.set(id, connection);
    connection.start();
  }

  remove(id: string): void {
    this.#connections.get(id)?.close();
    this.#connections.delete(id);
  }

  retire(id: string): void {
    const connection = this.#connections.get(id);
    if (connection === undefined) return;
    connection.isRetiring = true;
    this.#options.logger.info('worker retired: no new work', {
      worker: id,
      active_streams: connection.activeStreams,
    });
    if (connection.activeStreams === 0) this.#forget(connection);
  }

  #forget(connection: WorkerConnection): void {
    if (this.#connections.get(connection.id) !== connection) return;
    this.remove(connection.id);
  }

  fail(failure: WorkerFailure): void {
    this.#failure = failure;
  }

  health(): PoolHealth {
    const connections = [...this.#connections.values()];
    const workers = connections.map((c): WorkerStatus => {
      const status = { id: c.id, address: c.address, state: c.state };
      const load = c.load;
      return load === undefined ? status : { ...status, load };
    });
    if (connections.some((c) => c.state === 'serving' && !c.isRetiring)) {
      return { isReady: true, reason: undefined, workers };
    }
    const failure = this.#failure;
    if (failure !== undefined) {
      return { isReady: false, reason: failureReason(failure), failure, workers };
    }
    const reason =
      connections.length === 0
        ? 'no worker is running (starting or restarting)'
        : connections.map((c, index) => describe(c, index)).join('; ');
    return { isReady: false, reason, workers };
  }

  /** The least full SERVING worker not in `excluded` (ties: fewer streams from here). */
  #pick(excluded: ReadonlySet<string>): WorkerConnection | undefined {
    let best: WorkerConnection | undefined;
    let bestFullness = Infinity;
    for (const connection of this.#connections.values()) {
      if (connection.state !== 'serving' || connection.isRetiring) continue;
      if (excluded.has(connection.id)) continue;
      const fullness = connection.fullness();
      if (
        best === undefined ||
        fullness < bestFullness ||
        (fullness === bestFullness && connection.activeStreams < best.activeStreams)
      ) {
        best = connection;
        bestFullness = fullness;
      }
    }
    return best;
  }

  acquire(): WorkerLease {
    const connection = this.#pick(new Set());
    if (connection === undefined) {
      const health = this.health();
      // After a configuration error no worker comes back by waiting.
      const advice = health.failure === undefined ? ' Retry shortly.' : '';
      throw new WorkerUnavailableError(
        `No transcription worker is ready: ${health.reason ?? 'unknown'}.${advice}`,
        2000,
      );
    }
    const logger = this.#options.logger;
    return {
      id: connection.id,
      address: connection.address,
      info: connection.info,
      startStream: (settings, options) => {
        const target = (c: WorkerConnection): StreamTarget => ({
          id: c.id,
          startStream: (s) => c.startStream(s, options),
        });
        const next = (tried: ReadonlySet<string>): StreamTarget | undefined => {
          const other = this.#pick(tried);
          return other === undefined ? undefined : target(other);
        };
        const streamLogger = logger.child({ request_id: options.requestId });
        // Picked again now: a file is leased before its first audio is decoded, and
        // requests leased meanwhile must not all land on the worker that was idlest then.
        return createFailoverStream({
          first: target(this.#pick(new Set()) ?? connection),
          next,
          settings,
          logger: streamLogger,
          onAccepted: (workerId) => {
            streamLogger.debug('worker accepted the stream', { worker: workerId });
          },
        });
      },
      getWorkerInfo: (options) => connection.getWorkerInfo(options),
    };
  }

  close(): void {
    this.#isClosed = true;
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
  }
}

/** Creates an empty pool; add workers with `upsert()`. */
export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  return new GrpcWorkerPool(options);
}
