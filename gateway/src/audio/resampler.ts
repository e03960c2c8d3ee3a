/**
 * The web page's streaming resampler (`gateway/public/resampler.js`: a windowed-sinc
 * polyphase filter in plain JavaScript, shared with the browser's capture worklet), loaded
 * once and typed for the gateway. The OpenAI Realtime endpoint brings 24 kHz and 8 kHz client
 * audio to the worker's 16 kHz with it.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { PUBLIC_DIR } from '../paths.js';
import { SAMPLE_RATE_HERTZ } from './pcm.js';

/** A streaming resampler: blocks of any length in, the output available so far out. */
export interface Resampler {
  /** Input samples the filter reaches on each side of an output instant. */
  readonly halfWidth: number;
  /** Resamples one block of float samples; returns the output now available. */
  process(samples: Float32Array): Float32Array;
  /** The output still held back for want of future input (zeros are assumed). */
  flush(): Float32Array;
}

/** The exports of resampler.js. */
export interface ResamplerModule {
  /** The rate the page sends, 16 kHz. */
  readonly TARGET_RATE: number;
  readonly Resampler: new (inputRate: number, outputRate?: number) => Resampler;
  readonly designFilter: (
    inputRate: number,
    outputRate: number,
  ) => { passHz: number; stopHz: number; halfWidth: number };
}

/** Loads resampler.js (or another of the page's modules) by URL. */
export async function importPublicModule<T>(name: string): Promise<T> {
  return (await import(pathToFileURL(path.join(PUBLIC_DIR, name)).href)) as T;
}

const resamplerModule = await importPublicModule<ResamplerModule>('resampler.js');

/** A resampler from `inputRate` to the worker's 16 kHz. */
export function createResampler(inputRate: number): Resampler {
  return new resamplerModule.Resampler(inputRate, SAMPLE_RATE_HERTZ);
}
