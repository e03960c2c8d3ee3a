/**
 * Per-request context (id, logger, abort signal, audio length for the access log, error
 * style), kept beside the response object instead of in untyped `res.locals`.
 */
import { randomUUID } from 'node:crypto';

import type { NextFunction, Request, RequestHandler, Response } from 'express';

import type { Logger } from '../logger.js';

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

/** The context of a request; set up by {@link createContextMiddleware}, which runs first. */
export function requestContext(res: Response): RequestContext {
  const context = contexts.get(res);
  if (context === undefined) throw new Error('request context missing: middleware order');
  return context;
}

/**
 * First middleware: assigns the request id (echoed as `x-request-id`), the abort signal and
 * the access log line written when the response is done.
 */
export function createContextMiddleware(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const offered = req.get('x-request-id');
    const requestId = offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID();
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
      // Probes come every few seconds; keep them out of the info log.
      const level = PROBE_PATHS.has(req.path) && isComplete ? 'debug' : 'info';
      context.logger.log(level, 'http request', {
        method: req.method,
        path: req.path,
        status: isComplete ? res.statusCode : 499,
        latency_ms: Math.round(performance.now() - context.startedAt),
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
