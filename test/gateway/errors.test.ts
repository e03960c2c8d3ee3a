import { describe, expect, it } from 'vitest';

import {
  DecodeTimeoutError,
  errorFromGrpcStatus,
  GatewayError,
  InternalError,
  InvalidRequestError,
  RequestCancelledError,
  WorkerBusyError,
  WorkerUnavailableError,
  WorkerUnresponsiveError,
  type GrpcCodeName,
} from '../../gateway/src/errors.js';

describe('errorFromGrpcStatus', () => {
  it('maps the status codes of the proto table', () => {
    const table: [GrpcCodeName, number, string, boolean][] = [
      ['INVALID_ARGUMENT', 400, 'invalid_request', false],
      ['RESOURCE_EXHAUSTED', 503, 'worker_busy', true],
      ['UNAVAILABLE', 503, 'worker_unavailable', true],
      ['DEADLINE_EXCEEDED', 504, 'deadline_exceeded', true],
      ['CANCELLED', 499, 'request_cancelled', false],
      ['INTERNAL', 500, 'internal_error', false],
      ['UNKNOWN', 500, 'internal_error', false],
      ['UNIMPLEMENTED', 500, 'internal_error', false],
    ];
    for (const [code, status, errorCode, retryable] of table) {
      const error = errorFromGrpcStatus(code, 'details', undefined);
      expect(error).toBeInstanceOf(GatewayError);
      expect([code, error.httpStatus, error.code, error.retryable]).toEqual([
        code,
        status,
        errorCode,
        retryable,
      ]);
    }
  });

  it('keeps the worker details of INVALID_ARGUMENT and hides those of INTERNAL', () => {
    expect(errorFromGrpcStatus('INVALID_ARGUMENT', 'unknown model', undefined).message).toBe(
      'unknown model',
    );
    expect(errorFromGrpcStatus('INTERNAL', 'stack trace here', undefined).message).not.toContain(
      'stack',
    );
  });

  it('carries retry-after into 503s, with a one-second default', () => {
    expect(errorFromGrpcStatus('RESOURCE_EXHAUSTED', '', 2500).retryAfterMs).toBe(2500);
    expect(errorFromGrpcStatus('UNAVAILABLE', '', undefined).retryAfterMs).toBe(1000);
  });
});

describe('GatewayError', () => {
  it('derives the OpenAI type and the WebSocket close code', () => {
    expect(new InvalidRequestError('x', 'file')).toMatchObject({
      type: 'invalid_request_error',
      param: 'file',
      wsCloseCode: 1008,
    });
    expect(new InternalError()).toMatchObject({ type: 'server_error', wsCloseCode: 1011 });
    expect(new WorkerBusyError('busy')).toMatchObject({ type: 'server_error', wsCloseCode: 1013 });
    expect(new WorkerUnavailableError('gone').name).toBe('WorkerUnavailableError');
    expect(new RequestCancelledError().httpStatus).toBe(499);
  });
});

describe('fault errors', () => {
  it('answers a hung worker like a lost one: 503, retryable, worker_unavailable', () => {
    const error = new WorkerUnresponsiveError(10_000);
    expect(error).toBeInstanceOf(WorkerUnavailableError);
    expect(error).toMatchObject({
      name: 'WorkerUnresponsiveError',
      code: 'worker_unavailable',
      httpStatus: 503,
      retryable: true,
      retryAfterMs: 1000,
      message:
        'The transcription worker stopped responding (no answer to a health check within 10 s); retry shortly.',
    });
  });

  it('answers a stalled decoder with 504 decode_timeout on the file', () => {
    expect(new DecodeTimeoutError('stalled')).toMatchObject({
      name: 'DecodeTimeoutError',
      code: 'decode_timeout',
      httpStatus: 504,
      type: 'server_error',
      param: 'file',
      retryable: false,
    });
  });
});
