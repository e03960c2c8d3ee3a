/**
 * The gateway's error hierarchy. Every failure that reaches a client is a `GatewayError` with
 * a stable `code`, the HTTP status it maps to, and whether retrying can help. HTTP renders it
 * in OpenAI's error shape (or the legacy `{success: false}` shape); WebSocket sessions close
 * with its `wsCloseCode`, an entry of the one close-code table.
 */
import { CLOSE_CODES } from './ws/close_codes.js';

/** The `type` field of an OpenAI error body. */
export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

/** Constructor options of {@link GatewayError}. */
export interface GatewayErrorOptions {
  /** Human-readable message; shown to the client, so never a stack or an internal path. */
  readonly message: string;
  /** Stable machine-readable code, e.g. `'worker_unavailable'`. */
  readonly code: string;
  /** HTTP status the error is answered with. */
  readonly httpStatus: number;
  /** OpenAI error type; derived from `httpStatus` when omitted. */
  readonly type?: OpenAiErrorType;
  /** The request field at fault, or null. */
  readonly param?: string | null;
  /** Whether the same request may succeed later. */
  readonly retryable?: boolean;
  /** Suggested wait before retrying, in ms (sent as `Retry-After`). */
  readonly retryAfterMs?: number;
  /** WebSocket close code for the same failure. */
  readonly wsCloseCode?: number;
  /** The underlying error, kept for logs. */
  readonly cause?: unknown;
}

function defaultType(httpStatus: number): OpenAiErrorType {
  if (httpStatus === 401) return 'authentication_error';
  if (httpStatus === 404) return 'not_found_error';
  if (httpStatus === 429) return 'rate_limit_error';
  return httpStatus >= 500 ? 'server_error' : 'invalid_request_error';
}

/** Base class of every error the gateway answers a client with. */
export class GatewayError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  /** HTTP status. */
  readonly httpStatus: number;
  /** OpenAI error type. */
  readonly type: OpenAiErrorType;
  /** The request field at fault, or null. */
  readonly param: string | null;
  /** Whether the same request may succeed later. */
  readonly retryable: boolean;
  /** Suggested wait before retrying, in ms, or undefined. */
  readonly retryAfterMs: number | undefined;
  /** WebSocket close code for the same failure (see `ws/close_codes.ts`). */
  readonly wsCloseCode: number;

  constructor(options: GatewayErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.httpStatus = options.httpStatus;
    this.type = options.type ?? defaultType(options.httpStatus);
    this.param = options.param ?? null;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.wsCloseCode =
      options.wsCloseCode ??
      (options.httpStatus >= 500
        ? this.retryable
          ? CLOSE_CODES.tryAgainLater
          : CLOSE_CODES.internalError
        : CLOSE_CODES.policyViolation);
  }
}

/** A bad request field (400). */
export class InvalidRequestError extends GatewayError {
  constructor(
    message: string,
    param: string | null = null,
    code = 'invalid_request',
    cause?: unknown,
  ) {
    super({ message, code, httpStatus: 400, param, cause });
  }
}

/** The upload is empty, or a recognised container that ffmpeg cannot decode (400). */
export class InvalidAudioError extends GatewayError {
  constructor(message: string, code = 'invalid_audio', cause?: unknown) {
    super({ message, code, httpStatus: 400, param: 'file', cause });
  }
}

/** The upload is not an audio or video container (415). */
export class UnsupportedMediaTypeError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'unsupported_media_type', httpStatus: 415, param: 'file' });
  }
}

/** The upload or download is over the size limit (413). */
export class PayloadTooLargeError extends GatewayError {
  constructor(message: string, param = 'file') {
    super({ message, code: 'file_too_large', httpStatus: 413, param });
  }
}

/** Missing or wrong API key (401). */
export class AuthenticationError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'invalid_api_key', httpStatus: 401, type: 'invalid_request_error' });
  }
}

/** Unknown route or model (404). */
export class NotFoundError extends GatewayError {
  constructor(message: string, code = 'not_found', param: string | null = null) {
    super({ message, code, httpStatus: 404, type: 'invalid_request_error', param });
  }
}

/** A plain HTTP request to a WebSocket-only endpoint (426); the route sets `Upgrade`. */
export class UpgradeRequiredError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'upgrade_required', httpStatus: 426 });
  }
}

/** The resource is not in a state that allows the request, e.g. a job's result before it is done (409). */
export class JobStateError extends GatewayError {
  constructor(message: string, code = 'job_not_ready') {
    super({ message, code, httpStatus: 409 });
  }
}

/** No worker can take the work now: none is serving, or it went away mid-request (503). */
export class WorkerUnavailableError extends GatewayError {
  constructor(message: string, retryAfterMs = 1000, cause?: unknown) {
    super({
      message,
      code: 'worker_unavailable',
      httpStatus: 503,
      retryable: true,
      retryAfterMs,
      wsCloseCode: CLOSE_CODES.tryAgainLater,
      cause,
    });
  }
}

/**
 * The worker is connected but stopped answering (hung, stopped, its host frozen): its
 * streams are failed by the pool's liveness probe (503 + Retry-After, like any lost worker).
 */
export class WorkerUnresponsiveError extends WorkerUnavailableError {
  /** @param timeoutMs How long the worker left a health check unanswered, in ms. */
  constructor(timeoutMs: number, retryAfterMs = 1000, cause?: unknown) {
    super(
      `The transcription worker stopped responding (no answer to a health check within ` +
        `${timeoutMs / 1000} s); retry shortly.`,
      retryAfterMs,
      cause,
    );
  }
}

/** The worker is at capacity (RESOURCE_EXHAUSTED) (503 + Retry-After). */
export class WorkerBusyError extends GatewayError {
  constructor(message: string, retryAfterMs = 1000, cause?: unknown) {
    super({
      message,
      code: 'worker_busy',
      httpStatus: 503,
      retryable: true,
      retryAfterMs,
      wsCloseCode: CLOSE_CODES.tryAgainLater,
      cause,
    });
  }
}

/** The work did not finish before its deadline (504). */
export class DeadlineExceededError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super({ message, code: 'deadline_exceeded', httpStatus: 504, retryable: true, cause });
  }
}

/**
 * The audio decoder (ffmpeg) stopped producing output and was killed (504): the file may
 * make it hang, or the host is overloaded.
 */
export class DecodeTimeoutError extends GatewayError {
  constructor(message: string, cause?: unknown) {
    super({ message, code: 'decode_timeout', httpStatus: 504, param: 'file', cause });
  }
}

/** A fault of ours or of the worker's engine (500). The message stays generic. */
export class InternalError extends GatewayError {
  constructor(message = 'The server had an error while processing your request.', cause?: unknown) {
    super({ message, code: 'internal_error', httpStatus: 500, cause });
  }
}

/**
 * The client went away (or cancelled) before the answer was ready. Nobody is left to answer;
 * it is logged at debug. 499 is nginx's "client closed request".
 */
export class RequestCancelledError extends GatewayError {
  constructor(message = 'The client cancelled the request.', cause?: unknown) {
    super({
      message,
      code: 'request_cancelled',
      httpStatus: 499,
      wsCloseCode: CLOSE_CODES.normal,
      cause,
    });
  }
}

/** `/transcribe/url`: the URL is malformed or not http(s) (400). */
export class InvalidUrlError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'invalid_url', httpStatus: 400, param: 'url' });
  }
}

/** `/transcribe/url`: the URL (or a redirect) points to an address we refuse to reach (400). */
export class UrlNotAllowedError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'url_not_allowed', httpStatus: 400, param: 'url' });
  }
}

/**
 * `/transcribe/url`: the remote server failed: an error status, too many redirects or an
 * unresolvable host (422), or no usable connection at all: refused, reset, timed out (502).
 */
export class RemoteFetchError extends GatewayError {
  constructor(
    message: string,
    httpStatus: 422 | 502,
    code = 'remote_fetch_failed',
    cause?: unknown,
  ) {
    super({ message, code, httpStatus, param: 'url', retryable: httpStatus === 502, cause });
  }
}

/**
 * A client went over a rate or concurrency limit (429 + `Retry-After`; OpenAI's shape for
 * rate limits: type `requests`-style `rate_limit_error`, code `rate_limit_exceeded`).
 */
export class RateLimitError extends GatewayError {
  constructor(message: string, retryAfterMs: number, code = 'rate_limit_exceeded') {
    super({
      message,
      code,
      httpStatus: 429,
      retryable: true,
      retryAfterMs,
      wsCloseCode: CLOSE_CODES.tryAgainLater,
    });
  }
}

/** The gateway as a whole is at one of its limits (503 + `Retry-After`). */
export class GatewayBusyError extends GatewayError {
  constructor(message: string, retryAfterMs: number, code = 'server_busy') {
    super({
      message,
      code,
      httpStatus: 503,
      retryable: true,
      retryAfterMs,
      wsCloseCode: CLOSE_CODES.tryAgainLater,
    });
  }
}

/** The client took too long to send its request (408). */
export class RequestTimeoutError extends GatewayError {
  constructor(message: string) {
    super({ message, code: 'request_timeout', httpStatus: 408 });
  }
}

/** Names of gRPC status codes, as in `@grpc/grpc-js`'s `status` enum. */
export type GrpcCodeName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

/** What a failed worker call turns into (see the table in transcriber.proto and DESIGN 2.2). */
export function errorFromGrpcStatus(
  code: GrpcCodeName,
  details: string,
  retryAfterMs: number | undefined,
  cause?: unknown,
): GatewayError {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return new InvalidRequestError(
        details || 'The worker rejected the request.',
        null,
        'invalid_request',
        cause,
      );
    case 'RESOURCE_EXHAUSTED':
      return new WorkerBusyError(
        'The server is at capacity; retry after the time given in Retry-After.',
        retryAfterMs ?? 1000,
        cause,
      );
    case 'UNAVAILABLE':
      return new WorkerUnavailableError(
        'The transcription worker is unavailable (not ready, restarting or gone); retry shortly.',
        retryAfterMs ?? 1000,
        cause,
      );
    case 'DEADLINE_EXCEEDED':
      return new DeadlineExceededError('The transcription did not finish in time.', cause);
    case 'CANCELLED':
      return new RequestCancelledError('The transcription was cancelled.', cause);
    case 'OK':
    case 'UNKNOWN':
    case 'NOT_FOUND':
    case 'ALREADY_EXISTS':
    case 'PERMISSION_DENIED':
    case 'FAILED_PRECONDITION':
    case 'ABORTED':
    case 'OUT_OF_RANGE':
    case 'UNIMPLEMENTED':
    case 'INTERNAL':
    case 'DATA_LOSS':
    case 'UNAUTHENTICATED':
      return new InternalError(undefined, cause);
  }
}
