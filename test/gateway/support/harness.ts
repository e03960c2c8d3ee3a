/**
 * Integration harness: the real gateway (same factory as production) on port 0, a fake gRPC
 * worker, a private temp directory, and helpers to post forms.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { createDecoder } from '../../../gateway/src/audio/decode.js';
import { loadConfig, type GatewayConfig } from '../../../gateway/src/config.js';
import { createWorkerPool, type WorkerPool } from '../../../gateway/src/grpc/pool.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import type { Resolver } from '../../../gateway/src/net/resolve.js';
import { createGateway, type Gateway } from '../../../gateway/src/server.js';
import type { WhisperLiveTimings } from '../../../gateway/src/ws/server.js';
import { startFakeWorker, type FakeWorker, type FakeWorkerOptions } from './fake_worker.js';

/** A running gateway with a fake worker. */
export interface Harness {
  /** `http://127.0.0.1:<port>`, `https:` with TLS configured. */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<port>` of the WhisperLive server, `wss:` with TLS configured. */
  readonly wsUrl: string;
  readonly worker: FakeWorker | undefined;
  readonly pool: WorkerPool;
  readonly tmpDir: string;
  /** `GATEWAY_DATA_DIR` (job database and audio). */
  readonly dataDir: string;
  readonly config: GatewayConfig;
  readonly gateway: Gateway;
  /** Files left in the temp directory. */
  tempFiles(): Promise<string[]>;
  /** Waits until `/health` answers `status`. */
  waitForHealth(status: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  /** Extra environment for `loadConfig`. */
  readonly env?: Record<string, string>;
  /** Fake worker options; `false` starts no worker. */
  readonly worker?: FakeWorkerOptions | false;
  /** Worker address when `worker` is false. */
  readonly workerAddress?: string;
  readonly resolve?: Resolver;
  /** WebSocket timing overrides. */
  readonly wsTimings?: Partial<WhisperLiveTimings>;
}

/** Polls `predicate` every 25 ms until it holds. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts the gateway (and a fake worker unless `worker: false`). */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'stt-gateway-test-'));
  // Job data apart from the temp dir, whose emptiness tests check.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stt-gateway-data-'));
  const worker = options.worker === false ? undefined : await startFakeWorker(options.worker ?? {});
  const config = loadConfig({
    HTTP_PORT: '0',
    PORT_WHISPERLIVE: '0',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_TMP_DIR: tmpDir,
    GATEWAY_WORKER_ADDRESS: worker?.address ?? options.workerAddress ?? '127.0.0.1:1',
    GATEWAY_DRAIN_GRACE_S: '0',
    GATEWAY_DATA_DIR: dataDir,
    ...options.env,
  });
  const logger = createSilentLogger();
  const pool = createWorkerPool({
    logger,
    keepaliveMs: config.workerKeepaliveMs,
    healthRetryMs: 100,
    maxReconnectBackoffMs: 300,
    loadRefreshMs: config.workerLoadRefreshMs,
  });
  if (config.worker.kind === 'remote') {
    for (const target of config.worker.targets) {
      if (target.kind === 'static') pool.upsert('worker', target.address);
    }
  }
  const gateway = createGateway({
    config,
    logger,
    pool,
    decoder: createDecoder({ ffmpegPath: 'ffmpeg', chunkMs: 250 }),
    drainTimeoutMs: 500,
    ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
    ...(options.wsTimings === undefined ? {} : { wsTimings: options.wsTimings }),
    jobTimings: { progressIntervalMs: 0, pollIntervalMs: 50 },
  });
  const { http, ws } = await gateway.listen();
  const secure = config.tls === undefined ? '' : 's';
  const baseUrl = `http${secure}://127.0.0.1:${http.port}`;
  const harness: Harness = {
    baseUrl,
    wsUrl: `ws${secure}://127.0.0.1:${ws.port}`,
    worker,
    pool,
    tmpDir,
    dataDir,
    config,
    gateway,
    async tempFiles() {
      return readdir(tmpDir);
    },
    async waitForHealth(status: number, timeoutMs = 10_000) {
      await waitFor(async () => (await fetch(`${baseUrl}/health`)).status === status, timeoutMs);
    },
    async close() {
      await gateway.close();
      pool.close();
      await worker?.stop();
      await rm(tmpDir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  const initialHealth =
    options.worker === false ? undefined : (options.worker?.health ?? 'SERVING');
  if (initialHealth === 'SERVING') await harness.waitForHealth(200);
  return harness;
}

/** A multipart form with `file` and text fields. */
export function audioForm(
  file: Buffer,
  filename: string,
  fields: Record<string, string | string[]> = {},
): FormData {
  const form = new FormData();
  form.append('file', new Blob([file]), filename);
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  }
  return form;
}
