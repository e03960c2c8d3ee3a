/**
 * Loads the protos once, with the options the generated types in `generated/` assume
 * (`make proto-ts` passes the same flags). Only `grpc/` imports this module.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { PROTO_DIR } from '../paths.js';
import type { ProtoGrpcType as HealthProto } from './generated/health.js';
import type { ProtoGrpcType as TranscriberProto } from './generated/transcriber.js';

/** proto-loader options; keep in step with the `proto-ts` Makefile target. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** The health service name the worker reports under (DESIGN 2.2). */
export const TRANSCRIBER_SERVICE_NAME = 'stt.v1.TranscriberService';

/** Typed package objects of both protos. */
export interface LoadedProtos {
  /** `stt.v1`. */
  readonly stt: TranscriberProto['stt']['v1'];
  /** `grpc.health.v1`. */
  readonly health: HealthProto['grpc']['health']['v1'];
}

let loaded: LoadedProtos | undefined;

/** Loads (once) and returns the typed package objects. */
export function loadProtos(): LoadedProtos {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(
      ['stt/v1/transcriber.proto', 'grpc/health/v1/health.proto'],
      PROTO_LOADER_OPTIONS,
    );
    // The generated types describe exactly what loadPackageDefinition builds from these files.
    const root = grpc.loadPackageDefinition(definition) as unknown as TranscriberProto &
      HealthProto;
    loaded = { stt: root.stt.v1, health: root.grpc.health.v1 };
  }
  return loaded;
}
