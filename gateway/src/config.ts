/**
 * Gateway configuration: `process.env` is read here and nowhere else. `loadConfig()` parses
 * every variable, collects *all* problems and throws one {@link ConfigError} listing them, so
 * an operator fixes a deployment in one go. The result is frozen and handed to constructors.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { parseWorkerTarget, type WorkerTarget } from './grpc/targets.js';
import { parseAllowlist, type AllowlistEntry } from './net/address_policy.js';
import { REPO_ROOT } from './paths.js';

/** winston's npm log levels, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

/** A log level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How the gateway reaches its worker(s). */
export type WorkerConfig =
  | {
      /** The gateway connects to workers someone else runs. */
      readonly kind: 'remote';
      /** Each `host:port` or `dns:///host:port` entry (`GATEWAY_WORKER_ADDRESS`, comma-separated). */
      readonly targets: readonly WorkerTarget[];
      /** How often `dns:///` targets are resolved again, in ms (`GATEWAY_WORKER_RESOLVE_S`). */
      readonly resolveIntervalMs: number;
    }
  | {
      /** The gateway spawns and supervises one local worker. */
      readonly kind: 'spawn';
      /** Python interpreter that runs `-m stt_worker` (`GATEWAY_WORKER_PYTHON`). */
      readonly python: string;
      /**
       * Environment of the worker: the gateway's own environment without `GATEWAY_*`
       * (so `FASTERWHISPER_MODEL`, `OMP_NUM_THREADS`, `WORKER_*`, `HOME`, ... pass through).
       */
      readonly env: Readonly<Record<string, string>>;
    };

/** The validated, frozen gateway configuration. */
export interface GatewayConfig {
  /** Interface the HTTP and WebSocket servers bind (`GATEWAY_HOST`). */
  readonly host: string;
  /** HTTP port (`HTTP_PORT`). */
  readonly httpPort: number;
  /** WhisperLive WebSocket port (`PORT_WHISPERLIVE`); used by the WebSocket server. */
  readonly wsPort: number;
  /**
   * The WhisperLive URL the web page offers (`GATEWAY_PUBLIC_WS_URL`): an absolute `ws://`
   * or `wss://` URL, or a path (`/ws`) on the page's own host, for a reverse proxy in front
   * of the WebSocket port; undefined: the page's host at {@link wsPort}.
   */
  readonly publicWsUrl: string | undefined;
  /**
   * WhisperLive sessions served at once, an outer bound (`GATEWAY_WS_MAX_SESSIONS`): the
   * workers admit live sessions by their measured capacity and answer `WAIT` long before
   * this on small machines; more than this get `WAIT` from the gateway itself.
   */
  readonly wsMaxSessions: number;
  /** Longest WhisperLive session, in ms; then `DISCONNECT` (`GATEWAY_WS_MAX_CONNECTION_TIME_S`). */
  readonly wsMaxConnectionMs: number;
  /**
   * Audio a WhisperLive session may have waiting for the worker, in ms of audio; more closes
   * the session (`GATEWAY_WS_MAX_PENDING_AUDIO_S`).
   */
  readonly wsMaxPendingAudioMs: number;
  /** How long a new session waits for the worker to accept it, in ms (`GATEWAY_WS_READY_TIMEOUT_S`). */
  readonly wsReadyTimeoutMs: number;
  /**
   * How long a session waits after `END_OF_AUDIO` for the worker's last results, in ms
   * (`GATEWAY_WS_FLUSH_TIMEOUT_S`).
   */
  readonly wsFlushTimeoutMs: number;
  /** Worker connection. */
  readonly worker: WorkerConfig;
  /**
   * On SIGTERM, how long live sessions and file requests may run on before they are closed
   * (`DISCONNECT`) or cut, in ms (`GATEWAY_DRAIN_GRACE_S`). No new work is taken meanwhile.
   */
  readonly drainGraceMs: number;
  /** Keepalive ping interval on worker channels, in ms (`GATEWAY_WORKER_KEEPALIVE_S`). */
  readonly workerKeepaliveMs: number;
  /**
   * How often each SERVING worker's load is re-read with `GetWorkerInfo`, in ms; 0 reads it
   * only when the worker starts serving (`GATEWAY_WORKER_LOAD_REFRESH_MS`).
   */
  readonly workerLoadRefreshMs: number;
  /** Largest accepted upload or download, in bytes (`GATEWAY_MAX_UPLOAD_BYTES`). */
  readonly maxUploadBytes: number;
  /**
   * Directory for uploads and downloads in flight (`GATEWAY_TMP_DIR`, made private at
   * start-up). When not configured, the prefix of the private directory the gateway makes
   * with `mkdtemp` at start-up (`<system tmp>/stt-gateway-<pid>-XXXXXX`).
   */
  readonly tmpDir: string;
  /** True when `tmpDir` is the per-process default, which the gateway removes on exit. */
  readonly isTmpDirOwned: boolean;
  /** Deadline of one file transcription (decode + worker), in ms (`GATEWAY_REQUEST_TIMEOUT_S`). */
  readonly requestTimeoutMs: number;
  /** Hosts and ranges `/transcribe/url` may reach although not public (`GATEWAY_URL_ALLOWLIST`). */
  readonly urlAllowlist: readonly AllowlistEntry[];
  /** Redirects `/transcribe/url` follows (`GATEWAY_URL_MAX_REDIRECTS`). */
  readonly urlMaxRedirects: number;
  /** Time limit of one `/transcribe/url` download, in ms (`GATEWAY_URL_TIMEOUT_S`). */
  readonly urlTimeoutMs: number;
  /** Accepted bearer tokens; empty means no authentication (`GATEWAY_API_KEYS`). */
  readonly apiKeys: readonly string[];
  /** ffmpeg binary named by the operator (`FFMPEG_PATH`), or undefined. */
  readonly ffmpegPath: string | undefined;
  /** Log level (`LOG_LEVEL`). */
  readonly logLevel: LogLevel;
  /** Limits that keep one client from taking what others need. */
  readonly limits: ClientLimits;
  /** Background jobs (`/v1/jobs`). */
  readonly jobs: JobsConfig;
  /** OpenAI Realtime transcription sessions (`/v1/realtime` on the HTTP port). */
  readonly realtime: RealtimeSettings;
  /**
   * Certificate and key both ports serve (HTTPS and `wss:`), read once at start-up
   * (`GATEWAY_TLS_CERT`, `GATEWAY_TLS_KEY`); undefined: plain HTTP and `ws:`.
   */
  readonly tls: TlsFiles | undefined;
}

/** A certificate (chain) and its private key, PEM, checked to belong together. */
export interface TlsFiles {
  /** `GATEWAY_TLS_CERT`: where the certificate was read from. */
  readonly certPath: string;
  /** `GATEWAY_TLS_KEY`: where the key was read from. */
  readonly keyPath: string;
  /** The certificate, leaf first then any intermediates. */
  readonly cert: Buffer;
  /** The private key. */
  readonly key: Buffer;
}

/**
 * Limits of OpenAI Realtime transcription sessions. They also share the WhisperLive limits:
 * the session count (`GATEWAY_WS_MAX_SESSIONS` counts both), connections per client,
 * allowed origins, pending audio and the worker's ready timeout.
 */
export interface RealtimeSettings {
  /** Longest session, in ms; then an `error` event and the close (`GATEWAY_REALTIME_MAX_SESSION_S`). */
  readonly maxSessionMs: number;
  /** A session without client events this long is closed, in ms (`GATEWAY_REALTIME_IDLE_TIMEOUT_S`). */
  readonly idleTimeoutMs: number;
  /** Largest client event, in bytes (`GATEWAY_REALTIME_MAX_EVENT_BYTES`). */
  readonly maxEventBytes: number;
}

/** Settings of the jobs API, its store and its runner. */
export interface JobsConfig {
  /**
   * Directory of the job database (`jobs.sqlite`) and job audio (`GATEWAY_DATA_DIR`; default
   * `<repo>/data`, a volume in the containers). Made private (0700).
   */
  readonly dataDir: string;
  /** Jobs transcribed at once (`GATEWAY_JOBS_MAX_RUNNING`). */
  readonly maxRunning: number;
  /** Jobs that may wait in the queue; more are refused with 503 (`GATEWAY_JOBS_MAX_QUEUED`). */
  readonly maxQueued: number;
  /** How long finished jobs and their results are kept, in ms (`GATEWAY_JOBS_RETENTION_S`). */
  readonly retentionMs: number;
  /** Job audio kept on disk at most, in bytes; more is refused with 503 (`GATEWAY_JOBS_MAX_DISK_BYTES`). */
  readonly maxDiskBytes: number;
  /** Time limit of one webhook attempt, in ms (`GATEWAY_JOBS_WEBHOOK_TIMEOUT_S`). */
  readonly webhookTimeoutMs: number;
}

/**
 * Per-client and per-request limits of both ports (see the README's "Limits" table). Every
 * count or rate of 0 switches that limit off.
 */
export interface ClientLimits {
  /** Longest time to receive a request's headers, in ms (`GATEWAY_HEADERS_TIMEOUT_S`). */
  readonly headersTimeoutMs: number;
  /** Largest request head (request line + headers), in bytes (`GATEWAY_MAX_HEADER_BYTES`). */
  readonly maxHeaderBytes: number;
  /** Longest time to receive a whole request, body included, in ms (`GATEWAY_UPLOAD_TIMEOUT_S`). */
  readonly uploadTimeoutMs: number;
  /** Uploads (and URL downloads) in flight at once, all clients (`GATEWAY_MAX_UPLOADS`). */
  readonly maxUploads: number;
  /** Uploads in flight at once from one client address (`GATEWAY_MAX_UPLOADS_PER_CLIENT`). */
  readonly maxUploadsPerClient: number;
  /** WebSocket connections open at once from one client address (`GATEWAY_WS_MAX_CONNECTIONS_PER_CLIENT`). */
  readonly wsMaxConnectionsPerClient: number;
  /** How long a new WebSocket may take to send its options message, in ms (`GATEWAY_WS_OPTIONS_TIMEOUT_S`). */
  readonly wsOptionsTimeoutMs: number;
  /** Largest WebSocket frame (audio or options), in bytes (`GATEWAY_WS_MAX_FRAME_BYTES`). */
  readonly wsMaxFrameBytes: number;
  /**
   * Requests (HTTP requests and WebSocket connections, probes excepted) one client address
   * may start per minute (`GATEWAY_RATE_LIMIT_PER_CLIENT`).
   */
  readonly ratePerClientPerMinute: number;
  /** Requests one API key may start per minute (`GATEWAY_RATE_LIMIT_PER_KEY`). */
  readonly ratePerKeyPerMinute: number;
  /**
   * `Origin`s a browser WebSocket may come from (`GATEWAY_WS_ALLOWED_ORIGINS`); empty allows
   * every origin. Clients that send no `Origin` (non-browsers) are not affected.
   */
  readonly wsAllowedOrigins: readonly string[];
  /**
   * Reverse proxies in front of the gateway whose `X-Forwarded-For` entries are trusted when
   * telling clients apart (`GATEWAY_TRUST_PROXY_HOPS`); 0 uses the socket's address.
   */
  readonly trustProxyHops: number;
}

/** Thrown by {@link loadConfig} with every problem found. */
export class ConfigError extends Error {
  /** One line per invalid variable. */
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Defaults that depend on the machine; injectable for tests. */
export interface ConfigDefaults {
  /** Repository root (for `<repo>/.venv/bin/python`). */
  readonly repoRoot: string;
  /** System temp directory. */
  readonly systemTmpDir: string;
  /** Process id, to make the default temp directory per process. */
  readonly pid: number;
}

const DEFAULTS: ConfigDefaults = {
  repoRoot: REPO_ROOT,
  systemTmpDir: os.tmpdir(),
  pid: process.pid,
};

type Env = Readonly<Record<string, string | undefined>>;

class EnvReader {
  readonly issues: string[] = [];
  readonly #env: Env;

  constructor(env: Env) {
    this.#env = env;
  }

  /** The trimmed value, or undefined when unset or blank. */
  raw(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.issues.push(
        `${name}=${JSON.stringify(value)}: expected an integer from ${min} to ${max}`,
      );
      return fallback;
    }
    return Number(value);
  }

  seconds(name: string, fallbackS: number, minS: number, maxS: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallbackS * 1000;
    const parsed = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || parsed < minS || parsed > maxS) {
      this.issues.push(
        `${name}=${JSON.stringify(value)}: expected seconds from ${minS} to ${maxS}`,
      );
      return fallbackS * 1000;
    }
    return Math.round(parsed * 1000);
  }

  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
}

/**
 * `GATEWAY_WS_ALLOWED_ORIGINS`: comma-separated origins (`scheme://host[:port]`, compared
 * exactly after lower-casing); `*` or nothing allows every origin.
 */
function parseOrigins(reader: EnvReader): string[] {
  const origins: string[] = [];
  for (const item of reader.list('GATEWAY_WS_ALLOWED_ORIGINS')) {
    if (item === '*') return [];
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      url.origin === 'null' ||
      url.origin !== item.replace(/\/$/, '').toLowerCase()
    ) {
      reader.issues.push(
        `GATEWAY_WS_ALLOWED_ORIGINS: '${item}' is not an origin (scheme://host[:port], no path)`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  return origins;
}

/** `GATEWAY_PUBLIC_WS_URL`: a `ws:`/`wss:` URL or an absolute path; undefined when unset. */
function parsePublicWsUrl(reader: EnvReader): string | undefined {
  const value = reader.raw('GATEWAY_PUBLIC_WS_URL');
  if (value === undefined) return undefined;
  if (/^\/(?!\/)\S*$/.test(value)) return value;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'ws:' && url.protocol !== 'wss:')) {
    reader.issues.push(
      `GATEWAY_PUBLIC_WS_URL=${JSON.stringify(value)}: expected a ws:// or wss:// URL or a path such as /ws`,
    );
    return undefined;
  }
  return url.href;
}

/** The file a `GATEWAY_TLS_*` variable names, or an issue saying why it cannot be read. */
function readPem(name: string, file: string): Buffer | string {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return `${name}=${JSON.stringify(file)}: cannot read the file (${code})`;
  }
}

/**
 * `GATEWAY_TLS_CERT` and `GATEWAY_TLS_KEY`: both or neither, read by {@link readTlsFiles}.
 */
function parseTls(reader: EnvReader): TlsFiles | undefined {
  const certPath = reader.raw('GATEWAY_TLS_CERT');
  const keyPath = reader.raw('GATEWAY_TLS_KEY');
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    const [set, unset] =
      certPath === undefined
        ? ['GATEWAY_TLS_KEY', 'GATEWAY_TLS_CERT']
        : ['GATEWAY_TLS_CERT', 'GATEWAY_TLS_KEY'];
    reader.issues.push(
      `${set} is set but ${unset} is not: set both (PEM certificate and key) to serve HTTPS and wss:, or neither`,
    );
    return undefined;
  }
  const files = readTlsFiles(certPath, keyPath);
  if (!('cert' in files)) {
    reader.issues.push(...files.issues);
    return undefined;
  }
  return files;
}

/**
 * The certificate and key at these paths, or why they cannot serve. Each file is read and
 * handed to OpenSSL, alone and then together, so a wrong file is named (at start-up: before
 * anything listens; on a reload: before the running certificate is replaced) and a key that
 * belongs to another certificate is caught too.
 */
export function readTlsFiles(
  certPath: string,
  keyPath: string,
): TlsFiles | { readonly issues: readonly string[] } {
  const issues: string[] = [];
  const cert = readPem('GATEWAY_TLS_CERT', certPath);
  const key = readPem('GATEWAY_TLS_KEY', keyPath);
  const openssl = (options: tls.SecureContextOptions): string | undefined => {
    try {
      tls.createSecureContext(options);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  };
  if (typeof cert === 'string') issues.push(cert);
  else {
    const problem = openssl({ cert });
    if (problem !== undefined) {
      issues.push(
        `GATEWAY_TLS_CERT=${JSON.stringify(certPath)}: not a PEM certificate (${problem})`,
      );
    }
  }
  if (typeof key === 'string') issues.push(key);
  else {
    const problem = openssl({ key });
    if (problem !== undefined) {
      issues.push(
        `GATEWAY_TLS_KEY=${JSON.stringify(keyPath)}: not a PEM private key without a passphrase (${problem})`,
      );
    }
  }
  if (issues.length > 0 || typeof cert === 'string' || typeof key === 'string') {
    return { issues };
  }
  const problem = openssl({ cert, key });
  if (problem !== undefined) {
    return {
      issues: [
        `GATEWAY_TLS_KEY=${JSON.stringify(keyPath)}: not the key of the certificate ` +
          `GATEWAY_TLS_CERT=${JSON.stringify(certPath)} (${problem})`,
      ],
    };
  }
  return Object.freeze({ certPath, keyPath, cert, key });
}

/** Default `GATEWAY_REALTIME_MAX_EVENT_BYTES`: 15 MiB of audio as base64 and its event. */
const DEFAULT_REALTIME_MAX_EVENT_BYTES = Math.ceil((15 * 2 ** 20) / 3) * 4 + 65_536;

/** Shortest non-zero `GATEWAY_WORKER_LOAD_REFRESH_MS`: faster polling only loads the worker. */
const MIN_LOAD_REFRESH_MS = 50;

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * Parses the environment into a frozen {@link GatewayConfig}.
 *
 * @param env - the environment; `process.env` when omitted.
 * @param defaults - machine-dependent defaults (tests pass their own).
 * @throws ConfigError listing every invalid variable.
 */
export function loadConfig(
  env: Env = process.env,
  defaults: ConfigDefaults = DEFAULTS,
): GatewayConfig {
  const reader = new EnvReader(env);
  const { issues } = reader;

  const httpPort = reader.integer('HTTP_PORT', 8080, 0, 65535);
  const wsPort = reader.integer('PORT_WHISPERLIVE', 5050, 0, 65535);
  const host = reader.string('GATEWAY_HOST', '0.0.0.0');
  const publicWsUrl = parsePublicWsUrl(reader);
  const wsMaxSessions = reader.integer('GATEWAY_WS_MAX_SESSIONS', 64, 1, 10_000);
  const wsMaxConnectionMs = reader.seconds('GATEWAY_WS_MAX_CONNECTION_TIME_S', 600, 1, 86_400);
  const wsMaxPendingAudioMs = reader.seconds('GATEWAY_WS_MAX_PENDING_AUDIO_S', 10, 1, 300);
  const wsReadyTimeoutMs = reader.seconds('GATEWAY_WS_READY_TIMEOUT_S', 30, 1, 600);
  const wsFlushTimeoutMs = reader.seconds('GATEWAY_WS_FLUSH_TIMEOUT_S', 60, 1, 3600);

  // Passed to the spawned worker untouched; validated here so a typo fails fast.
  reader.integer('OMP_NUM_THREADS', 0, 1, 1024);

  const targets: WorkerTarget[] = [];
  for (const entry of reader.list('GATEWAY_WORKER_ADDRESS')) {
    const target = parseWorkerTarget(entry);
    if ('error' in target) issues.push(`GATEWAY_WORKER_ADDRESS: ${target.error}`);
    else targets.push(target);
  }
  const resolveIntervalMs = reader.seconds('GATEWAY_WORKER_RESOLVE_S', 5, 1, 3600);
  const python = reader.string(
    'GATEWAY_WORKER_PYTHON',
    path.join(defaults.repoRoot, '.venv', 'bin', 'python'),
  );
  const workerEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('GATEWAY_')) workerEnv[name] = value;
  }
  const worker: WorkerConfig =
    targets.length > 0
      ? { kind: 'remote', targets: Object.freeze(targets), resolveIntervalMs }
      : { kind: 'spawn', python, env: Object.freeze(workerEnv) };

  const drainGraceMs = reader.seconds('GATEWAY_DRAIN_GRACE_S', 30, 0, 3600);
  const workerKeepaliveMs = reader.seconds('GATEWAY_WORKER_KEEPALIVE_S', 30, 10, 86400);
  const workerLoadRefreshMs = reader.integer('GATEWAY_WORKER_LOAD_REFRESH_MS', 2000, 0, 3_600_000);
  if (workerLoadRefreshMs > 0 && workerLoadRefreshMs < MIN_LOAD_REFRESH_MS) {
    issues.push(
      `GATEWAY_WORKER_LOAD_REFRESH_MS=${JSON.stringify(reader.raw('GATEWAY_WORKER_LOAD_REFRESH_MS'))}: ` +
        `expected 0 (off) or an integer from ${MIN_LOAD_REFRESH_MS} to 3600000`,
    );
  }
  const maxUploadBytes = reader.integer('GATEWAY_MAX_UPLOAD_BYTES', 104_857_600, 1, 2 ** 40);
  const configuredTmp = reader.raw('GATEWAY_TMP_DIR');
  const tmpDir =
    configuredTmp === undefined
      ? path.join(defaults.systemTmpDir, `stt-gateway-${defaults.pid}`)
      : path.resolve(configuredTmp);
  const requestTimeoutMs = reader.seconds('GATEWAY_REQUEST_TIMEOUT_S', 1800, 1, 86400);

  const allowlist = parseAllowlist(reader.list('GATEWAY_URL_ALLOWLIST'));
  for (const error of allowlist.errors) issues.push(`GATEWAY_URL_ALLOWLIST: ${error}`);
  const urlMaxRedirects = reader.integer('GATEWAY_URL_MAX_REDIRECTS', 5, 0, 20);
  const urlTimeoutMs = reader.seconds('GATEWAY_URL_TIMEOUT_S', 120, 1, 3600);

  const apiKeys = reader.list('GATEWAY_API_KEYS');
  const ffmpegPath = reader.raw('FFMPEG_PATH');

  const level = (reader.raw('LOG_LEVEL') ?? 'info').toLowerCase();
  const logLevel: LogLevel = isLogLevel(level) ? level : 'info';
  if (!isLogLevel(level)) {
    issues.push(`LOG_LEVEL=${JSON.stringify(level)}: expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const limits: ClientLimits = Object.freeze({
    headersTimeoutMs: reader.seconds('GATEWAY_HEADERS_TIMEOUT_S', 20, 1, 600),
    maxHeaderBytes: reader.integer('GATEWAY_MAX_HEADER_BYTES', 16_384, 1024, 1_048_576),
    uploadTimeoutMs: reader.seconds('GATEWAY_UPLOAD_TIMEOUT_S', 600, 1, 86_400),
    maxUploads: reader.integer('GATEWAY_MAX_UPLOADS', 64, 0, 100_000),
    maxUploadsPerClient: reader.integer('GATEWAY_MAX_UPLOADS_PER_CLIENT', 8, 0, 100_000),
    wsMaxConnectionsPerClient: reader.integer(
      'GATEWAY_WS_MAX_CONNECTIONS_PER_CLIENT',
      32,
      0,
      100_000,
    ),
    wsOptionsTimeoutMs: reader.seconds('GATEWAY_WS_OPTIONS_TIMEOUT_S', 10, 1, 600),
    wsMaxFrameBytes: reader.integer('GATEWAY_WS_MAX_FRAME_BYTES', 1_048_576, 65_536, 16_777_216),
    ratePerClientPerMinute: reader.integer('GATEWAY_RATE_LIMIT_PER_CLIENT', 600, 0, 1_000_000),
    ratePerKeyPerMinute: reader.integer('GATEWAY_RATE_LIMIT_PER_KEY', 1200, 0, 1_000_000),
    wsAllowedOrigins: Object.freeze(parseOrigins(reader)),
    trustProxyHops: reader.integer('GATEWAY_TRUST_PROXY_HOPS', 0, 0, 10),
  });

  const configuredData = reader.raw('GATEWAY_DATA_DIR');
  const jobs: JobsConfig = Object.freeze({
    dataDir: path.resolve(configuredData ?? path.join(defaults.repoRoot, 'data')),
    maxRunning: reader.integer('GATEWAY_JOBS_MAX_RUNNING', 1, 1, 256),
    maxQueued: reader.integer('GATEWAY_JOBS_MAX_QUEUED', 1000, 1, 1_000_000),
    retentionMs: reader.seconds('GATEWAY_JOBS_RETENTION_S', 604_800, 60, 31_536_000),
    maxDiskBytes: reader.integer('GATEWAY_JOBS_MAX_DISK_BYTES', 10 * 2 ** 30, 1, 2 ** 50),
    webhookTimeoutMs: reader.seconds('GATEWAY_JOBS_WEBHOOK_TIMEOUT_S', 10, 1, 300),
  });

  const realtime: RealtimeSettings = Object.freeze({
    maxSessionMs: reader.seconds('GATEWAY_REALTIME_MAX_SESSION_S', 1800, 1, 86_400),
    idleTimeoutMs: reader.seconds('GATEWAY_REALTIME_IDLE_TIMEOUT_S', 120, 1, 3600),
    // OpenAI allows 15 MiB of audio per append: 20 MiB as base64, plus the JSON around it.
    maxEventBytes: reader.integer(
      'GATEWAY_REALTIME_MAX_EVENT_BYTES',
      DEFAULT_REALTIME_MAX_EVENT_BYTES,
      65_536,
      67_108_864,
    ),
  });

  const tlsFiles = parseTls(reader);

  if (issues.length > 0) throw new ConfigError(issues);

  return Object.freeze({
    host,
    httpPort,
    wsPort,
    publicWsUrl,
    wsMaxSessions,
    wsMaxConnectionMs,
    wsMaxPendingAudioMs,
    wsReadyTimeoutMs,
    wsFlushTimeoutMs,
    worker: Object.freeze(worker),
    drainGraceMs,
    workerKeepaliveMs,
    workerLoadRefreshMs,
    maxUploadBytes,
    tmpDir,
    isTmpDirOwned: configuredTmp === undefined,
    requestTimeoutMs,
    urlAllowlist: Object.freeze(allowlist.entries),
    urlMaxRedirects,
    urlTimeoutMs,
    apiKeys: Object.freeze(apiKeys),
    ffmpegPath,
    logLevel,
    limits,
    jobs,
    realtime,
    tls: tlsFiles,
  });
}
