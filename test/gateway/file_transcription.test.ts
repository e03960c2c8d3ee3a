import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  InternalError,
  InvalidAudioError,
  InvalidRequestError,
  RequestCancelledError,
  UnsupportedMediaTypeError,
  WorkerBusyError,
  WorkerUnavailableError,
} from '../../gateway/src/errors.js';
import {
  checkLanguageAndTask,
  checkModel,
  transcribeFile,
  type FileTranscriptionRequest,
} from '../../gateway/src/file_transcription.js';
import { createSilentLogger } from '../../gateway/src/logger.js';
import { fakeDecoder, fakePool, FakeRecognizeStream, finalSegment } from './support/fake_stream.js';
import { PLAIN_SETTINGS, PNG_BYTES, TINY_EN_INFO } from './support/fixtures.js';

const INFO = TINY_EN_INFO;

let wavPath: string;
let pngPath: string;
let emptyPath: string;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stt-file-transcription-'));
  wavPath = path.join(dir, 'a');
  await writeFile(wavPath, Buffer.concat([Buffer.from('RIFF\0\0\0\0WAVEfmt '), Buffer.alloc(100)]));
  pngPath = path.join(dir, 'b');
  await writeFile(pngPath, PNG_BYTES);
  emptyPath = path.join(dir, 'c');
  await writeFile(emptyPath, '');
});

function request(overrides: Partial<FileTranscriptionRequest> = {}): FileTranscriptionRequest {
  return {
    filePath: wavPath,
    settings: PLAIN_SETTINGS,
    requestId: 'r1',
    signal: new AbortController().signal,
    logger: createSilentLogger(),
    ...overrides,
  };
}

const CHUNK = Buffer.alloc(16_000);

describe('transcribeFile', () => {
  it('streams every chunk, half-closes, and collects final segments in order', async () => {
    const stream = new FakeRecognizeStream([
      { type: 'segment', segment: finalSegment(0, ' One.') },
      { type: 'segment', segment: { ...finalSegment(1, ' interim'), isFinal: false } },
      { type: 'progress', processedAudioMs: 500, totalAudioMs: 1000 },
      { type: 'segment', segment: finalSegment(1, ' Two.') },
    ]);
    const pool = fakePool(() => stream, INFO);
    const seen: string[] = [];
    const result = await transcribeFile(
      { pool, decoder: fakeDecoder([CHUNK, CHUNK]), requestTimeoutMs: 1000 },
      request({ onSegment: (s) => seen.push(s.text) }),
    );
    expect(stream.writes).toHaveLength(2);
    expect(stream.isEnded).toBe(true);
    expect(result.segments.map((s) => s.text)).toEqual([' One.', ' Two.']);
    expect(seen).toEqual([' One.', ' Two.']);
    expect(result.audioMs).toBe(1000);
    expect(result.summary).toMatchObject({ durationMs: 1000, languageCode: 'en' });
    expect(pool.settings[0]).toMatchObject({ mode: 'file', hasInterimResults: false });
    expect(pool.settings[0]?.audioDurationMs).toBeUndefined();
  });

  it("sends the duration the decoder read from the file's header with the config", async () => {
    const pool = fakePool(() => new FakeRecognizeStream([]), INFO);
    await transcribeFile(
      { pool, decoder: fakeDecoder([CHUNK], undefined, 180_110), requestTimeoutMs: 1000 },
      request(),
    );
    expect(pool.settings[0]).toMatchObject({ mode: 'file', audioDurationMs: 180_110 });
  });

  it('rejects empty and non-audio files before using a worker', async () => {
    let started = 0;
    const pool = fakePool(() => {
      started += 1;
      return new FakeRecognizeStream([]);
    }, INFO);
    const deps = { pool, decoder: fakeDecoder([CHUNK]), requestTimeoutMs: 1000 };
    await expect(transcribeFile(deps, request({ filePath: emptyPath }))).rejects.toBeInstanceOf(
      InvalidAudioError,
    );
    await expect(transcribeFile(deps, request({ filePath: pngPath }))).rejects.toBeInstanceOf(
      UnsupportedMediaTypeError,
    );
    expect(started).toBe(0);
  });

  it('never opens a worker call for a file ffmpeg rejects', async () => {
    let started = 0;
    const pool = fakePool(() => {
      started += 1;
      return new FakeRecognizeStream([]);
    });
    const decoder = fakeDecoder([], new InvalidAudioError('corrupt'));
    await expect(
      transcribeFile({ pool, decoder, requestTimeoutMs: 1000 }, request()),
    ).rejects.toThrow('corrupt');
    expect(started).toBe(0);
  });

  it('cancels the call and reports the decode failure when ffmpeg fails midway', async () => {
    const stream = new FakeRecognizeStream([]);
    const decoder = fakeDecoder([CHUNK, CHUNK], new InvalidAudioError('truncated'));
    const failure = await transcribeFile(
      { pool: fakePool(() => stream), decoder, requestTimeoutMs: 1000 },
      request(),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvalidAudioError);
    expect(stream.isCancelled).toBe(true);
  });

  it('reports the worker failure and stops decoding', async () => {
    const stream = new FakeRecognizeStream([], new WorkerBusyError('full', 2000));
    const decoder = fakeDecoder([CHUNK, CHUNK, CHUNK]);
    const failure = await transcribeFile(
      { pool: fakePool(() => stream), decoder, requestTimeoutMs: 1000 },
      request(),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkerBusyError);
    expect(decoder.signals[0]?.aborted).toBe(true);
  });

  it('turns a cancellation nobody asked for into worker_unavailable', async () => {
    const stream = new FakeRecognizeStream([], new RequestCancelledError());
    const failure = await transcribeFile(
      { pool: fakePool(() => stream), decoder: fakeDecoder([CHUNK]), requestTimeoutMs: 1000 },
      request(),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WorkerUnavailableError);
  });

  it('cancels everything when the client leaves', async () => {
    const stream = new FakeRecognizeStream([]);
    const controller = new AbortController();
    const decoder = fakeDecoder([CHUNK]);
    const pending = transcribeFile(
      { pool: fakePool(() => stream), decoder, requestTimeoutMs: 1000 },
      request({ signal: controller.signal }),
    );
    controller.abort();
    const failure = await pending.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RequestCancelledError);
  });

  it('turns a non-gateway pump failure into an error, not a cancellation', async () => {
    const stream = new FakeRecognizeStream([]);
    const decoder = fakeDecoder([CHUNK], new Error('ffmpeg could not be started'));
    const failure = await transcribeFile(
      { pool: fakePool(() => stream), decoder, requestTimeoutMs: 1000 },
      request(),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(RequestCancelledError);
    expect(failure).not.toBeInstanceOf(InternalError);
  });
});

describe('checkModel', () => {
  it('accepts the alias, standard names and the served model', () => {
    for (const model of [
      undefined,
      '',
      'whisper-1',
      'Whisper-1',
      'BASE',
      'large-v3',
      'distil-large-v3',
      'tiny.en',
    ]) {
      expect(() => {
        checkModel(model, INFO);
      }).not.toThrow();
    }
    expect(() => {
      checkModel('custom', undefined);
    }).not.toThrow();
  });

  it('rejects other names with param model', () => {
    expect(() => {
      checkModel('gpt-4o', INFO);
    }).toThrow(InvalidRequestError);
  });
});

describe('checkLanguageAndTask', () => {
  const settings = request().settings;

  it('rejects unknown codes and codes the model lacks, with param language', () => {
    expect(() => {
      checkLanguageAndTask({ ...settings, languageCode: 'xx' }, undefined);
    }).toThrow(/Unsupported language/);
    expect(() => {
      checkLanguageAndTask({ ...settings, languageCode: 'de' }, INFO);
    }).toThrow(/cannot transcribe/);
    expect(() => {
      checkLanguageAndTask({ ...settings, languageCode: 'de' }, { ...INFO, languages: [] });
    }).not.toThrow();
  });

  it('rejects translation on an English-only model', () => {
    expect(() => {
      checkLanguageAndTask({ ...settings, task: 'translate' }, INFO);
    }).toThrow(/English-only/);
    expect(() => {
      checkLanguageAndTask({ ...settings, task: 'translate' }, { ...INFO, isMultilingual: true });
    }).not.toThrow();
  });
});
