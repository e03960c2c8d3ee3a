/**
 * The express application: middleware order, routers, and the error handler last.
 *
 * Order: request context (id, abort signal, access log, metrics) → legacy error style for
 * `/transcribe*` → health, `/openapi.json` and `/metrics` (no auth, no limits) → rate limit per client address →
 * the web page and `/config.json` (no auth) → 426 for plain requests to `/v1/realtime` → authentication → rate limit per API key → upload slots → OpenAI routes → jobs → legacy routes →
 * 404 → error handler.
 */
import express, { type Express, type Router } from 'express';

import type { Decoder } from '../audio/decode.js';
import type { GatewayConfig } from '../config.js';
import type { FileTranscriptionDeps } from '../file_transcription.js';
import type { WorkerPool } from '../grpc/pool.js';
import type { Logger } from '../logger.js';
import { createConcurrencyLimit } from '../limits/concurrency.js';
import { createGatewayMetrics, type GatewayMetrics } from '../metrics.js';
import { createRateLimiter, type RateLimiter } from '../limits/rate_limit.js';
import { createAddressPolicy } from '../net/address_policy.js';
import type { Resolver } from '../net/resolve.js';
import { PUBLIC_DIR } from '../paths.js';
import { createRealtimeHttpRouter } from '../realtime/http_route.js';
import { createAuthMiddleware } from './auth.js';
import { createContextMiddleware, useLegacyErrors } from './context.js';
import { createErrorHandler, notFoundHandler } from './error_handler.js';
import { createHealthRouter } from './health.js';
import { createRateLimitMiddleware, createUploadSlotMiddleware } from './limits.js';
import { createMetricsRouter } from './metrics.js';
import { createModelsRouter } from './models.js';
import { createOpenApiRouter } from './openapi.js';
import { createLegacyRouter } from './transcribe_legacy.js';
import { createUrlRouter } from './transcribe_url.js';
import { createTranscriptionsRouter } from './transcriptions.js';
import { createUploadMiddleware } from './upload.js';
import { createWebRouter } from './web.js';

/** The configuration the HTTP app reads. */
export type HttpConfig = Pick<
  GatewayConfig,
  | 'apiKeys'
  | 'wsPort'
  | 'publicWsUrl'
  | 'maxUploadBytes'
  | 'tmpDir'
  | 'requestTimeoutMs'
  | 'urlAllowlist'
  | 'urlMaxRedirects'
  | 'urlTimeoutMs'
  | 'limits'
>;

/** Collaborators of {@link createHttpApp}. */
export interface HttpAppDeps {
  /** Configuration. */
  readonly config: HttpConfig;
  /** Root logger. */
  readonly logger: Logger;
  /** Workers. */
  readonly pool: WorkerPool;
  /** ffmpeg decoder. */
  readonly decoder: Decoder;
  /** DNS resolver for `/transcribe/url` (tests); the system's by default. */
  readonly resolve?: Resolver;
  /** Start time in Unix seconds, reported as the models' `created`. */
  readonly startedAtS?: number;
  /** Request-rate counters shared with the WebSocket server; a private one by default. */
  readonly rateLimiter?: RateLimiter;
  /** Metrics shared with the WebSocket server; a private registry by default. */
  readonly metrics?: GatewayMetrics;
  /** The WhisperLive port as bound, for the web page; `config.wsPort` by default. */
  readonly wsPort?: () => number;
  /** The jobs API (`/v1/jobs`), mounted behind authentication and the limits. */
  readonly jobsRouter?: Router;
}

/** Builds the express app (no listening; see `server.ts`). */
export function createHttpApp(deps: HttpAppDeps): Express {
  const { config, logger, pool } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const transcription: FileTranscriptionDeps = {
    pool,
    decoder: deps.decoder,
    requestTimeoutMs: config.requestTimeoutMs,
  };
  const upload = createUploadMiddleware({
    tmpDir: config.tmpDir,
    maxUploadBytes: config.maxUploadBytes,
  });

  const metrics = deps.metrics ?? createGatewayMetrics();
  app.use(createContextMiddleware(logger, metrics));
  app.use('/transcribe', useLegacyErrors);
  app.use(createHealthRouter(pool));
  app.use(createOpenApiRouter());
  app.use(createMetricsRouter(metrics));
  const { limits } = config;
  const rateLimiter =
    deps.rateLimiter ??
    createRateLimiter({
      perClientPerMinute: limits.ratePerClientPerMinute,
      perKeyPerMinute: limits.ratePerKeyPerMinute,
    });
  app.use(createRateLimitMiddleware(rateLimiter, 'client', limits.trustProxyHops));
  app.use(
    createWebRouter({
      publicDir: PUBLIC_DIR,
      wsPort: deps.wsPort ?? ((): number => config.wsPort),
      publicWsUrl: config.publicWsUrl,
      isApiKeyRequired: config.apiKeys.length > 0,
      maxUploadBytes: config.maxUploadBytes,
    }),
  );
  app.use(createRealtimeHttpRouter());
  app.use(createAuthMiddleware(config.apiKeys));
  if (config.apiKeys.length > 0) {
    app.use(createRateLimitMiddleware(rateLimiter, 'key', limits.trustProxyHops));
  }
  const uploads = createConcurrencyLimit({
    perClient: limits.maxUploadsPerClient,
    total: limits.maxUploads,
  });
  app.use(createUploadSlotMiddleware(uploads, limits.trustProxyHops));
  app.use(createModelsRouter(pool, deps.startedAtS ?? Math.floor(Date.now() / 1000)));
  app.use(createTranscriptionsRouter(upload, transcription));
  if (deps.jobsRouter !== undefined) app.use(deps.jobsRouter);
  app.use(createLegacyRouter(upload, transcription));
  app.use(
    createUrlRouter({
      ...transcription,
      tmpDir: config.tmpDir,
      maxBytes: config.maxUploadBytes,
      maxRedirects: config.urlMaxRedirects,
      timeoutMs: config.urlTimeoutMs,
      policy: createAddressPolicy(config.urlAllowlist),
      ...(deps.resolve === undefined ? {} : { resolve: deps.resolve }),
    }),
  );
  app.use(notFoundHandler);
  app.use(createErrorHandler(logger));
  return app;
}
