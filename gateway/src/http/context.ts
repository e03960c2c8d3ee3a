/**
 * Per-request context (id, logger, abort signal, audio length for the access log, error
 * style), kept beside the response object instead of in untyped `res.locals`.
 */
import { randomUUID } from 'node:crypto';

import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { Logger } from '../logger.js';
import { apiOfPath, rejectionOfErrorCode, type GatewayMetrics } from '../metrics.js';

/** How errors of a route are rendered. */
export type ErrorStyle = 'openai' | 'legacy';

/** What the gateway knows about one HTTP request. */
export interface RequestContext {
  /** Correlation id (`x-request-id`, accepted from the client or generated). */
  readonly requestId: string;
  /** Logger with `request_id`. */
  readonly logger: Logger;
  /** When the request arrived (`performance.now()`). */
  readonly startedAt: number;
  /** Aborts when the client disconnects before the response is complete. */
  readonly signal: AbortSignal;
  /** Error body shape. */
  errorStyle: ErrorStyle;
  /** Audio transcribed, in ms, for the access log. */
  audioMs: number | undefined;
  /** Stable error code of a failed request, for the access log. */
  errorCode: string | undefined;
}

const contexts = new WeakMap<Response, RequestContext>();

const PROBE_PATHS = new Set(['/health', '/healthz', '/readyz']);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of a request or WebSocket upgrade: the client's `x-request-id` when it is
 * one short token (letters, digits, `._:-`; so it is safe in logs and gRPC metadata),
 * otherwise a fresh UUID.
 */
export function acceptRequestId(offered: string | readonly string[] | undefined): string {
  return typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
}

/** The context of a request; set up by {@link createContextMiddleware}, which runs first. */
export function requestContext(res: Response): RequestContext {
  const context = contexts.get(res);
  if (context === undefined) throw new Error('request context missing: middleware order');
  return context;
}

/**
 * First middleware: assigns the request id (echoed as `x-request-id`), the abort signal, and
 * the access log line and request metrics written when the response is done.
 */
export function createContextMiddleware(logger: Logger, metrics: GatewayMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const requestId = acceptRequestId(req.get('x-request-id'));
    res.setHeader('x-request-id', requestId);
    const controller = new AbortController();
    const context: RequestContext = {
      requestId,
      logger: logger.child({ request_id: requestId }),
      startedAt: performance.now(),
      signal: controller.signal,
      errorStyle: 'openai',
      audioMs: undefined,
      errorCode: undefined,
    };
    contexts.set(res, context);
    res.once('close', () => {
      const isComplete = res.writableFinished;
      if (!isComplete) controller.abort();
      const status = isComplete ? res.statusCode : 499;
      const latencyMs = performance.now() - context.startedAt;
      const api = apiOfPath(req.path);
      metrics.httpRequestDone(api, status, latencyMs / 1000);
      if (context.audioMs !== undefined) metrics.audioProcessed(api, context.audioMs / 1000);
      const rejection = rejectionOfErrorCode(context.errorCode);
      if (rejection !== undefined) metrics.rejected(api, rejection);
      // Probes come every few seconds; keep them out of the info log.
      const level = PROBE_PATHS.has(req.path) && isComplete ? 'debug' : 'info';
      context.logger.log(level, 'http request', {
        method: req.method,
        path: req.path,
        status,
        latency_ms: Math.round(latencyMs),
        audio_ms: context.audioMs,
        error_code: context.errorCode,
        ...(isComplete ? {} : { client_closed: true }),
      });
    });
    next();
  };
}

/** Marks a router's errors to be rendered as `{success: false, error}` (legacy endpoints). */
export const useLegacyErrors: RequestHandler = (_req, res, next) => {
  requestContext(res).errorStyle = 'legacy';
  next();
};
