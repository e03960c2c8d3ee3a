import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { InvalidAudioError } from '../../../gateway/src/errors.js';
import {
  asGrpcFailure,
  retryAfterMsFrom,
  toGatewayError,
} from '../../../gateway/src/grpc/status.js';

function serviceError(code: grpc.status, details: string, metadata = new grpc.Metadata()): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata });
}

describe('toGatewayError', () => {
  it('maps grpc-js service errors by code', () => {
    const metadata = new grpc.Metadata();
    metadata.set('retry-after-ms', '1500');
    const busy = toGatewayError(serviceError(grpc.status.RESOURCE_EXHAUSTED, 'full', metadata));
    expect(busy).toMatchObject({ httpStatus: 503, code: 'worker_busy', retryAfterMs: 1500 });
    expect(toGatewayError(serviceError(grpc.status.UNAVAILABLE, 'Connection dropped')).code).toBe(
      'worker_unavailable',
    );
  });

  it('passes GatewayErrors through and turns anything else into a 500', () => {
    const audio = new InvalidAudioError('bad');
    expect(toGatewayError(audio)).toBe(audio);
    expect(toGatewayError(new Error('boom')).httpStatus).toBe(500);
    expect(toGatewayError('string').httpStatus).toBe(500);
  });
});

describe('retryAfterMsFrom', () => {
  it('reads sane values only', () => {
    const metadata = new grpc.Metadata();
    expect(retryAfterMsFrom(metadata)).toBeUndefined();
    metadata.set('retry-after-ms', 'soon');
    expect(retryAfterMsFrom(metadata)).toBeUndefined();
    metadata.set('retry-after-ms', '250');
    expect(retryAfterMsFrom(metadata)).toBe(250);
  });
});

describe('asGrpcFailure', () => {
  it('recognises only objects with a known status code', () => {
    expect(asGrpcFailure({ code: 14, details: 'x' })).toMatchObject({ code: 14, details: 'x' });
    expect(asGrpcFailure({ code: 99 })).toBeUndefined();
    expect(asGrpcFailure(null)).toBeUndefined();
  });
});
