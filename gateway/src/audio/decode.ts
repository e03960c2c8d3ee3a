/**
 * Decoding uploads to 16 kHz mono LINEAR16 with an ffmpeg child process. ffmpeg reads the
 * temp file (MP4/M4A need a seekable input) and its stdout is pulled in chunks only as fast
 * as the worker takes them, so no upload is ever held in memory whole.
 *
 * ffmpeg logs at `info` with level tags (`-loglevel level+info`), so one process gives both
 * the audio and, from its input header on stderr, the file's duration before the first
 * chunk is handed on (see {@link parseFfmpegLogLine}); error messages come from the lines
 * tagged `[error]` and worse.
 *
 * Every decode is bounded in time without output: while the gateway waits for ffmpeg (not
 * while ffmpeg waits for the worker to take audio), ffmpeg must produce a chunk, or exit,
 * within {@link DECODE_STALL_TIMEOUT_MS}; otherwise it is killed and the decode fails with
 * {@link DecodeTimeoutError} (504). ffmpeg killed by someone else is a 500
 * ({@link InternalError}); a file ffmpeg rejects is a 400. ffmpeg is killed and reaped on
 * every path out of a decode.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

import {
  DecodeTimeoutError,
  InternalError,
  InvalidAudioError,
  RequestCancelledError,
} from '../errors.js';
import { LINEAR16_BYTES_PER_MS, rechunkPcm } from './pcm.js';

/** Where the ffmpeg binary came from. */
export type FfmpegSource = 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';

/** A working ffmpeg binary. */
export interface FfmpegBinary {
  /** Path or command name. */
  readonly path: string;
  /** How it was found. */
  readonly source: FfmpegSource;
  /** First line of `ffmpeg -version`. */
  readonly version: string;
}

/** No usable ffmpeg: the gateway refuses to start. */
export class FfmpegNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FfmpegNotFoundError';
  }
}

/** Runs `<binary> -version`; resolves to its first line, or undefined if it does not run. */
export async function probeFfmpeg(binary: string, timeoutMs = 10_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(binary, ['-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Our own timer: spawn's `timeout` option keeps the process alive when spawning fails.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    timer.unref();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      if (output.length < 4096) output += text;
    });
    child.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? (output.split('\n')[0]?.trim() ?? 'ffmpeg') : undefined);
    });
  });
}

/**
 * The binary path of the optional `ffmpeg-static` package, if it is installed and its
 * binary was downloaded (its install script needs the internet, so it is often absent).
 */
export async function findFfmpegStatic(): Promise<string | undefined> {
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const specifier = 'ffmpeg-static';
    const loaded: unknown = await import(specifier);
    const candidate: unknown =
      typeof loaded === 'object' && loaded !== null && 'default' in loaded
        ? loaded.default
        : loaded;
    if (typeof candidate !== 'string') return undefined;
    await access(candidate, constants.X_OK);
    return candidate;
  } catch {
    return undefined;
  }
}

/**
 * Finds a working ffmpeg: `FFMPEG_PATH` when the operator set it (and then only that one),
 * otherwise ffmpeg-static's binary when present, otherwise `ffmpeg` on PATH.
 *
 * @throws FfmpegNotFoundError when none runs.
 */
export async function resolveFfmpeg(options: {
  readonly configuredPath: string | undefined;
  readonly staticPath: string | undefined;
  readonly probe?: (binary: string) => Promise<string | undefined>;
}): Promise<FfmpegBinary> {
  const probe = options.probe ?? probeFfmpeg;
  if (options.configuredPath !== undefined) {
    const version = await probe(options.configuredPath);
    if (version === undefined) {
      throw new FfmpegNotFoundError(
        `FFMPEG_PATH=${options.configuredPath} does not run ('-version' failed); fix or unset it`,
      );
    }
    return { path: options.configuredPath, source: 'FFMPEG_PATH', version };
  }
  const candidates: { path: string; source: FfmpegSource }[] = [];
  if (options.staticPath !== undefined) {
    candidates.push({ path: options.staticPath, source: 'ffmpeg-static' });
  }
  candidates.push({ path: 'ffmpeg', source: 'PATH' });
  for (const candidate of candidates) {
    const version = await probe(candidate.path);
    if (version !== undefined) return { ...candidate, version };
  }
  throw new FfmpegNotFoundError(
    'No ffmpeg found: ffmpeg-static has no binary and `ffmpeg` is not on PATH. ' +
      'Install it (apt-get install ffmpeg) or set FFMPEG_PATH.',
  );
}

/**
 * Longest time ffmpeg may take to produce the next chunk (or to exit) while the gateway waits
 * for it, in ms. Decoding runs hundreds of times faster than real time, so a chunk of 500 ms
 * of audio takes well under a second even on a busy host; 10 s means ffmpeg is hung (or
 * stopped) and is killed.
 */
export const DECODE_STALL_TIMEOUT_MS = 10_000;

/**
 * Longest wait for ffmpeg's input header (the duration) once audio is flowing, in ms. ffmpeg
 * prints the header before any audio, so this only bounds a pathological order of the two
 * pipes; the duration is then unknown.
 */
const HEADER_WAIT_MS = 1000;

/** Longest stderr line kept, in characters; the rest of a longer line is dropped. */
const MAX_LOG_LINE_CHARS = 2048;

/** The audio of one decode: its chunks, and the duration read from the file's header. */
export interface DecodedAudio extends AsyncIterable<Buffer> {
  /**
   * The duration in ms as ffmpeg read it from the container's header; undefined when the
   * header has none (`Duration: N/A`, a live WebM recording) or only an estimate from the
   * bitrate (which can be short by minutes). Settled by the time iteration has produced its
   * first chunk (or ended). Optional: decoders that cannot tell leave it out.
   */
  readonly durationMs?: Promise<number | undefined>;
}

/** Turns an audio/video file into 16 kHz mono LINEAR16 chunks. */
export interface Decoder {
  /**
   * Decodes `filePath`. The iterable yields chunks of about `chunkMs` and throws
   * {@link InvalidAudioError} when ffmpeg rejects the file or finds no audio,
   * {@link DecodeTimeoutError} when ffmpeg stalls, {@link InternalError} when ffmpeg dies
   * from a signal it was not sent by us, and {@link RequestCancelledError} when `signal`
   * aborts (ffmpeg is then killed).
   */
  decode(filePath: string, signal: AbortSignal): DecodedAudio;
}

/** Options of {@link createDecoder}. */
export interface DecoderOptions {
  /** ffmpeg binary. */
  readonly ffmpegPath: string;
  /** Chunk length sent to the worker, in ms. */
  readonly chunkMs?: number;
  /** Most error text kept for error messages, in characters. */
  readonly stderrLimitBytes?: number;
  /** Stall timeout, in ms (default {@link DECODE_STALL_TIMEOUT_MS}; tests use less). */
  readonly stallTimeoutMs?: number;
}

/** Severity tags ffmpeg writes with `-loglevel level+...`. */
type FfmpegLevel =
  'quiet' | 'panic' | 'fatal' | 'error' | 'warning' | 'info' | 'verbose' | 'debug' | 'trace';

/** One stderr line of ffmpeg, tags removed. */
export interface FfmpegLogLine {
  /** Its level, or undefined for a line without a tag. */
  readonly level: FfmpegLevel | undefined;
  /** The text without the `[demuxer @ 0x…]` and `[level]` tags. */
  readonly text: string;
  /**
   * For the input header's `Duration:` line: the duration in ms, or null for `N/A`;
   * undefined for any other line.
   */
  readonly durationMs?: number | null;
}

const LOG_LINE =
  /^(?:\[[^\]]*@ 0x[0-9a-f]+\]\s*)?(?:\[(quiet|panic|fatal|error|warning|info|verbose|debug|trace)\]\s?)?(.*)$/i;
const DURATION = /^\s*Duration: (?:(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?|N\/A)/;

/**
 * Parses one line of ffmpeg's stderr (`-loglevel level+info`), e.g.
 * `[info]   Duration: 00:03:00.11, start: 0.000000, bitrate: 197 kb/s`.
 */
export function parseFfmpegLogLine(line: string): FfmpegLogLine {
  const match = LOG_LINE.exec(line);
  const level = match?.[1]?.toLowerCase() as FfmpegLevel | undefined;
  const text = (match?.[2] ?? line).trimEnd();
  const duration = DURATION.exec(text);
  if (duration === null) return { level, text };
  const [, hours, minutes, seconds, fraction] = duration;
  if (hours === undefined || minutes === undefined || seconds === undefined) {
    return { level, text, durationMs: null };
  }
  const fractionMs = fraction === undefined ? 0 : Number(`0.${fraction}`) * 1000;
  const durationMs =
    (Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000 + fractionMs;
  return { level, text, durationMs: Math.round(durationMs) };
}

/** What ffmpeg's stderr said, read line by line as it arrives. */
export interface FfmpegLog {
  /** Feeds more stderr text. */
  write(text: string): void;
  /** Ends the input (a last line without newline counts). */
  end(): void;
  /**
   * The input's duration: pending until the header passed, then the value in ms, or
   * undefined when unknown or only estimated.
   */
  readonly duration:
    { readonly isKnown: false } | { readonly isKnown: true; readonly ms: number | undefined };
  /** The error lines (or, from an ffmpeg without level tags, every line), capped. */
  readonly errorText: string;
}

/** Creates a stderr reader; `limit` caps the error text kept, in characters. */
export function createFfmpegLog(limit = 8192): FfmpegLog {
  let pending = '';
  let isTooLong = false;
  let hasTags = false;
  let isEstimated = false;
  let duration: FfmpegLog['duration'] = { isKnown: false };
  let tagged = '';
  let untagged = '';
  const keep = (kept: string, text: string): string =>
    kept.length >= limit ? kept : kept + `${text}\n`.slice(0, limit - kept.length);
  const readLine = (line: string): void => {
    const parsed = parseFfmpegLogLine(line);
    if (parsed.level === undefined) {
      untagged = keep(untagged, line);
    } else {
      hasTags = true;
      if (parsed.level === 'error' || parsed.level === 'fatal' || parsed.level === 'panic') {
        tagged = keep(tagged, parsed.text);
      }
    }
    if (parsed.text.includes('Estimating duration from bitrate')) isEstimated = true;
    if (!duration.isKnown && parsed.durationMs !== undefined) {
      duration = {
        isKnown: true,
        ms: parsed.durationMs === null || isEstimated ? undefined : parsed.durationMs,
      };
    } else if (!duration.isKnown && /^(Stream mapping:|Output #0)/.test(parsed.text)) {
      // Past the input header without a duration line.
      duration = { isKnown: true, ms: undefined };
    }
  };
  return {
    write(text: string): void {
      let rest = text;
      for (;;) {
        const newline = rest.indexOf('\n');
        if (newline === -1) break;
        const line = isTooLong ? pending : pending + rest.slice(0, newline);
        pending = '';
        isTooLong = false;
        readLine(line.slice(0, MAX_LOG_LINE_CHARS).replace(/\r$/, ''));
        rest = rest.slice(newline + 1);
      }
      if (isTooLong) return;
      pending += rest;
      if (pending.length > MAX_LOG_LINE_CHARS) {
        pending = pending.slice(0, MAX_LOG_LINE_CHARS);
        isTooLong = true;
      }
    },
    end(): void {
      if (pending !== '') readLine(pending);
      pending = '';
      if (!duration.isKnown) duration = { isKnown: true, ms: undefined };
    },
    get duration(): FfmpegLog['duration'] {
      return duration;
    },
    get errorText(): string {
      return hasTags ? tagged : untagged;
    },
  };
}

/** Turns ffmpeg's error lines into one short reason without paths or addresses. */
export function summariseFfmpegError(stderr: string, filePath: string): string {
  const lines = stderr
    .split('\n')
    .map((line) =>
      line
        .replaceAll(`file:${filePath}`, 'input')
        .replaceAll(filePath, 'input')
        .replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '')
        .trim(),
    )
    .filter((line) => line !== '');
  const unique = [...new Set(lines)];
  const text = unique.join('; ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** A promise with its resolver (Node 20 has no `Promise.withResolvers`). */
function deferred<T>(): { readonly promise: Promise<T>; resolve(value: T): void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return {
    promise,
    resolve: (value: T) => {
      resolve(value);
    },
  };
}

/** Creates the ffmpeg-backed decoder. */
export function createDecoder(options: DecoderOptions): Decoder {
  const chunkBytes = Math.max(1, Math.round(options.chunkMs ?? 500)) * LINEAR16_BYTES_PER_MS;
  const stderrLimit = options.stderrLimitBytes ?? 8192;
  const stallTimeoutMs = options.stallTimeoutMs ?? DECODE_STALL_TIMEOUT_MS;

  async function* run(
    filePath: string,
    signal: AbortSignal,
    header: {
      resolve(durationMs: number | undefined): void;
      readonly promise: Promise<number | undefined>;
    },
  ): AsyncGenerator<Buffer> {
    if (signal.aborted) throw new RequestCancelledError();
    const child = spawn(
      options.ffmpegPath,
      [
        '-nostdin',
        '-hide_banner',
        '-nostats',
        // Info for the input header (its duration), tagged so errors can be told apart.
        '-loglevel',
        'level+info',
        // Only the local file: a crafted playlist must not make ffmpeg fetch URLs.
        '-protocol_whitelist',
        'file,pipe',
        '-i',
        `file:${filePath}`,
        '-vn',
        '-ac',
        '1',
        '-ar',
        '16000',
        '-f',
        's16le',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log = createFfmpegLog(stderrLimit);
    const readHeader = (): void => {
      const { duration } = log;
      if (duration.isKnown) header.resolve(duration.ms);
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      log.write(text);
      readHeader();
    });
    child.stderr.on('end', () => {
      log.end();
      readHeader();
    });
    const closed = new Promise<{
      code: number | null;
      exitSignal: NodeJS.Signals | null;
      spawnError: Error | undefined;
    }>((resolve) => {
      let spawnError: Error | undefined;
      child.on('error', (error) => {
        spawnError = error;
      });
      child.on('close', (code, exitSignal) => {
        resolve({ code, exitSignal, spawnError });
      });
    });
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    let isStalled = false;
    // A function, so that TypeScript does not narrow the flag the timer sets.
    const hasStalled = (): boolean => isStalled;
    let stallTimer: NodeJS.Timeout | undefined;
    /** Runs while we wait for ffmpeg: a stall kills it, which ends the wait. */
    const armStallTimer = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        isStalled = true;
        kill();
      }, stallTimeoutMs);
    };
    const stallError = (): DecodeTimeoutError =>
      new DecodeTimeoutError(
        `The audio decoder (ffmpeg) produced no output for ${stallTimeoutMs / 1000} s and was stopped.`,
      );
    signal.addEventListener('abort', kill, { once: true });
    let totalBytes = 0;
    try {
      const pcm = rechunkPcm(child.stdout, chunkBytes)[Symbol.asyncIterator]();
      for (;;) {
        armStallTimer();
        const next = await pcm.next();
        clearTimeout(stallTimer);
        if (hasStalled()) throw stallError();
        if (next.done === true) break;
        if (totalBytes === 0) await waitForHeader(header.promise);
        totalBytes += next.value.length;
        yield next.value;
      }
      armStallTimer();
      const { code, exitSignal, spawnError } = await closed;
      clearTimeout(stallTimer);
      // Read again: aborting while we awaited kills ffmpeg, which then looks like a failure.
      if (isAborted(signal)) throw new RequestCancelledError();
      if (hasStalled()) throw stallError();
      if (spawnError !== undefined) {
        throw new Error(`ffmpeg could not be started: ${spawnError.message}`, {
          cause: spawnError,
        });
      }
      if (exitSignal !== null) {
        // Not by us (abort and stall are handled above): an operator, the OOM killer.
        throw new InternalError(
          `The audio decoder (ffmpeg) was killed by ${exitSignal} before it finished; retry the request.`,
        );
      }
      if (code !== 0) {
        const reason =
          summariseFfmpegError(log.errorText, filePath) || `ffmpeg exited with ${code}`;
        throw new InvalidAudioError(`The audio file could not be decoded: ${reason}`);
      }
      if (totalBytes === 0) {
        throw new InvalidAudioError('The file contains no audio samples.', 'no_audio');
      }
    } finally {
      clearTimeout(stallTimer);
      header.resolve(undefined);
      signal.removeEventListener('abort', kill);
      kill();
    }
  }

  return {
    decode(filePath: string, signal: AbortSignal): DecodedAudio {
      const header = deferred<number | undefined>();
      // The generator starts ffmpeg only when iterated, so nothing runs for an unused decode.
      const chunks = run(filePath, signal, header);
      return {
        durationMs: header.promise,
        [Symbol.asyncIterator]: () => chunks,
      };
    },
  };
}

/** Waits for the header, at most {@link HEADER_WAIT_MS}. */
async function waitForHeader(header: Promise<number | undefined>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, HEADER_WAIT_MS);
  });
  try {
    await Promise.race([header, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
