/**
 * Entry point, and the only module with side effects: configuration → logger → ffmpeg →
 * worker (spawned and supervised, or connected to) → servers → signal handling.
 *
 * SIGTERM/SIGINT: stop accepting, let requests finish, stop the worker (SIGTERM, up to 15 s,
 * then SIGKILL), exit 0. A second signal exits at once. SIGHUP: read the TLS certificate and
 * key again (a renewed certificate) and serve new connections with them.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import {
  createDecoder,
  FfmpegNotFoundError,
  findFfmpegStatic,
  resolveFfmpeg,
} from './audio/decode.js';
import { ConfigError, loadConfig, readTlsFiles, type GatewayConfig } from './config.js';
import { startWorkerDiscovery, type WorkerDiscovery } from './grpc/discovery.js';
import { createWorkerPool } from './grpc/pool.js';
import { createLogger, type Logger } from './logger.js';
import { createGatewayMetrics } from './metrics.js';
import { REPO_ROOT, WORKER_SOURCE_DIR } from './paths.js';
import { createGateway } from './server.js';
import { isLoopbackHost } from './net/address_policy.js';
import { systemResolve } from './net/resolve.js';
import { preparePrivateDir, UnsafeTempDirError } from './temp_dir.js';
import { createWorkerSupervisor, type WorkerSupervisor } from './worker_process.js';

const WORKER_STOP_GRACE_MS = 15_000;
const LOCAL_WORKER_ID = 'local';

/**
 * The last resort for an exception nothing handled. Every input a client controls is
 * handled where it arrives (the bad-input catalogue's tests show none gets here, see
 * docs/bad-inputs.md), so one that does is a bug: log it with its stack, then exit non-zero
 * so the supervisor (systemd, compose, Kubernetes) restarts a process whose state can no
 * longer be trusted.
 */
function installLastResortHandlers(logger: Logger): void {
  process.on('uncaughtException', (error: Error, origin: string) => {
    logger.error('uncaught exception: exiting', { origin, error: error.stack ?? error.message });
    process.exitCode = 70; // EX_SOFTWARE
    setTimeout(() => process.exit(), 100).unref();
  });
  // A promise nobody awaited failed: a bug too, but one that leaves no half-done synchronous
  // work behind, so it is logged loudly and the process serves on.
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', {
      error: reason instanceof Error ? reason.stack : String(reason),
    });
  });
}

/** Says loudly when anyone who can reach the ports may use the server without a key. */
function warnIfOpen(config: GatewayConfig, logger: Logger): void {
  if (config.apiKeys.length > 0 || isLoopbackHost(config.host)) return;
  logger.warn(
    `listening on ${config.host} without API keys: anyone who can reach ports ` +
      `${config.httpPort} and ${config.wsPort} can use this server. ` +
      'Set GATEWAY_API_KEYS, or GATEWAY_HOST=127.0.0.1 for local use only.',
  );
}

/** The gateway's version from package.json (present beside `dist/` in every install). */
async function readVersion(): Promise<string> {
  const text = await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8');
  const { version } = JSON.parse(text) as { version?: unknown };
  return typeof version === 'string' ? version : 'unknown';
}

function readConfig(): GatewayConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const loaded = readConfig();
  const logger: Logger = createLogger({ level: loaded.logLevel, isJson: !process.stdout.isTTY });
  installLastResortHandlers(logger);
  warnIfOpen(loaded, logger);

  let ffmpeg;
  try {
    ffmpeg = await resolveFfmpeg({
      configuredPath: loaded.ffmpegPath,
      staticPath: await findFfmpegStatic(),
    });
  } catch (error) {
    if (error instanceof FfmpegNotFoundError) {
      logger.error(error.message);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  logger.info('using ffmpeg', {
    path: ffmpeg.path,
    source: ffmpeg.source,
    version: ffmpeg.version,
  });

  let config: GatewayConfig;
  try {
    config = Object.freeze({
      ...loaded,
      tmpDir: await preparePrivateDir(loaded.tmpDir, loaded.isTmpDirOwned),
    });
  } catch (error) {
    if (error instanceof UnsafeTempDirError) {
      logger.error(error.message);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
  const pool = createWorkerPool({
    logger,
    keepaliveMs: config.workerKeepaliveMs,
    loadRefreshMs: config.workerLoadRefreshMs,
  });
  let supervisor: WorkerSupervisor | undefined;
  let discovery: WorkerDiscovery | undefined;
  if (config.worker.kind === 'remote') {
    const { targets, resolveIntervalMs } = config.worker;
    discovery = startWorkerDiscovery({
      targets,
      pool,
      resolve: systemResolve,
      intervalMs: resolveIntervalMs,
      logger,
    });
    logger.info('using external workers', {
      targets: targets.map((t) => (t.kind === 'dns' ? t.target : t.address)),
    });
  } else {
    const existing = config.worker.env.PYTHONPATH;
    supervisor = createWorkerSupervisor({
      worker: {
        command: config.worker.python,
        args: ['-m', 'stt_worker', '--host', '127.0.0.1', '--port', '0'],
        env: {
          ...config.worker.env,
          PYTHONPATH:
            existing === undefined || existing === ''
              ? WORKER_SOURCE_DIR
              : `${WORKER_SOURCE_DIR}:${existing}`,
          PYTHONUNBUFFERED: '1',
        },
        cwd: REPO_ROOT,
      },
      logger,
      onListening: (address) => {
        pool.upsert(LOCAL_WORKER_ID, address);
      },
      onExit: () => {
        pool.remove(LOCAL_WORKER_ID);
      },
      // Not restarted: the gateway serves on, and /health and refusals say why.
      onFailure: (failure) => {
        pool.fail(failure);
      },
    });
    supervisor.start();
    // The worker runs in its own process group; never leave it behind if we crash.
    const started = supervisor;
    process.on('exit', () => {
      started.killNow();
    });
  }

  const gateway = createGateway({
    config,
    logger,
    pool,
    decoder: createDecoder({ ffmpegPath: ffmpeg.path }),
    metrics: createGatewayMetrics({
      build: { version: await readVersion() },
      hasProcessMetrics: true,
    }),
  });

  let isShuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (isShuttingDown) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    isShuttingDown = true;
    logger.info('shutting down', { signal });
    try {
      await gateway.close();
      discovery?.stop();
      await supervisor?.stop(WORKER_STOP_GRACE_MS);
      pool.close();
      if (config.isTmpDirOwned) await rm(config.tmpDir, { recursive: true, force: true });
      logger.info('bye');
    } catch (error) {
      logger.error('error during shutdown', {
        error: error instanceof Error ? error.message : String(error),
      });
      process.exitCode = 1;
    }
    // Let winston flush, then leave even if a handle lingers.
    setTimeout(() => process.exit(), 100).unref();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      void shutdown(signal);
    });
  }
  // A renewed certificate (certbot, cert-manager) is picked up without a restart; files that
  // do not serve (half written, a key of another certificate) leave the running one in place.
  process.on('SIGHUP', () => {
    const { tls } = config;
    if (tls === undefined) {
      logger.warn('SIGHUP ignored: TLS is off (GATEWAY_TLS_CERT and GATEWAY_TLS_KEY unset)');
      return;
    }
    const files = readTlsFiles(tls.certPath, tls.keyPath);
    if (!('cert' in files)) {
      logger.error('TLS certificate not reloaded; the running one stays', {
        issues: files.issues,
      });
      return;
    }
    gateway.useTlsFiles(files);
    logger.info('TLS certificate reloaded', { cert: tls.certPath, key: tls.keyPath });
  });

  try {
    await gateway.listen();
  } catch (error) {
    logger.error('cannot listen', {
      error: error instanceof Error ? error.message : String(error),
    });
    await supervisor?.stop(WORKER_STOP_GRACE_MS);
    pool.close();
    process.exitCode = 1;
  }
}

await main();
