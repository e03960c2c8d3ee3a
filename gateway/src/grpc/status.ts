/** gRPC status → {@link GatewayError}, per the table in transcriber.proto. */
import * as grpc from '@grpc/grpc-js';

import { errorFromGrpcStatus, GatewayError, type GrpcCodeName } from '../errors.js';

/** A failed gRPC call as grpc-js reports it. */
export interface GrpcFailure {
  readonly code: number;
  readonly details: string;
  readonly metadata: grpc.Metadata | undefined;
}

/** Whether `error` is a grpc-js ServiceError (or looks like one). */
export function asGrpcFailure(error: unknown): GrpcFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if (!('code' in error) || typeof error.code !== 'number') return undefined;
  if (grpc.status[error.code] === undefined) return undefined;
  const details = 'details' in error && typeof error.details === 'string' ? error.details : '';
  const metadata =
    'metadata' in error && error.metadata instanceof grpc.Metadata ? error.metadata : undefined;
  return { code: error.code, details, metadata };
}

/** The `retry-after-ms` trailing metadata value, if present and sane. */
export function retryAfterMsFrom(metadata: grpc.Metadata | undefined): number | undefined {
  const value = metadata?.get('retry-after-ms')[0];
  if (value === undefined) return undefined;
  const ms = Number(typeof value === 'string' ? value : value.toString('utf8'));
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 3_600_000) : undefined;
}

/** The name of a gRPC status code (`'UNAVAILABLE'`). */
export function grpcCodeName(code: number): GrpcCodeName {
  return grpc.status[code] as GrpcCodeName;
}

/**
 * Maps any error from a worker call to a {@link GatewayError}. GatewayErrors pass through;
 * gRPC failures follow the proto's table; anything else is an internal error.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const failure = asGrpcFailure(error);
  if (failure === undefined) {
    return errorFromGrpcStatus('INTERNAL', '', undefined, error);
  }
  return errorFromGrpcStatus(
    grpcCodeName(failure.code),
    failure.details,
    retryAfterMsFrom(failure.metadata),
    error,
  );
}
