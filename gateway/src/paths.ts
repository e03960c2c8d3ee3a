import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Root of the repository. This module lives two levels below it both as source
 * (`gateway/src/paths.ts`) and once built (`dist/gateway/paths.js`).
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Directory holding the `.proto` files (`stt/v1/transcriber.proto`, `grpc/health/v1/health.proto`). */
export const PROTO_DIR = path.join(REPO_ROOT, 'proto');

/** Directory that must be on `PYTHONPATH` for `python -m stt_worker`. */
export const WORKER_SOURCE_DIR = path.join(REPO_ROOT, 'worker', 'src');

/** Static files of the web page served at `/` (no build step). */
export const PUBLIC_DIR = path.join(REPO_ROOT, 'gateway', 'public');
