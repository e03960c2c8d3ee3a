import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { importPageModule, type Resampler, type ResamplerModule } from './page_modules.js';

const {
  Resampler: ResamplerClass,
  TARGET_RATE,
  designFilter,
} = await importPageModule<ResamplerModule>('resampler.js');

/** The rates microphones and sound cards run at. */
const DEVICE_RATES = [8000, 22050, 32000, 44100, 48000, 96000];

function tone(frequencyHz: number, rate: number, count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) =>
    Math.sin((2 * Math.PI * frequencyHz * i) / rate),
  );
}

/** Everything out of a resampler fed in blocks of the given sizes (cycled). */
function resampleAll(
  resampler: Resampler,
  input: Float32Array,
  blockSizes: readonly number[],
): number[] {
  const out: number[] = [];
  let offset = 0;
  for (let i = 0; offset < input.length; i += 1) {
    const size = blockSizes[i % blockSizes.length] ?? 128;
    out.push(...resampler.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  out.push(...resampler.flush());
  return out;
}

function rms(samples: readonly number[]): number {
  return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
}

describe('Resampler', () => {
  it.each(DEVICE_RATES)('keeps a 1 kHz tone at %i Hz: same amplitude, no phase shift', (rate) => {
    const out = resampleAll(new ResamplerClass(rate), tone(1000, rate, rate), [128]);
    expect(out).toHaveLength(TARGET_RATE);
    // Away from the edges (where the input starts and stops) the output is the ideal tone.
    const ideal = tone(1000, TARGET_RATE, TARGET_RATE);
    let worst = 0;
    for (let n = 500; n < TARGET_RATE - 500; n += 1) {
      worst = Math.max(worst, Math.abs((out[n] ?? 0) - (ideal[n] ?? 0)));
    }
    expect(worst).toBeLessThan(1e-3);
  });

  it.each(DEVICE_RATES.filter((rate) => rate > TARGET_RATE))(
    'removes what would alias at %i Hz: tones above 8 kHz lose at least 70 dB',
    (rate) => {
      for (const frequencyHz of [8200, 9000, 12_000, 15_000, 20_000]) {
        if (frequencyHz >= rate / 2) continue;
        const out = resampleAll(new ResamplerClass(rate), tone(frequencyHz, rate, rate), [128]);
        const level = rms(out.slice(500, -500)) / Math.SQRT1_2;
        expect(level, `${frequencyHz} Hz`).toBeLessThan(10 ** (-70 / 20));
      }
    },
  );

  it('keeps the speech band flat (within 0.5 dB up to the pass-band edge)', () => {
    const rate = 48_000;
    const { passHz } = designFilter(rate, TARGET_RATE);
    expect(passHz).toBeGreaterThanOrEqual(6500);
    for (const frequencyHz of [100, 300, 1000, 3000, 5000, passHz]) {
      const out = resampleAll(new ResamplerClass(rate), tone(frequencyHz, rate, rate), [128]);
      const gainDb = 20 * Math.log10(rms(out.slice(500, -500)) / Math.SQRT1_2);
      expect(Math.abs(gainDb), `${frequencyHz} Hz`).toBeLessThan(0.5);
    }
  });

  it('is not naive decimation: keeping every third sample would alias a 12 kHz tone to 4 kHz', () => {
    const input = tone(12_000, 48_000, 48_000);
    const naive = Array.from({ length: 16_000 }, (_, n) => input[3 * n] ?? 0);
    expect(rms(naive)).toBeGreaterThan(0.5);
    const filtered = resampleAll(new ResamplerClass(48_000), input, [128]);
    expect(rms(filtered.slice(500, -500))).toBeLessThan(1e-3);
  });

  it('gives the same output whatever the block sizes', () => {
    const input = Float32Array.from(
      { length: 9000 },
      (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011),
    );
    const whole = resampleAll(new ResamplerClass(44_100), input, [input.length]);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 8 }),
        (sizes) => {
          const pieces = resampleAll(new ResamplerClass(44_100), input, sizes);
          expect(pieces).toHaveLength(whole.length);
          pieces.forEach((value, i) => {
            expect(Math.abs(value - (whole[i] ?? 0))).toBeLessThan(1e-6);
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('returns one output per 1/16000 s of input, the last ones on flush', () => {
    for (const rate of DEVICE_RATES) {
      for (const count of [1, 127, 441, 4799, 48_000]) {
        const out = resampleAll(new ResamplerClass(rate), new Float32Array(count), [128]);
        expect(out.length, `${count} samples at ${rate} Hz`).toBe(
          Math.ceil((count * TARGET_RATE) / rate),
        );
      }
    }
  });

  it('copies 16 kHz input as it is', () => {
    const input = Float32Array.from([0.5, -0.25, 1, 0]);
    const resampler = new ResamplerClass(16_000);
    expect([...resampler.process(input)]).toEqual([...input]);
    expect(resampler.flush()).toHaveLength(0);
  });

  it('refuses rates that are not positive integers', () => {
    for (const rate of [0, -48_000, 44_100.5, Number.NaN]) {
      expect(() => new ResamplerClass(rate)).toThrow(RangeError);
    }
  });
});

describe('Resampler to 24 kHz (OpenAI Realtime from the page)', () => {
  const REALTIME_RATE = 24_000;

  it.each([44_100, 48_000])(
    'keeps a 1 kHz tone from %i Hz, with one output per 1/24000 s',
    (rate) => {
      const out = resampleAll(
        new ResamplerClass(rate, REALTIME_RATE),
        tone(1000, rate, rate),
        [128],
      );
      expect(out).toHaveLength(REALTIME_RATE);
      const ideal = tone(1000, REALTIME_RATE, REALTIME_RATE);
      let worst = 0;
      for (let n = 500; n < REALTIME_RATE - 500; n += 1) {
        worst = Math.max(worst, Math.abs((out[n] ?? 0) - (ideal[n] ?? 0)));
      }
      expect(worst).toBeLessThan(1e-3);
    },
  );

  it('removes what would alias from 48 kHz: tones above 12 kHz lose at least 70 dB', () => {
    for (const frequencyHz of [12_300, 15_000, 20_000]) {
      const out = resampleAll(
        new ResamplerClass(48_000, REALTIME_RATE),
        tone(frequencyHz, 48_000, 48_000),
        [128],
      );
      const level = rms(out.slice(500, -500)) / Math.SQRT1_2;
      expect(level, `${frequencyHz} Hz`).toBeLessThan(10 ** (-70 / 20));
    }
    // And keeps the speech band: a 9 kHz tone (above 16 kHz's Nyquist) passes.
    const out = resampleAll(
      new ResamplerClass(48_000, REALTIME_RATE),
      tone(9000, 48_000, 48_000),
      [128],
    );
    expect(20 * Math.log10(rms(out.slice(500, -500)) / Math.SQRT1_2)).toBeGreaterThan(-0.5);
  });
});
