/**
 * `createGateway(deps)` wires the HTTP app (with the OpenAI Realtime endpoint on its port) and
 * the WhisperLive WebSocket server to the worker pool and returns `{listen(), close()}`.
 * Nothing starts until `listen()`.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import type { Decoder } from './audio/decode.js';
import type { GatewayConfig, TlsFiles } from './config.js';
import type { WorkerPool } from './grpc/pool.js';
import { createHttpApp } from './http/app.js';
import { createJobs, type Jobs } from './jobs/service.js';
import type { JobStore } from './jobs/store.js';
import { createAddressPolicy } from './net/address_policy.js';
import {
  answerClientError,
  applyRequestLimits,
  createServer,
  useTlsFiles,
} from './http/server_limits.js';
import { createRateLimiter } from './limits/rate_limit.js';
import type { Logger } from './logger.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import type { Resolver } from './net/resolve.js';
import { createRealtimeEndpoint, type RealtimeTimings } from './realtime/server.js';
import {
  createSessionAdmission,
  createWhisperLiveServer,
  type WhisperLiveTimings,
} from './ws/server.js';

/** Collaborators of {@link createGateway}. */
export interface GatewayDeps {
  /** Configuration. */
  readonly config: GatewayConfig;
  /** Root logger. */
  readonly logger: Logger;
  /** Workers. */
  readonly pool: WorkerPool;
  /** ffmpeg decoder. */
  readonly decoder: Decoder;
  /** DNS resolver for `/transcribe/url` (tests). */
  readonly resolve?: Resolver;
  /** How long `close()` lets in-flight requests finish before cutting them, in ms. */
  readonly drainTimeoutMs?: number;
  /** WebSocket timing overrides (tests). */
  readonly wsTimings?: Partial<WhisperLiveTimings>;
  /** Realtime endpoint timing overrides (tests). */
  readonly realtimeTimings?: Partial<RealtimeTimings>;
  /** Metrics of both ports; a private registry without process metrics by default (tests). */
  readonly metrics?: GatewayMetrics;
  /** Job store to use instead of `<GATEWAY_DATA_DIR>/jobs.sqlite` (tests). */
  readonly jobStore?: JobStore;
  /** Job runner timing overrides (tests). */
  readonly jobTimings?: { readonly progressIntervalMs?: number; readonly pollIntervalMs?: number };
}

/** The gateway's servers. */
export interface Gateway {
  /** Starts listening; resolves with the bound HTTP and WebSocket addresses. */
  listen(): Promise<{ readonly http: AddressInfo; readonly ws: AddressInfo }>;
  /** The jobs feature (store, runner). */
  readonly jobs: Jobs;
  /**
   * Stops accepting, puts running jobs back in the queue, lets in-flight requests finish (up to the drain timeout), sends live
   * WebSocket sessions `DISCONNECT`, then closes.
   */
  close(): Promise<void>;
  /**
   * Serves new connections of both ports with this certificate and key (a renewed
   * certificate, on SIGHUP); open connections keep theirs. Only for a gateway made with TLS.
   */
  useTlsFiles(tls: TlsFiles): void;
}

/** Creates the gateway. */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, logger } = deps;
  const { limits } = config;
  // One set of rate counters for both ports, so switching protocol dodges nothing.
  const rateLimiter = createRateLimiter({
    perClientPerMinute: limits.ratePerClientPerMinute,
    perKeyPerMinute: limits.ratePerKeyPerMinute,
  });
  const metrics = deps.metrics ?? createGatewayMetrics();
  // The web page tells browsers this port; a configured 0 is only known once bound.
  let boundWsPort = config.wsPort;
  const jobs = createJobs({
    config: config.jobs,
    transcription: {
      pool: deps.pool,
      decoder: deps.decoder,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    logger: logger.child({ component: 'jobs' }),
    rateLimiter,
    apiKeys: config.apiKeys,
    trustProxyHops: limits.trustProxyHops,
    maxUploadBytes: config.maxUploadBytes,
    download: {
      maxRedirects: config.urlMaxRedirects,
      timeoutMs: config.urlTimeoutMs,
      policy: createAddressPolicy(config.urlAllowlist),
      ...(deps.resolve === undefined ? {} : { resolve: deps.resolve }),
    },
    ...(deps.jobStore === undefined ? {} : { store: deps.jobStore }),
    ...deps.jobTimings,
  });
  const app = createHttpApp({
    config,
    logger,
    pool: deps.pool,
    decoder: deps.decoder,
    rateLimiter,
    metrics,
    wsPort: () => boundWsPort,
    jobsRouter: jobs.router,
    ...(deps.resolve === undefined ? {} : { resolve: deps.resolve }),
  });
  const server = createServer(limits, config.tls, app);
  applyRequestLimits(server, limits);
  server.keepAliveTimeout = 5_000;
  // Live sessions of both protocols (WhisperLive's port, OpenAI Realtime here) share one limit.
  const admission = createSessionAdmission({
    maxSessions: config.wsMaxSessions,
    maxConnectionMs: config.wsMaxConnectionMs,
  });
  const realtime = createRealtimeEndpoint({
    config,
    logger: logger.child({ component: 'realtime' }),
    pool: deps.pool,
    admission,
    rateLimiter,
    metrics,
    ...(deps.realtimeTimings === undefined ? {} : { timings: deps.realtimeTimings }),
  });
  // WebSocket upgrades on the HTTP port: OpenAI Realtime sessions and job events.
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (realtime.matches(req)) realtime.handle(req, socket, head);
      else jobs.upgrade.handle(req, socket, head);
    } catch (error) {
      logger.error('job events upgrade failed', {
        error: error instanceof Error ? error.stack : String(error),
      });
      socket.destroy();
    }
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    logger.debug('http client error', { error: error.message, code: error.code });
    answerClientError(error, socket);
  });
  const whisperLive = createWhisperLiveServer({
    config,
    logger,
    pool: deps.pool,
    rateLimiter,
    metrics,
    admission,
    ...(deps.wsTimings === undefined ? {} : { timings: deps.wsTimings }),
  });

  const closeHttp = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    server.closeIdleConnections();
    const timer = setTimeout(() => {
      logger.warn('closing connections still open after the drain timeout');
      server.closeAllConnections();
    }, deps.drainTimeoutMs ?? config.drainGraceMs);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
    logger.info('http closed');
  };

  return {
    jobs,
    async listen(): Promise<{ http: AddressInfo; ws: AddressInfo }> {
      const httpAddress = await new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.httpPort, config.host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          logger.info('http listening', {
            host: address.address,
            port: address.port,
            tls: config.tls !== undefined,
          });
          resolve(address);
        });
      });
      try {
        const wsAddress = await whisperLive.listen();
        boundWsPort = wsAddress.port;
        realtime.start();
        jobs.start();
        return { http: httpAddress, ws: wsAddress };
      } catch (error) {
        await closeHttp();
        throw error;
      }
    },
    useTlsFiles(tls: TlsFiles): void {
      if (config.tls === undefined) throw new Error('the gateway was started without TLS');
      useTlsFiles(server, tls);
      whisperLive.useTlsFiles(tls);
    },
    async close(): Promise<void> {
      // Running jobs go back to the queue first, so the next start resumes them.
      await jobs.stop();
      await Promise.all([closeHttp(), whisperLive.close(), realtime.close()]);
      jobs.close();
    },
  };
}
