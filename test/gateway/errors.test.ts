import { describe, expect, it } from 'vitest';

import {
  errorFromGrpcStatus,
  GatewayError,
  InternalError,
  InvalidRequestError,
  RequestCancelledError,
  WorkerBusyError,
  WorkerUnavailableError,
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
