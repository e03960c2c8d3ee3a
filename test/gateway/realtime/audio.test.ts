import { describe, expect, it } from 'vitest';

import { linear16ToFloat32 } from '../../../gateway/src/audio/pcm.js';
import {
  createAudioConverter,
  decodeG711,
  G711_EXPANSIONS,
} from '../../../gateway/src/realtime/audio.js';

/** A tone as 16-bit PCM at `rate`. */
function toneSamples(frequencyHz: number, rate: number, count: number, amplitude = 0.5): number[] {
  return Array.from({ length: count }, (_, i) =>
    Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * frequencyHz * i) / rate)),
  );
}

function pcm16(samples: readonly number[]): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => out.writeInt16LE(sample, i * 2));
  return out;
}

/** Peak of a 16 kHz LINEAR16 buffer away from its edges, in [0, 1]. */
function innerPeak(pcm: Buffer): number {
  const samples = linear16ToFloat32(pcm);
  let peak = 0;
  for (let i = 400; i < samples.length - 400; i += 1) {
    peak = Math.max(peak, Math.abs(samples[i] ?? 0));
  }
  return peak;
}

describe('G.711', () => {
  it('expands the reference codes of both laws (ITU-T G.711 tables)', () => {
    const mu = G711_EXPANSIONS.mu;
    // 0xFF and 0x7F are the two zeros; 0x00 / 0x80 the extremes.
    expect([mu(0xff), mu(0x7f), mu(0x80), mu(0x00), mu(0xf0), mu(0x70)]).toEqual([
      0, 0, 32124, -32124, 120, -120,
    ]);
    const a = G711_EXPANSIONS.a;
    expect([a(0xd5), a(0x55), a(0xaa), a(0x2a), a(0xd4), a(0x54)]).toEqual([
      8, -8, 32256, -32256, 24, -24,
    ]);
  });

  it('is monotonic in each half, as a companding law must be', () => {
    for (const law of ['mu', 'a'] as const) {
      const values = Array.from({ length: 256 }, (_, code) => G711_EXPANSIONS[law](code));
      expect(new Set(values.map(Math.abs)).size).toBeGreaterThan(120);
      expect(Math.max(...values)).toBeLessThan(32768);
      expect(Math.min(...values)).toBeGreaterThanOrEqual(-32768);
    }
    expect(Array.from(decodeG711(Uint8Array.of(0x80, 0xff), 'mu'))).toEqual([32124 / 32768, 0]);
  });
});

describe('AudioConverter', () => {
  it('resamples 24 kHz PCM16 to 16 kHz, keeping a speech-band tone, in any chunking', () => {
    const input = pcm16(toneSamples(440, 24_000, 24_000));
    const whole = createAudioConverter({ type: 'audio/pcm', rate: 24_000 });
    const once = Buffer.concat([whole.convert(input), whole.flush()]);
    expect(once.length).toBe(32_000);
    expect(innerPeak(once)).toBeCloseTo(0.5, 2);

    // Odd-sized appends (a sample split across two) give the same audio.
    const pieces = createAudioConverter({ type: 'audio/pcm', rate: 24_000 });
    const out: Buffer[] = [];
    for (let offset = 0; offset < input.length; offset += 4801) {
      out.push(pieces.convert(input.subarray(offset, offset + 4801)));
    }
    out.push(pieces.flush());
    expect(Buffer.concat(out)).toEqual(once);
  });

  it('decodes μ-law and A-law at 8 kHz to 16 kHz', () => {
    for (const type of ['audio/pcmu', 'audio/pcma'] as const) {
      const converter = createAudioConverter({ type });
      // 0xFF (μ-law) and 0xD5 (A-law) are silence: the output is (near) zero.
      const silence = Buffer.alloc(8000, type === 'audio/pcmu' ? 0xff : 0xd5);
      const out = Buffer.concat([converter.convert(silence), converter.flush()]);
      expect(out.length).toBe(32_000);
      expect(innerPeak(out)).toBeLessThan(0.001);
    }
  });

  it('measures client audio in ms by its own rate', () => {
    expect(createAudioConverter({ type: 'audio/pcm', rate: 24_000 }).bytesToMs(4800)).toBe(100);
    expect(createAudioConverter({ type: 'audio/pcmu' }).bytesToMs(800)).toBe(100);
  });
});
