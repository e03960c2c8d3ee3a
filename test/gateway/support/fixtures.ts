/**
 * Audio fixtures made at test time with ffmpeg (a 440 Hz sine), so nothing binary is
 * committed: `ffmpeg -f lavfi -i sine=frequency=440:duration=<s> -ar 16000 -ac 1 <args> <out>`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import type { WorkerInfo, WorkerLoad } from '../../../gateway/src/transcript.js';

const run = promisify(execFile);

/** ffmpeg output arguments per container (codec and muxer as such files usually carry). */
export const CONTAINER_ARGS: Readonly<Record<string, readonly string[]>> = {
  wav: ['-c:a', 'pcm_s16le'],
  mp3: ['-c:a', 'libmp3lame', '-b:a', '64k'],
  flac: ['-c:a', 'flac'],
  ogg: ['-c:a', 'libvorbis'],
  webm: ['-c:a', 'libopus', '-b:a', '48k'],
  m4a: ['-c:a', 'aac', '-b:a', '64k'],
  mp4: ['-c:a', 'aac', '-b:a', '64k'],
  mpeg: ['-c:a', 'mp2', '-b:a', '128k', '-f', 'mpeg'],
};

/** Writes a sine of `durationS` seconds as `<name>.<ext>` into `dir`; returns its path. */
export async function makeSine(
  dir: string,
  ext: string,
  durationS = 2,
  name = 'sine',
): Promise<string> {
  const target = path.join(dir, `${name}.${ext}`);
  await run('ffmpeg', [
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:duration=${durationS}`,
    '-ar',
    '16000',
    '-ac',
    '1',
    ...(CONTAINER_ARGS[ext] ?? []),
    target,
  ]);
  return target;
}

/** A fresh temp directory for fixtures. */
export function fixtureDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'stt-gateway-fixtures-'));
}

/** A 1x1 PNG. */
export const PNG_BYTES = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082',
  'hex',
);

/** Deterministic pseudo-random bytes that are no known format (first byte not 0xFF). */
export function noiseBytes(length: number, seed = 7): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i += 1) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out[i] = (state >> 16) & 0xff;
  }
  out[0] = 0x5a;
  return out;
}

/** Settings of a plain transcription: the worker's defaults for everything optional. */
export const PLAIN_SETTINGS = {
  task: 'transcribe',
  languageCode: undefined,
  model: undefined,
  prompt: undefined,
  temperature: 0,
  hasWordTimestamps: false,
} as const;

/** The options message of WhisperLive's stock Python client (v0.9/0.10), key for key. */
export const STOCK_CLIENT_OPTIONS = {
  uid: '0b9c7c2e-1b7e-4a53-9f0e-3f1a3f8f6a11',
  language: 'en',
  task: 'transcribe',
  model: 'small',
  use_vad: true,
  send_last_n_segments: 10,
  no_speech_thresh: 0.45,
  clip_audio: false,
  same_output_threshold: 10,
  enable_translation: false,
  target_language: 'fr',
  hotwords: null,
  enable_diarization: false,
  max_speakers: 10,
  word_timestamps: false,
  initial_prompt: null,
  vad_parameters: null,
};

/** The load of an idle worker with room for 4 streams. */
export const IDLE_LOAD: WorkerLoad = {
  activeStreams: 0,
  maxStreams: 4,
  queueDepth: 0,
  maxQueueDepth: 16,
  realTimeFactor: 0,
  liveStreams: 0,
  liveCycleMs: 0,
  maxLiveCycleMs: 0,
  fileBacklogMs: 0,
  meanBatchSize: 1,
};

/** What a worker serving tiny.en on the CPU says of itself, idle. */
export const TINY_EN_INFO: WorkerInfo = {
  modelName: 'tiny.en',
  isMultilingual: false,
  languages: ['en'],
  backend: 'fake',
  device: 'cpu',
  load: IDLE_LOAD,
  version: 'test',
};
