/**
 * PCM helpers (pure): the worker's audio format is 16 kHz mono, either signed 16-bit
 * little-endian (LINEAR16) or 32-bit float.
 */

/** Sample rate the worker accepts. */
export const SAMPLE_RATE_HERTZ = 16_000;

/** Bytes per LINEAR16 sample. */
export const LINEAR16_BYTES_PER_SAMPLE = 2;

/** Bytes of LINEAR16 audio per millisecond. */
export const LINEAR16_BYTES_PER_MS = (SAMPLE_RATE_HERTZ * LINEAR16_BYTES_PER_SAMPLE) / 1000;

/** Duration of `byteCount` bytes of 16 kHz LINEAR16, in whole ms (rounded down). */
export function linear16BytesToMs(byteCount: number): number {
  return Math.floor(byteCount / LINEAR16_BYTES_PER_MS);
}

/** Bytes of 16 kHz LINEAR16 audio lasting `ms` milliseconds (whole samples). */
export function msToLinear16Bytes(ms: number): number {
  return Math.round((ms * SAMPLE_RATE_HERTZ) / 1000) * LINEAR16_BYTES_PER_SAMPLE;
}

/** Float samples in [-1, 1] to LINEAR16 (clamped; 1.0 maps to 32767, -1.0 to -32768). */
export function float32ToLinear16(samples: Float32Array): Buffer {
  const out = Buffer.alloc(samples.length * LINEAR16_BYTES_PER_SAMPLE);
  for (let i = 0; i < samples.length; i += 1) {
    const clamped = Math.max(-1, Math.min(1, samples[i] ?? 0));
    const value = clamped < 0 ? Math.round(clamped * 32768) : Math.round(clamped * 32767);
    out.writeInt16LE(value, i * LINEAR16_BYTES_PER_SAMPLE);
  }
  return out;
}

/** LINEAR16 to float samples in [-1, 1); a trailing odd byte is ignored. */
export function linear16ToFloat32(pcm: Uint8Array): Float32Array {
  const count = Math.floor(pcm.length / LINEAR16_BYTES_PER_SAMPLE);
  const view = new DataView(pcm.buffer, pcm.byteOffset, count * LINEAR16_BYTES_PER_SAMPLE);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 1) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

/**
 * Re-cuts a byte stream into chunks of exactly `chunkBytes` (the last one shorter), each a
 * whole number of samples. Pulls from `source` only as fast as the consumer pulls.
 */
export async function* rechunkPcm(
  source: AsyncIterable<Uint8Array>,
  chunkBytes: number,
): AsyncGenerator<Buffer, void, undefined> {
  if (chunkBytes <= 0 || chunkBytes % LINEAR16_BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(`chunkBytes must be a positive multiple of ${LINEAR16_BYTES_PER_SAMPLE}`);
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    if (piece.length === 0) continue;
    pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.length));
    pendingBytes += piece.length;
    if (pendingBytes < chunkBytes) continue;
    const joined = pending.length === 1 ? (pending[0] ?? Buffer.alloc(0)) : Buffer.concat(pending);
    let offset = 0;
    while (joined.length - offset >= chunkBytes) {
      yield joined.subarray(offset, offset + chunkBytes);
      offset += chunkBytes;
    }
    const rest = joined.subarray(offset);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
  }
  const whole = pendingBytes - (pendingBytes % LINEAR16_BYTES_PER_SAMPLE);
  if (whole > 0) yield Buffer.concat(pending).subarray(0, whole);
}
