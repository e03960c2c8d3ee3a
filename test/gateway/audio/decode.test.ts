import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  createDecoder,
  createFfmpegLog,
  FfmpegNotFoundError,
  parseFfmpegLogLine,
  resolveFfmpeg,
  summariseFfmpegError,
} from '../../../gateway/src/audio/decode.js';
import {
  DecodeTimeoutError,
  InternalError,
  InvalidAudioError,
  RequestCancelledError,
} from '../../../gateway/src/errors.js';
import { CONTAINER_ARGS, fixtureDir, makeSine } from '../support/fixtures.js';

async function decodeAll(
  filePath: string,
  signal = new AbortController().signal,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of createDecoder({ ffmpegPath: 'ffmpeg', chunkMs: 250 }).decode(
    filePath,
    signal,
  )) {
    chunks.push(chunk);
  }
  return chunks;
}

describe('createDecoder', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fixtureDir();
  });

  it('decodes every container to 16 kHz mono LINEAR16 in chunks', async () => {
    for (const ext of Object.keys(CONTAINER_ARGS)) {
      const file = await makeSine(dir, ext, 1);
      const chunks = await decodeAll(file);
      const total = chunks.reduce((sum, c) => sum + c.length, 0);
      // Lossy codecs pad a little; all are within 100 ms of a second.
      expect([ext, Math.abs(total - 32_000) <= 3200]).toEqual([ext, true]);
      expect(chunks.slice(0, -1).every((c) => c.length === 8000)).toBe(true);
    }
  });

  it('reads the exact samples of a 16 kHz WAV', async () => {
    const file = await makeSine(dir, 'wav', 0.5, 'exact');
    const wav = await readFile(file);
    const chunks = await decodeAll(file);
    expect(Buffer.concat(chunks).equals(wav.subarray(wav.length - 16_000))).toBe(true);
  });

  it('fails with InvalidAudioError and a short reason without the path', async () => {
    const file = path.join(dir, 'corrupt.wav');
    await writeFile(
      file,
      Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), Buffer.alloc(64, 7)]),
    );
    const failure = await decodeAll(file).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvalidAudioError);
    expect((failure as Error).message).not.toContain(dir);
  });

  it('fails with InvalidAudioError when there are no samples', async () => {
    const mp3 = await readFile(await makeSine(dir, 'mp3', 1, 'cut'));
    const file = path.join(dir, 'header-only.mp3');
    await writeFile(file, mp3.subarray(0, 200));
    await expect(decodeAll(file)).rejects.toBeInstanceOf(InvalidAudioError);
  });

  it('kills ffmpeg and throws RequestCancelledError when aborted', async () => {
    const file = await makeSine(dir, 'flac', 5, 'long');
    const controller = new AbortController();
    const iterator = createDecoder({ ffmpegPath: 'ffmpeg', chunkMs: 100 })
      .decode(file, controller.signal)
      [Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    const rest = (async () => {
      for (;;) if ((await iterator.next()).done === true) return;
    })();
    await expect(rest).rejects.toBeInstanceOf(RequestCancelledError);
  });
});

/** Writes an executable shell script standing in for ffmpeg; returns its path. */
async function fakeFfmpeg(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** Whether a process with this id still exists (a zombie would count). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('createDecoder (duration and faults)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fixtureDir();
  });

  it("reads the duration from ffmpeg's header before the first chunk", async () => {
    for (const [ext, expectedMs] of [
      ['wav', 2500],
      ['flac', 2500],
      ['ogg', 2500],
    ] as const) {
      const file = await makeSine(dir, ext, 2.5, `duration-${ext}`);
      const decoded = createDecoder({ ffmpegPath: 'ffmpeg' }).decode(
        file,
        new AbortController().signal,
      );
      const iterator = decoded[Symbol.asyncIterator]();
      await iterator.next();
      let durationMs: number | undefined | 'pending' = 'pending';
      void decoded.durationMs?.then((ms) => {
        durationMs = ms;
      });
      await Promise.resolve();
      expect([ext, durationMs]).toEqual([ext, expectedMs]);
      await iterator.return?.();
    }
  });

  it('leaves the duration unknown when the header has none', async () => {
    const script = await fakeFfmpeg(
      dir,
      'no-duration.sh',
      'echo "[info] Input #0, matroska,webm, from \'x\':" >&2\n' +
        'echo "[info]   Duration: N/A, start: 0.000000, bitrate: N/A" >&2\n' +
        'head -c 32000 /dev/zero',
    );
    const decoded = createDecoder({ ffmpegPath: script }).decode(
      'x.webm',
      new AbortController().signal,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of decoded) chunks.push(chunk);
    expect(Buffer.concat(chunks).length).toBe(32_000);
    await expect(decoded.durationMs).resolves.toBeUndefined();
  });

  it('kills ffmpeg that stops producing output and fails with DecodeTimeoutError (504)', async () => {
    const pidFile = path.join(dir, 'stopped.pid');
    // Stops itself after a little audio, as `kill -STOP` would stop a real ffmpeg.
    const script = await fakeFfmpeg(
      dir,
      'stops.sh',
      `echo $$ > ${pidFile}\nhead -c 16000 /dev/zero\nkill -STOP $$\nhead -c 16000 /dev/zero`,
    );
    const startedAt = performance.now();
    const failure = await (async () => {
      for await (const chunk of createDecoder({
        ffmpegPath: script,
        stallTimeoutMs: 300,
        chunkMs: 100,
      }).decode('x.wav', new AbortController().signal)) {
        expect(chunk.length).toBeGreaterThan(0);
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DecodeTimeoutError);
    expect(failure).toMatchObject({
      httpStatus: 504,
      code: 'decode_timeout',
      message: 'The audio decoder (ffmpeg) produced no output for 0.3 s and was stopped.',
    });
    expect(performance.now() - startedAt).toBeLessThan(3000);
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(isRunning(pid)).toBe(false);
  });

  it('does not count the time the consumer takes against the stall timeout', async () => {
    const file = await makeSine(dir, 'wav', 1, 'slow-consumer');
    let total = 0;
    for await (const chunk of createDecoder({
      ffmpegPath: 'ffmpeg',
      stallTimeoutMs: 2000,
      chunkMs: 250,
    }).decode(file, new AbortController().signal)) {
      total += chunk.length;
      // Longer than the stall timeout altogether, as a slow worker would make us wait.
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    expect(total).toBe(32_000);
  });

  it('reports ffmpeg killed by a signal it was not sent by us as InternalError (500)', async () => {
    const script = await fakeFfmpeg(dir, 'killed.sh', 'head -c 16000 /dev/zero\nkill -KILL $$');
    const failure = await (async () => {
      for await (const chunk of createDecoder({ ffmpegPath: script, chunkMs: 100 }).decode(
        'x.wav',
        new AbortController().signal,
      )) {
        expect(chunk.length).toBeGreaterThan(0);
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InternalError);
    expect(failure).toMatchObject({
      httpStatus: 500,
      message:
        'The audio decoder (ffmpeg) was killed by SIGKILL before it finished; retry the request.',
    });
  });
});

describe('parseFfmpegLogLine', () => {
  it('reads the level, the text and the input duration', () => {
    expect(
      parseFfmpegLogLine('[info]   Duration: 00:03:00.11, start: 0.000000, bitrate: 197 kb/s'),
    ).toEqual({
      level: 'info',
      text: '  Duration: 00:03:00.11, start: 0.000000, bitrate: 197 kb/s',
      durationMs: 180_110,
    });
    expect(parseFfmpegLogLine('[info]   Duration: 01:02:03.5, start: 0').durationMs).toBe(
      3_723_500,
    );
    expect(parseFfmpegLogLine('  Duration: 00:00:07, bitrate: 1 kb/s').durationMs).toBe(7000);
    expect(parseFfmpegLogLine('[info]   Duration: N/A, start: 0.000000').durationMs).toBeNull();
    expect(
      parseFfmpegLogLine('[mp3 @ 0x5564c638b8c0] [error] Invalid frame size (96): Could not seek'),
    ).toEqual({ level: 'error', text: 'Invalid frame size (96): Could not seek' });
    expect(parseFfmpegLogLine('plain line')).toEqual({ level: undefined, text: 'plain line' });
    expect(parseFfmpegLogLine('[info]     title : Duration: 00:00:01.00')).not.toHaveProperty(
      'durationMs',
    );
  });
});

describe('createFfmpegLog', () => {
  const HEADER =
    "[info] Input #0, flac, from 'file:/tmp/x':\n" +
    '[info]   Metadata:\n' +
    '[info]     encoder         : Lavf59.27.100\n' +
    '[info]   Duration: 00:03:00.11, start: 0.000000, bitrate: 197 kb/s\n' +
    '[info]   Stream #0:0: Audio: flac, 22050 Hz, mono, s16\n' +
    '[info] Stream mapping:\n';

  it('knows the duration once the header line has passed, across split writes', () => {
    const log = createFfmpegLog();
    const cut = HEADER.indexOf('00:03');
    log.write(HEADER.slice(0, cut));
    expect(log.duration).toEqual({ isKnown: false });
    log.write(HEADER.slice(cut));
    expect(log.duration).toEqual({ isKnown: true, ms: 180_110 });
    expect(log.errorText).toBe('');
  });

  it('distrusts a duration estimated from the bitrate, and a header without one', () => {
    const estimated = createFfmpegLog();
    estimated.write(
      '[mp3 @ 0x1] [warning] Estimating duration from bitrate, this may be inaccurate\n' + HEADER,
    );
    expect(estimated.duration).toEqual({ isKnown: true, ms: undefined });
    const none = createFfmpegLog();
    none.write("[info] Input #0, wav, from 'x':\n[info] Stream mapping:\n");
    expect(none.duration).toEqual({ isKnown: true, ms: undefined });
    const ended = createFfmpegLog();
    ended.write('[error] x: Invalid data found when processing input');
    ended.end();
    expect(ended.duration).toEqual({ isKnown: true, ms: undefined });
    expect(ended.errorText).toBe('x: Invalid data found when processing input\n');
  });

  it('keeps only error lines (capped), or every line from an ffmpeg without tags', () => {
    const log = createFfmpegLog(40);
    log.write('[wav @ 0x5] [warning] odd header\n[error] first failure\n[fatal] second failure\n');
    expect(log.errorText).toBe('first failure\nsecond failure\n');
    log.write(`[error] ${'x'.repeat(100)}\n`);
    expect(log.errorText).toHaveLength(40);
    const old = createFfmpegLog();
    old.write('Invalid data found\n');
    expect(old.errorText).toBe('Invalid data found\n');
  });

  it('drops the rest of an overlong line without holding it', () => {
    const log = createFfmpegLog();
    log.write(`[error] ${'y'.repeat(10_000)}`);
    log.write(`${'y'.repeat(10_000)}\n[error] after\n`);
    expect(log.errorText.split('\n')[1]).toBe('after');
    expect(log.errorText.length).toBeLessThan(2100);
  });
});

describe('resolveFfmpeg', () => {
  const probe = (working: string[]) => (binary: string) =>
    Promise.resolve(working.includes(binary) ? `ffmpeg version of ${binary}` : undefined);

  it('uses FFMPEG_PATH when set, and only that', async () => {
    await expect(
      resolveFfmpeg({
        configuredPath: '/opt/ff',
        staticPath: '/static/ff',
        probe: probe(['/opt/ff', 'ffmpeg']),
      }),
    ).resolves.toMatchObject({ path: '/opt/ff', source: 'FFMPEG_PATH' });
    await expect(
      resolveFfmpeg({ configuredPath: '/bad', staticPath: undefined, probe: probe(['ffmpeg']) }),
    ).rejects.toBeInstanceOf(FfmpegNotFoundError);
  });

  it('prefers ffmpeg-static, then PATH', async () => {
    await expect(
      resolveFfmpeg({
        configuredPath: undefined,
        staticPath: '/static/ff',
        probe: probe(['/static/ff', 'ffmpeg']),
      }),
    ).resolves.toMatchObject({ source: 'ffmpeg-static' });
    await expect(
      resolveFfmpeg({
        configuredPath: undefined,
        staticPath: '/static/ff',
        probe: probe(['ffmpeg']),
      }),
    ).resolves.toMatchObject({ path: 'ffmpeg', source: 'PATH' });
    await expect(
      resolveFfmpeg({ configuredPath: undefined, staticPath: undefined, probe: probe([]) }),
    ).rejects.toBeInstanceOf(FfmpegNotFoundError);
  });

  it('finds the system ffmpeg here', async () => {
    const found = await resolveFfmpeg({ configuredPath: undefined, staticPath: undefined });
    expect(found.version).toMatch(/^ffmpeg version/);
  });
});

describe('summariseFfmpegError', () => {
  it('removes the temp path and the [demuxer @ 0x…] prefixes, and dedupes', () => {
    const stderr =
      '[mp3 @ 0x55d0c0] Failed to read frame size: Could not seek to 1138.\n' +
      'file:/tmp/x/upload-1: Invalid argument\n/tmp/x/upload-1: Invalid argument\n';
    expect(summariseFfmpegError(stderr, '/tmp/x/upload-1')).toBe(
      'Failed to read frame size: Could not seek to 1138.; input: Invalid argument',
    );
  });
});
