/**
 * Client audio of a Realtime session to the worker's format: PCM16 at 24 kHz, or G.711
 * μ-law / A-law at 8 kHz (ITU-T G.711), decoded and resampled to 16 kHz LINEAR16. One
 * converter per session keeps the resampler's state across appends, so chunk boundaries
 * leave no trace in the audio.
 */
import { createResampler, type Resampler } from '../audio/resampler.js';
import { float32ToLinear16, linear16ToFloat32 } from '../audio/pcm.js';
import { PCM_RATE_HERTZ, type AudioFormat } from './protocol.js';

/** Sample rate of G.711 audio, in Hz. */
export const G711_RATE_HERTZ = 8_000;

/** One G.711 μ-law byte as a 16-bit sample (G.711's expansion, bits inverted on the wire). */
function expandMuLaw(byte: number): number {
  const code = ~byte & 0xff;
  const exponent = (code >> 4) & 0x07;
  const mantissa = code & 0x0f;
  // The bias of 0x84 (132) keeps the segments contiguous; it is taken off again after the shift.
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  // `0 -` rather than unary minus: the negative zero code is a plain 0.
  return (code & 0x80) !== 0 ? 0 - magnitude : magnitude;
}

/** One G.711 A-law byte as a 16-bit sample (even bits inverted on the wire). */
function expandALaw(byte: number): number {
  const code = byte ^ 0x55;
  const exponent = (code >> 4) & 0x07;
  const mantissa = code & 0x0f;
  const magnitude =
    exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  // A-law's sign bit is set for positive samples.
  return (code & 0x80) !== 0 ? magnitude : -magnitude;
}

function table(expand: (byte: number) => number): Float32Array {
  return Float32Array.from({ length: 256 }, (_, byte) => expand(byte) / 32768);
}

/** The 256 G.711 codes as floats in [-1, 1). */
const MU_LAW = table(expandMuLaw);
const A_LAW = table(expandALaw);

/** G.711 bytes as float samples. */
export function decodeG711(bytes: Uint8Array, law: 'mu' | 'a'): Float32Array {
  const codes = law === 'mu' ? MU_LAW : A_LAW;
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) out[i] = codes[bytes[i] ?? 0] ?? 0;
  return out;
}

/** The expansion of one code to a 16-bit sample (exported for tests). */
export const G711_EXPANSIONS = { mu: expandMuLaw, a: expandALaw } as const;

/** Converts one session's client audio, append after append. */
export interface AudioConverter {
  /** The format it reads. */
  readonly format: AudioFormat;
  /** One append's bytes as 16 kHz LINEAR16 (possibly empty while the filter fills). */
  convert(bytes: Buffer): Buffer;
  /** What the resampler still holds, as 16 kHz LINEAR16 (when the format changes). */
  flush(): Buffer;
  /** Duration of `byteCount` bytes of client audio, in ms. */
  bytesToMs(byteCount: number): number;
}

class FormatConverter implements AudioConverter {
  readonly format: AudioFormat;
  readonly #resampler: Resampler;
  /** A PCM16 byte left over from an odd-length append; the next append completes it. */
  #strayByte: number | undefined;

  constructor(format: AudioFormat) {
    this.format = format;
    this.#resampler = createResampler(
      format.type === 'audio/pcm' ? PCM_RATE_HERTZ : G711_RATE_HERTZ,
    );
  }

  convert(bytes: Buffer): Buffer {
    return float32ToLinear16(this.#resampler.process(this.#decode(bytes)));
  }

  flush(): Buffer {
    return float32ToLinear16(this.#resampler.flush());
  }

  bytesToMs(byteCount: number): number {
    const samples = this.format.type === 'audio/pcm' ? byteCount / 2 : byteCount;
    const rate = this.format.type === 'audio/pcm' ? PCM_RATE_HERTZ : G711_RATE_HERTZ;
    return (samples * 1000) / rate;
  }

  #decode(bytes: Buffer): Float32Array {
    switch (this.format.type) {
      case 'audio/pcmu':
        return decodeG711(bytes, 'mu');
      case 'audio/pcma':
        return decodeG711(bytes, 'a');
      case 'audio/pcm': {
        let whole = bytes;
        if (this.#strayByte !== undefined) {
          whole = Buffer.concat([Buffer.of(this.#strayByte), bytes]);
          this.#strayByte = undefined;
        }
        if (whole.length % 2 === 1) {
          this.#strayByte = whole[whole.length - 1];
          whole = whole.subarray(0, whole.length - 1);
        }
        return linear16ToFloat32(whole);
      }
    }
  }
}

/** A converter for `format`. */
export function createAudioConverter(format: AudioFormat): AudioConverter {
  return new FormatConverter(format);
}
