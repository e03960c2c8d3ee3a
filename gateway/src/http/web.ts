/**
 * The web page: the static files of `gateway/public` at `/` (plain JavaScript modules, no
 * build step) and `GET /config.json`, what the page needs to know about this server.
 *
 * Both are served without an API key: they hold no secret, and the page asks its user for
 * the key that the API calls then carry. Unknown paths fall through to the 404 (or, with
 * keys configured, the 401) of the API routes, unchanged.
 */
import express, { Router, type Request, type Response } from 'express';

import type { GatewayConfig } from '../config.js';

/** What {@link createWebRouter} serves. */
export interface WebPageOptions {
  /** Directory of the static files (`PUBLIC_DIR`). */
  readonly publicDir: string;
  /** The WhisperLive port as bound (a configured 0 is known only after listening). */
  readonly wsPort: () => number;
  /** `GATEWAY_PUBLIC_WS_URL`, the URL the page offers instead of `ws://<host>:<port>/`. */
  readonly publicWsUrl: GatewayConfig['publicWsUrl'];
  /** Whether API calls need a key (`GATEWAY_API_KEYS` set). */
  readonly isApiKeyRequired: boolean;
  /** Largest upload, in bytes, so the page can refuse a bigger file before sending it. */
  readonly maxUploadBytes: number;
}

/** The body of `GET /config.json`. */
export interface WebConfigJson {
  /** The WhisperLive port on the page's host. */
  readonly whisperlive_port: number;
  /** `GATEWAY_PUBLIC_WS_URL` (a `ws(s)://` URL or a path on the page's host), or null. */
  readonly whisperlive_url: string | null;
  /** Whether HTTP and WebSocket calls need an API key. */
  readonly api_key_required: boolean;
  /** Largest upload, in bytes. */
  readonly max_upload_bytes: number;
}

/**
 * The page's Content-Security-Policy: its own scripts and styles only (no inline code, no
 * third-party origin), and connections to this origin plus the WhisperLive port on any
 * host (the page may be reached under several names) or the configured public URL.
 */
export function contentSecurityPolicy(wsPort: number, publicWsUrl: string | undefined): string {
  const connect = ["'self'", `ws://*:${wsPort}`, `wss://*:${wsPort}`];
  if (publicWsUrl?.startsWith('ws') === true) connect.push(new URL(publicWsUrl).origin);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers of every page response: the policy above and the usual hardening. */
function setPageHeaders(res: Response, policy: string): void {
  res.setHeader('Content-Security-Policy', policy);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'microphone=(self), camera=(), geolocation=()');
  // Revalidated on each load, so an upgraded server never runs against an old page.
  res.setHeader('Cache-Control', 'no-cache');
}

/** Creates the router of the page and its configuration. */
export function createWebRouter(options: WebPageOptions): Router {
  const router = Router();
  const policy = (): string => contentSecurityPolicy(options.wsPort(), options.publicWsUrl);
  router.get('/config.json', (_req: Request, res: Response) => {
    const body: WebConfigJson = {
      whisperlive_port: options.wsPort(),
      whisperlive_url: options.publicWsUrl ?? null,
      api_key_required: options.isApiKeyRequired,
      max_upload_bytes: options.maxUploadBytes,
    };
    setPageHeaders(res, policy());
    res.status(200).json(body);
  });
  router.use(
    express.static(options.publicDir, {
      index: 'index.html',
      // Only real files; a directory name is not answered with a redirect.
      redirect: false,
      dotfiles: 'ignore',
      etag: true,
      lastModified: true,
      cacheControl: false,
      setHeaders: (res: Response) => {
        setPageHeaders(res, policy());
      },
    }),
  );
  return router;
}
