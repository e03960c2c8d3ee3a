import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  createDecoder,
  FfmpegNotFoundError,
  resolveFfmpeg,
  summariseFfmpegError,
} from '../../../gateway/src/audio/decode.js';
import { InvalidAudioError, RequestCancelledError } from '../../../gateway/src/errors.js';
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
