/**
 * Supervisor of the local worker process (used when `GATEWAY_WORKER_ADDRESS` is unset).
 *
 * It runs `<python> -m stt_worker --host 127.0.0.1 --port 0`, reads the `listening` line
 * the worker prints on stdout to learn its port, forwards the worker's JSON log lines
 * (stderr) into our logger at their own level, restarts the worker with backoff
 * (1 s, 2 s, 4 s ... 30 s) when it exits unexpectedly, and stops it with SIGTERM, then
 * SIGKILL after a grace period.
 *
 * A worker that cannot run as configured (a missing runtime, a wrong model directory, an
 * unknown device, a model it cannot download) prints a `fatal` line with the reason on
 * stdout and exits with 78 (EX_CONFIG). Starting it again would fail the same way, so it is
 * not restarted: the supervisor logs the message once and reports it (`onFailure`,
 * `failure`), and the gateway's `/health` gives it until the configuration is fixed.
 *
 * A gateway killed with SIGKILL (or by the OOM killer) cannot stop its worker, and the worker
 * runs in its own process group, so it would live on, holding a model in memory, beside the
 * worker of the next gateway. On Linux the worker is therefore started through
 * `setpriv --pdeathsig KILL` (util-linux, present on Debian and its images): the kernel
 * kills it when the gateway dies. Where `setpriv` is missing the worker is started directly
 * and the gateway says so at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createInterface } from 'node:readline';

import { failureReason, type WorkerFailure } from './grpc/pool.js';
import type { Logger } from './logger.js';

/** The worker's exit code for a configuration error (EX_CONFIG of sysexits.h). */
export const EX_CONFIG = 78;

/** How to start the worker. */
export interface WorkerCommand {
  /** Executable (the Python interpreter). */
  readonly command: string;
  /** Arguments. */
  readonly args: readonly string[];
  /** Full environment of the child. */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory. */
  readonly cwd: string;
}

/** Options of {@link createWorkerSupervisor}. */
export interface WorkerSupervisorOptions {
  /** What to run. */
  readonly worker: WorkerCommand;
  /** Logger; worker lines are logged with `worker: 'local'`. */
  readonly logger: Logger;
  /** Called with `host:port` each time a (re)started worker is listening. */
  readonly onListening: (address: string) => void;
  /** Called when the worker process is gone (crashed or stopped). */
  readonly onExit?: () => void;
  /** Called (after `onExit`) when the worker failed for good and is not restarted. */
  readonly onFailure?: (failure: WorkerFailure) => void;
  /** Restart delays, in ms; the last one repeats (default 1 s, 2 s, 4 s, 8 s, 16 s, 30 s). */
  readonly backoffMs?: readonly number[];
  /** A worker that ran this long resets the backoff, in ms (default 60 s). */
  readonly stableAfterMs?: number;
  /** Longest wait for the `listening` line before the worker is killed, in ms (default 120 s). */
  readonly startTimeoutMs?: number;
  /**
   * Whether the worker dies with the gateway even when the gateway is SIGKILLed (through
   * `setpriv --pdeathsig KILL`, when found; default true).
   */
  readonly diesWithGateway?: boolean;
}

/**
 * Where the worker is: `starting` (spawned, no `listening` line yet), `listening`,
 * `restarting` (waiting out the backoff after an unexpected exit), `failed` (configuration
 * error: not restarted, see `failure`), `stopped` (not started, or stopped).
 */
export type WorkerProcessState = 'starting' | 'listening' | 'restarting' | 'failed' | 'stopped';

/** The running supervisor. */
export interface WorkerSupervisor {
  /** Starts the worker (and keeps it running). */
  start(): void;
  /** SIGTERM, wait up to `graceMs`, SIGKILL; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILLs the worker now, synchronously (for the process 'exit' hook after a crash). */
  killNow(): void;
  /** Process id of the current worker, if one runs. */
  readonly pid: number | undefined;
  /** Where the worker is. */
  readonly state: WorkerProcessState;
  /** Why the worker is `failed`; undefined in every other state. */
  readonly failure: WorkerFailure | undefined;
}

/** The `listening` line the worker prints on stdout. */
export interface ListeningEvent {
  readonly address: string;
  readonly port: number;
}

/** One of the worker's stdout event lines (`{"event": name, ...}`); undefined otherwise. */
function parseEventLine(line: string, name: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const event = parsed as Record<string, unknown>;
  return event.event === name ? event : undefined;
}

/** Parses the worker's stdout `listening` line; undefined for any other line. */
export function parseListeningLine(line: string): ListeningEvent | undefined {
  const parsed = parseEventLine(line, 'listening');
  if (parsed === undefined) return undefined;
  const port = typeof parsed.port === 'number' ? parsed.port : undefined;
  const address = typeof parsed.address === 'string' ? parsed.address : undefined;
  if (port === undefined || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { address: address ?? `127.0.0.1:${port}`, port };
}

/**
 * Parses the worker's stdout `fatal` line,
 * `{"event": "fatal", "reason": "configuration", "message": "..."}`; undefined for any
 * other line (other reasons included: only a configuration error stops the restarts).
 */
export function parseFatalLine(line: string): WorkerFailure | undefined {
  const parsed = parseEventLine(line, 'fatal');
  if (parsed?.reason !== 'configuration') return undefined;
  const message = parsed.message;
  if (typeof message !== 'string' || message.trim() === '') return undefined;
  return { reason: 'configuration', message };
}

/** A worker log line mapped to our logger. */
export interface WorkerLogLine {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

const LEVELS: Readonly<Record<string, WorkerLogLine['level']>> = {
  critical: 'error',
  fatal: 'error',
  error: 'error',
  warning: 'warn',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  notset: 'debug',
};

/**
 * Maps one stderr line of the worker. JSON lines keep their fields and level
 * (`level`/`levelname`, `msg`/`message`; the worker's own timestamp is dropped for ours);
 * anything else (a traceback, a library's print) is
 * logged as a warning line by line.
 */
export function parseWorkerLogLine(line: string): WorkerLogLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { level: 'warn', message: line, fields: {} };
  }
  const fields: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
  const rawLevel = fields.level ?? fields.levelname;
  const message = fields.message ?? fields.msg ?? fields.event ?? '';
  for (const key of [
    'level',
    'levelname',
    'message',
    'msg',
    'ts',
    'timestamp',
    'time',
    'asctime',
  ]) {
    Reflect.deleteProperty(fields, key);
  }
  const level = typeof rawLevel === 'string' ? (LEVELS[rawLevel.toLowerCase()] ?? 'info') : 'info';
  return {
    level,
    message: typeof message === 'string' ? message : JSON.stringify(message),
    fields,
  };
}

const DEFAULT_BACKOFF_MS = [1000, 2000, 4000, 8000, 16000, 30000] as const;

/** Where util-linux installs `setpriv`. */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'] as const;

/** The `setpriv` binary, if this is Linux and it is installed. */
export function findSetpriv(candidates: readonly string[] = SETPRIV_PATHS): string | undefined {
  if (process.platform !== 'linux') return undefined;
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next one.
    }
  }
  return undefined;
}

/**
 * The command line that starts the worker: through `setpriv --pdeathsig KILL` when given
 * (setpriv sets the signal and execs the worker, so the pid stays the worker's).
 */
export function workerSpawnArgs(
  worker: WorkerCommand,
  setpriv: string | undefined,
): { readonly command: string; readonly args: readonly string[] } {
  if (setpriv === undefined) return { command: worker.command, args: worker.args };
  return { command: setpriv, args: ['--pdeathsig', 'KILL', '--', worker.command, ...worker.args] };
}

/** How a worker process ended. */
interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ranMs: number;
  readonly wasListening: boolean;
  /** Its `fatal` line, if it printed one. */
  readonly fatal: WorkerFailure | undefined;
}

class ProcessWorkerSupervisor implements WorkerSupervisor {
  readonly #options: WorkerSupervisorOptions;
  readonly #logger: Logger;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #restartTimer: NodeJS.Timeout | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #isStopping = false;
  #state: WorkerProcessState = 'stopped';
  #failure: WorkerFailure | undefined;
  readonly #setpriv: string | undefined;

  constructor(options: WorkerSupervisorOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ worker: 'local' });
    this.#setpriv = options.diesWithGateway === false ? undefined : findSetpriv();
    if (options.diesWithGateway !== false && this.#setpriv === undefined) {
      this.#logger.info(
        'setpriv not found: a gateway killed with SIGKILL would leave its worker running',
      );
    }
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): WorkerProcessState {
    return this.#state;
  }

  get failure(): WorkerFailure | undefined {
    return this.#failure;
  }

  start(): void {
    if (this.#isStopping || this.#child !== undefined) return;
    this.#state = 'starting';
    this.#failure = undefined;
    const { command, args, env, cwd } = this.#options.worker;
    this.#logger.info('starting worker', { command, args: args.join(' ') });
    const startedAt = Date.now();
    // Own process group: a terminal's Ctrl-C reaches only the gateway, which then stops the
    // worker in order (SIGTERM, grace, SIGKILL) instead of both racing to exit.
    const launch = workerSpawnArgs(this.#options.worker, this.#setpriv);
    const child = spawn(launch.command, [...launch.args], {
      cwd,
      env: { ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#child = child;
    let isListening = false;
    let fatal: WorkerFailure | undefined;
    this.#exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        clearTimeout(this.#startTimer);
        this.#child = undefined;
        resolve();
        this.#onExit({
          code,
          signal,
          ranMs: Date.now() - startedAt,
          wasListening: isListening,
          fatal,
        });
      });
    });
    child.on('error', (error) => {
      this.#logger.error('worker process error', { error: error.message });
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const listening = parseListeningLine(line);
      if (listening !== undefined) {
        isListening = true;
        if (!this.#isStopping) this.#state = 'listening';
        clearTimeout(this.#startTimer);
        this.#logger.info('worker listening', { address: listening.address, pid: child.pid });
        this.#options.onListening(listening.address);
        return;
      }
      const failure = parseFatalLine(line);
      if (failure !== undefined) {
        fatal = failure; // reported once the process is gone
        return;
      }
      if (line.trim() !== '') this.#logger.info(line, { stream: 'stdout' });
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (line.trim() === '') return;
      const entry = parseWorkerLogLine(line);
      this.#logger.log(entry.level, entry.message, entry.fields);
    });
    this.#startTimer = setTimeout(() => {
      if (!isListening) {
        this.#logger.error('worker did not report listening in time; killing it');
        child.kill('SIGKILL');
      }
    }, this.#options.startTimeoutMs ?? 120_000);
    this.#startTimer.unref();
  }

  #onExit({ code, signal, ranMs, wasListening, fatal }: WorkerExit): void {
    this.#options.onExit?.();
    if (this.#isStopping) {
      this.#state = 'stopped';
      this.#logger.info('worker stopped', { code, signal });
      return;
    }
    if (code === EX_CONFIG || fatal !== undefined) {
      const failure = fatal ?? {
        reason: 'configuration',
        message: `the worker exited with code ${EX_CONFIG} (EX_CONFIG) without saying why; see its log above`,
      };
      this.#state = 'failed';
      this.#failure = failure;
      this.#logger.error(`${failureReason(failure)} (not restarted)`, {
        code,
        signal,
        ran_ms: ranMs,
      });
      this.#options.onFailure?.(failure);
      return;
    }
    this.#state = 'restarting';
    const stableAfterMs = this.#options.stableAfterMs ?? 60_000;
    if (wasListening && ranMs >= stableAfterMs) this.#failures = 0;
    const backoff = this.#options.backoffMs ?? DEFAULT_BACKOFF_MS;
    const delayMs = backoff[Math.min(this.#failures, backoff.length - 1)] ?? 1000;
    this.#failures += 1;
    this.#logger.error('worker exited unexpectedly; restarting', {
      code,
      signal,
      ran_ms: ranMs,
      restart_in_ms: delayMs,
    });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.start();
    }, delayMs);
  }

  killNow(): void {
    this.#isStopping = true;
    if (this.#state !== 'failed') this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    this.#child?.kill('SIGKILL');
  }

  async stop(graceMs = 15_000): Promise<void> {
    this.#isStopping = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#startTimer);
    const child = this.#child;
    if (child === undefined) {
      if (this.#state !== 'failed') this.#state = 'stopped';
      return;
    }
    this.#logger.info('stopping worker', { pid: child.pid });
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.#logger.warn('worker ignored SIGTERM; sending SIGKILL', { grace_ms: graceMs });
      child.kill('SIGKILL');
    }, graceMs);
    try {
      await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Creates the supervisor; call `start()` to launch the worker. */
export function createWorkerSupervisor(options: WorkerSupervisorOptions): WorkerSupervisor {
  return new ProcessWorkerSupervisor(options);
}
