/**
 * The one error middleware, registered last: known errors render themselves (OpenAI shape,
 * or `{success: false, error}` on legacy routes), body-parser's client errors become 400/413,
 * anything else is logged with its stack and answered with a generic 500.
 */
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import multer from 'multer';

import {
  GatewayError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RequestCancelledError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { requestContext } from './context.js';
import { multerToGatewayError } from './upload.js';

/** The OpenAI error body. */
export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string;
  };
}

/** OpenAI's error body for a {@link GatewayError}. */
export function openAiErrorBody(error: GatewayError): OpenAiErrorBody {
  return {
    error: { message: error.message, type: error.type, param: error.param, code: error.code },
  };
}

/** Errors of express's body parsers: an HTTP status meant for the client. */
function clientHttpError(error: unknown): { status: number; message: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = 'status' in error && typeof error.status === 'number' ? error.status : undefined;
  const isExposed = 'expose' in error && error.expose === true;
  if (status === undefined || !isExposed || status < 400 || status >= 500) return undefined;
  const message = error instanceof Error ? error.message : 'Bad request';
  return { status, message };
}

/** Normalises anything thrown to a {@link GatewayError}. */
export function toHttpError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof multer.MulterError) return multerToGatewayError(error, 0);
  const client = clientHttpError(error);
  if (client !== undefined) {
    if (client.status === 413)
      return new PayloadTooLargeError('The request body is too large.', 'body');
    return new InvalidRequestError(`Invalid request body: ${client.message}`, null, 'invalid_body');
  }
  return new InternalError(undefined, error);
}

/** Sets `Retry-After` (seconds, rounded up) and `retry-after-ms` when the error has one. */
export function setRetryHeaders(res: Response, error: GatewayError): void {
  if (error.retryAfterMs === undefined) return;
  res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  res.setHeader('retry-after-ms', String(Math.round(error.retryAfterMs)));
}

/** Writes the error response in the route's style. */
export function sendError(res: Response, error: GatewayError): void {
  const context = requestContext(res);
  context.errorCode = error.code;
  setRetryHeaders(res, error);
  res.status(error.httpStatus);
  if (context.errorStyle === 'legacy') {
    res.json({ success: false, error: error.message });
  } else {
    res.json(openAiErrorBody(error));
  }
}

/** 404 for unknown routes, in the route family's style. */
export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new NotFoundError(`Unknown request URL: ${req.method} ${req.path}.`, 'unknown_url'));
}

/** Creates the error middleware. */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (thrown: unknown, _req: Request, res: Response, next: NextFunction): void => {
    const error = toHttpError(thrown);
    let log = logger;
    try {
      log = requestContext(res).logger;
    } catch {
      // Context middleware did not run (cannot happen in createHttpApp); use the root logger.
    }
    if (error instanceof RequestCancelledError) {
      log.debug('request cancelled by the client', { error_code: error.code });
    } else if (error.httpStatus >= 500 && error.httpStatus !== 503 && error.httpStatus !== 504) {
      log.error('request failed', {
        error_code: error.code,
        error: thrown instanceof Error ? thrown.message : String(thrown),
        stack: thrown instanceof Error ? thrown.stack : undefined,
        cause: error.cause instanceof Error ? error.cause.message : undefined,
      });
    } else if (error.httpStatus >= 500) {
      log.warn('request failed', { error_code: error.code, error: error.message });
    } else {
      log.info('request rejected', { error_code: error.code, error: error.message });
    }
    if (res.headersSent) {
      // Too late for a status; end the response so the client is not left waiting.
      res.destroy();
      return;
    }
    if (res.destroyed || error instanceof RequestCancelledError) {
      // Nobody is listening.
      if (!res.destroyed) res.destroy();
      return;
    }
    try {
      sendError(res, error);
    } catch (renderError) {
      next(renderError);
    }
  };
}
