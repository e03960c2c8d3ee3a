import { describe, expect, it } from 'vitest';

import {
  float32ToLinear16,
  linear16BytesToMs,
  linear16ToFloat32,
  msToLinear16Bytes,
  rechunkPcm,
} from '../../../gateway/src/audio/pcm.js';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

async function* pieces(...sizes: number[]): AsyncGenerator<Uint8Array> {
  let value = 0;
  for (const size of sizes) {
    await Promise.resolve();
    const piece = new Uint8Array(size);
    for (let i = 0; i < size; i += 1) piece[i] = value++ & 0xff;
    yield piece;
  }
}

describe('pcm durations', () => {
  it('converts between bytes and ms at 16 kHz LINEAR16', () => {
    expect(linear16BytesToMs(32_000)).toBe(1000);
    expect(linear16BytesToMs(31)).toBe(0);
    expect(msToLinear16Bytes(500)).toBe(16_000);
    expect(msToLinear16Bytes(0.1)).toBe(4);
  });
});

describe('float32ToLinear16 / linear16ToFloat32', () => {
  it('round-trips and clamps', () => {
    const pcm = float32ToLinear16(Float32Array.from([0, 0.5, -0.5, 1, -1, 2, -2]));
    expect([...new Int16Array(pcm.buffer, pcm.byteOffset, 7)]).toEqual([
      0, 16384, -16384, 32767, -32768, 32767, -32768,
    ]);
    const back = linear16ToFloat32(pcm);
    expect(back[1]).toBeCloseTo(0.5, 4);
    expect(back[4]).toBe(-1);
    expect(linear16ToFloat32(Buffer.from([1, 2, 3])).length).toBe(1);
  });
});

describe('rechunkPcm', () => {
  it('re-cuts a stream into fixed chunks, keeping every byte in order', async () => {
    const chunks = await collect(rechunkPcm(pieces(3, 5, 0, 9, 1), 4));
    expect(chunks.map((c) => c.length)).toEqual([4, 4, 4, 4, 2]);
    expect([...Buffer.concat(chunks)]).toEqual(Array.from({ length: 18 }, (_, i) => i));
  });

  it('drops a trailing odd byte and yields nothing for an empty stream', async () => {
    expect((await collect(rechunkPcm(pieces(5), 4))).map((c) => c.length)).toEqual([4]);
    expect(await collect(rechunkPcm(pieces(), 4))).toEqual([]);
  });

  it('refuses chunk sizes that are not whole samples', async () => {
    await expect(collect(rechunkPcm(pieces(4), 3))).rejects.toThrow(RangeError);
  });
});
