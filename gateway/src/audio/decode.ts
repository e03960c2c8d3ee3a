/**
 * Decoding uploads to 16 kHz mono LINEAR16 with an ffmpeg child process. ffmpeg reads the
 * temp file (MP4/M4A need a seekable input) and its stdout is pulled in chunks only as fast
 * as the worker takes them, so no upload is ever held in memory whole.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

import { InvalidAudioError, RequestCancelledError } from '../errors.js';
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

/** Turns an audio/video file into 16 kHz mono LINEAR16 chunks. */
export interface Decoder {
  /**
   * Decodes `filePath`. The iterable yields chunks of about `chunkMs` and throws
   * {@link InvalidAudioError} when ffmpeg fails or finds no audio, and
   * {@link RequestCancelledError} when `signal` aborts (ffmpeg is then killed).
   */
  decode(filePath: string, signal: AbortSignal): AsyncIterable<Buffer>;
}

/** Options of {@link createDecoder}. */
export interface DecoderOptions {
  /** ffmpeg binary. */
  readonly ffmpegPath: string;
  /** Chunk length sent to the worker, in ms. */
  readonly chunkMs?: number;
  /** Most stderr kept for error messages, in bytes. */
  readonly stderrLimitBytes?: number;
}

/** Turns ffmpeg's stderr into one short reason without paths or addresses. */
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

/** Creates the ffmpeg-backed decoder. */
export function createDecoder(options: DecoderOptions): Decoder {
  const chunkBytes = Math.max(1, Math.round(options.chunkMs ?? 500)) * LINEAR16_BYTES_PER_MS;
  const stderrLimit = options.stderrLimitBytes ?? 8192;

  async function* decode(filePath: string, signal: AbortSignal): AsyncGenerator<Buffer> {
    if (signal.aborted) throw new RequestCancelledError();
    const child = spawn(
      options.ffmpegPath,
      [
        '-nostdin',
        '-hide_banner',
        '-loglevel',
        'error',
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
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      if (stderr.length < stderrLimit) stderr += text.slice(0, stderrLimit - stderr.length);
    });
    const closed = new Promise<{ code: number | null; spawnError: Error | undefined }>(
      (resolve) => {
        let spawnError: Error | undefined;
        child.on('error', (error) => {
          spawnError = error;
        });
        child.on('close', (code) => {
          resolve({ code, spawnError });
        });
      },
    );
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    signal.addEventListener('abort', kill, { once: true });
    let totalBytes = 0;
    try {
      for await (const chunk of rechunkPcm(child.stdout, chunkBytes)) {
        totalBytes += chunk.length;
        yield chunk;
      }
      const { code, spawnError } = await closed;
      // Read again: aborting while we awaited kills ffmpeg, which then looks like a failure.
      if (isAborted(signal)) throw new RequestCancelledError();
      if (spawnError !== undefined) {
        throw new Error(`ffmpeg could not be started: ${spawnError.message}`, {
          cause: spawnError,
        });
      }
      if (code !== 0) {
        const reason = summariseFfmpegError(stderr, filePath) || `ffmpeg exited with ${code}`;
        throw new InvalidAudioError(`The audio file could not be decoded: ${reason}`);
      }
      if (totalBytes === 0) {
        throw new InvalidAudioError('The file contains no audio samples.', 'no_audio');
      }
    } finally {
      signal.removeEventListener('abort', kill);
      kill();
    }
  }

  return { decode };
}
