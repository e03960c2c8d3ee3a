/**
 * The gateway's Prometheus metrics: one registry, the metric objects, and one small hook
 * per event, called where the outcome is decided (the access log of an HTTP request, the
 * end of a WebSocket session, a refused connection). Nothing else imports prom-client.
 *
 * Conventions: the `stt_gateway_` prefix, base units (seconds), `_total` counters, and
 * only bounded label values: APIs from {@link API_OF_PATH}, status codes the gateway itself
 * sets, outcomes and reasons from the fixed unions below. Request and session ids are never
 * labels (they are in the logs).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { CLOSE_CODES } from './ws/close_codes.js';

/** The API a request or session used; a label value. */
export type Api =
  | 'transcriptions'
  | 'translations'
  | 'legacy'
  | 'url'
  | 'models'
  | 'health'
  | 'openapi'
  | 'metrics'
  | 'whisperlive'
  | 'realtime'
  | 'other';

/** How a live session (WhisperLive or Realtime) ended; a label value. */
export type SessionOutcome =
  'completed' | 'client_closed' | 'refused' | 'client_error' | 'shutdown' | 'error';

/** Why the gateway turned work away; a label value. */
export type RejectionReason =
  | 'auth'
  | 'origin'
  | 'rate_limit'
  | 'concurrency'
  | 'too_large'
  | 'timeout'
  | 'session_limit'
  | 'worker_busy'
  | 'worker_unavailable'
  | 'shutting_down';

/** The API of each HTTP path the gateway serves; anything else is `other`. */
export const API_OF_PATH: Readonly<Record<string, Api>> = {
  '/v1/audio/transcriptions': 'transcriptions',
  '/v1/audio/translations': 'translations',
  '/transcribe': 'legacy',
  '/transcribe/url': 'url',
  '/v1/models': 'models',
  '/health': 'health',
  '/healthz': 'health',
  '/readyz': 'health',
  '/openapi.json': 'openapi',
  '/metrics': 'metrics',
};

/** The API of an HTTP request path (`/v1/models/{model}` counts as `models`). */
export function apiOfPath(path: string): Api {
  return API_OF_PATH[path] ?? (path.startsWith('/v1/models/') ? 'models' : 'other');
}

/**
 * The error codes (`GatewayError.code`) that mean the gateway turned a request away, not
 * that the request was bad; a request answered with one of them counts as a rejection.
 */
const REJECTION_OF_ERROR_CODE: Readonly<Record<string, RejectionReason>> = {
  invalid_api_key: 'auth',
  rate_limit_exceeded: 'rate_limit',
  too_many_uploads: 'concurrency',
  file_too_large: 'too_large',
  request_timeout: 'timeout',
  worker_busy: 'worker_busy',
  worker_unavailable: 'worker_unavailable',
};

/** The rejection an HTTP error code stands for, or undefined when it is none. */
export function rejectionOfErrorCode(code: string | undefined): RejectionReason | undefined {
  return code === undefined ? undefined : REJECTION_OF_ERROR_CODE[code];
}

/**
 * The outcome of a WhisperLive session from its close code (the one table of close codes,
 * `ws/close_codes.ts`, already sorts endings into these kinds).
 *
 * @param closeCode The close code the session ended with.
 * @param isClientClose The client (or its network) closed the socket first.
 */
export function sessionOutcome(
  closeCode: number | undefined,
  isClientClose: boolean,
): SessionOutcome {
  if (isClientClose) return 'client_closed';
  switch (closeCode) {
    case CLOSE_CODES.normal:
      return 'completed';
    case CLOSE_CODES.goingAway:
      return 'shutdown';
    case CLOSE_CODES.tryAgainLater:
      return 'refused';
    case CLOSE_CODES.policyViolation:
    case CLOSE_CODES.invalidPayload:
    case CLOSE_CODES.messageTooBig:
      return 'client_error';
    default:
      return 'error';
  }
}

/** What the gateway reports about itself in `stt_gateway_build_info`. */
export interface BuildInfo {
  /** The gateway's version (package.json). */
  readonly version: string;
}

/** Options of {@link createGatewayMetrics}. */
export interface GatewayMetricsOptions {
  /** Build labels; `version` `unknown` when not given (tests). */
  readonly build?: BuildInfo;
  /** Adds Node's default process metrics (CPU, memory, event loop, GC); off in tests. */
  readonly hasProcessMetrics?: boolean;
}

/** The gateway's metrics and the hooks that move them. */
export interface GatewayMetrics {
  /** The registry `/metrics` renders. */
  readonly registry: Registry;
  /** An HTTP request was answered (or its client left: status 499). */
  httpRequestDone(api: Api, status: number, durationS: number): void;
  /** Audio of a finished transcription or session, in seconds. */
  audioProcessed(api: Api, seconds: number): void;
  /** The gateway turned a request or connection away. */
  rejected(api: Api, reason: RejectionReason): void;
  /** A WhisperLive session started (a WebSocket was accepted). */
  sessionOpened(api: Api): void;
  /** A session ended; pairs with {@link sessionOpened}. */
  sessionClosed(api: Api, outcome: SessionOutcome): void;
  /** The first transcript of a live session went out, `seconds` after it was admitted. */
  firstResult(api: Api, seconds: number): void;
}

/** Request durations: probes take milliseconds, a long file many minutes. */
const REQUEST_BUCKETS_S = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
];

/** First live results come one to a few decode cycles after the first speech. */
const FIRST_RESULT_BUCKETS_S = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 30];

class Metrics implements GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'api' | 'code'>;
  readonly #requestDuration: Histogram<'api'>;
  readonly #audio: Counter<'api'>;
  readonly #rejections: Counter<'api' | 'reason'>;
  readonly #sessions: Counter<'api' | 'outcome'>;
  readonly #sessionsActive: Gauge<'api'>;
  readonly #firstResult: Histogram<'api'>;

  constructor(options: GatewayMetricsOptions) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'stt_gateway_http_requests_total',
      help: 'HTTP requests answered, by API and status code (499: the client left first).',
      labelNames: ['api', 'code'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: 'stt_gateway_http_request_duration_seconds',
      help: 'Time from an HTTP request arriving to its response being sent, by API.',
      labelNames: ['api'],
      buckets: REQUEST_BUCKETS_S,
      registers,
    });
    this.#audio = new Counter({
      name: 'stt_gateway_audio_seconds_total',
      help: 'Seconds of audio sent to workers by finished transcriptions and sessions, by API.',
      labelNames: ['api'],
      registers,
    });
    this.#rejections = new Counter({
      name: 'stt_gateway_rejections_total',
      help: 'Requests and connections the gateway turned away, by API and reason.',
      labelNames: ['api', 'reason'],
      registers,
    });
    this.#sessions = new Counter({
      name: 'stt_gateway_sessions_total',
      help: 'Live sessions ended, by API and outcome.',
      labelNames: ['api', 'outcome'],
      registers,
    });
    this.#sessionsActive = new Gauge({
      name: 'stt_gateway_sessions_active',
      help: 'Live sessions open now, by API.',
      labelNames: ['api'],
      registers,
    });
    this.#firstResult = new Histogram({
      name: 'stt_gateway_first_result_seconds',
      help: 'Time from a live session being admitted to its first transcript sent, by API.',
      labelNames: ['api'],
      buckets: FIRST_RESULT_BUCKETS_S,
      registers,
    });
    const buildInfo = new Gauge({
      name: 'stt_gateway_build_info',
      help: 'Always 1; the labels say which gateway build runs.',
      labelNames: ['version', 'node_version'],
      registers,
    });
    buildInfo.set(
      { version: options.build?.version ?? 'unknown', node_version: process.versions.node },
      1,
    );
    // The API a dashboard shows from the start reads 0 rather than no data.
    this.#sessionsActive.set({ api: 'whisperlive' }, 0);
    this.#sessionsActive.set({ api: 'realtime' }, 0);
    if (options.hasProcessMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  httpRequestDone(api: Api, status: number, durationS: number): void {
    this.#requests.inc({ api, code: String(status) });
    this.#requestDuration.observe({ api }, durationS);
  }

  audioProcessed(api: Api, seconds: number): void {
    if (seconds > 0) this.#audio.inc({ api }, seconds);
  }

  rejected(api: Api, reason: RejectionReason): void {
    this.#rejections.inc({ api, reason });
  }

  sessionOpened(api: Api): void {
    this.#sessionsActive.inc({ api });
  }

  sessionClosed(api: Api, outcome: SessionOutcome): void {
    this.#sessionsActive.dec({ api });
    this.#sessions.inc({ api, outcome });
  }

  firstResult(api: Api, seconds: number): void {
    this.#firstResult.observe({ api }, seconds);
  }
}

/** Creates a registry with the gateway's metrics; each call is independent (tests). */
export function createGatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  return new Metrics(options);
}
