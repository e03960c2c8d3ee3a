// Resampling between rates: the microphone to the 16 kHz that WhisperLive expects or the
// 24 kHz of OpenAI Realtime's PCM, and (in the gateway) Realtime's 24 kHz to the worker's
// 16 kHz. A pure module (no DOM, no audio API): the capture worklet imports it, and the
// gateway runs it in Node.
//
// The filter is a windowed sinc (Kaiser window) applied as a polyphase filter at the exact
// rational ratio of the two rates: frequencies above the new Nyquist frequency are removed
// before decimation, so they cannot fold back into the speech band as naive sample dropping
// would let them. The kernel is centred on each output instant (it waits for a few
// milliseconds of future input), so the output has no phase shift against the input.

/** The rate WhisperLive servers read. */
export const TARGET_RATE = 16000;

/** Attenuation above the output's Nyquist frequency, in dB. */
const STOPBAND_DB = 80;
/** The pass band ends at this share of the lower Nyquist frequency; the stop band starts at it. */
const PASSBAND_SHARE = 0.85;
/** More phases than this (exotic rate pairs) are rounded to the nearest of this many. */
const MAX_PHASES = 1024;

function greatestCommonDivisor(a, b) {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** The modified Bessel function I0, by its power series (converges fast for the betas used). */
function besselI0(x) {
  const quarterSquare = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 64 && term > sum * 1e-12; k += 1) {
    term *= quarterSquare / (k * k);
    sum += term;
  }
  return sum;
}

/**
 * The filter design for a pair of rates: cut-off and transition band in cycles per input
 * sample, half-width in input samples and the Kaiser beta (Kaiser's formulas).
 */
export function designFilter(inputRate, outputRate) {
  const nyquistHz = Math.min(inputRate, outputRate) / 2;
  const passHz = PASSBAND_SHARE * nyquistHz;
  const cutoff = (passHz + nyquistHz) / 2 / inputRate;
  const transition = (nyquistHz - passHz) / inputRate;
  const taps = (STOPBAND_DB - 7.95) / (14.36 * transition);
  return {
    passHz,
    stopHz: nyquistHz,
    cutoff,
    halfWidth: Math.ceil(taps / 2),
    beta: 0.1102 * (STOPBAND_DB - 8.7),
  };
}

/**
 * A streaming resampler: feed blocks of any length to {@link Resampler#process}, get the
 * output samples available so far; {@link Resampler#flush} returns the rest at the end.
 */
export class Resampler {
  /**
   * @param {number} inputRate - the capture rate in Hz (an integer, e.g. 44100 or 48000)
   * @param {number} [outputRate] - the rate wanted, 16000 by default
   */
  constructor(inputRate, outputRate = TARGET_RATE) {
    for (const rate of [inputRate, outputRate]) {
      if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`bad sample rate: ${rate}`);
    }
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.isPassThrough = inputRate === outputRate;
    const divisor = greatestCommonDivisor(inputRate, outputRate);
    // Output n sits at input position n * step / up (in input samples).
    this.up = outputRate / divisor;
    this.step = inputRate / divisor;
    const design = designFilter(inputRate, outputRate);
    this.halfWidth = design.halfWidth;
    this.phaseCount = Math.min(this.up, MAX_PHASES);
    this.kernels = this.#buildKernels(design);
    // Input history, starting halfWidth zeros before the first sample (absolute index base).
    this.buffer = new Float32Array(4 * this.halfWidth + 4096);
    this.length = this.halfWidth;
    this.base = -this.halfWidth;
    // Next output's position: integer input index and remainder (of `up`), exact.
    this.index = 0;
    this.remainder = 0;
    this.received = 0;
  }

  /** One kernel per phase, taps for input indices index-halfWidth+1 .. index+halfWidth. */
  #buildKernels({ cutoff, beta }) {
    const width = 2 * this.halfWidth;
    const norm = besselI0(beta);
    const kernels = [];
    for (let phase = 0; phase < this.phaseCount; phase += 1) {
      const fraction = phase / this.phaseCount;
      const kernel = new Float32Array(width);
      let sum = 0;
      for (let k = 0; k < width; k += 1) {
        // Distance from the output instant to this tap's input sample.
        const tau = fraction + (this.halfWidth - 1 - k);
        const x = 2 * cutoff * tau;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const u = tau / this.halfWidth;
        const window = Math.abs(u) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - u * u)) / norm;
        kernel[k] = sinc * window;
        sum += kernel[k];
      }
      // Unity gain at 0 Hz for every phase, so no phase adds a ripple of its own.
      for (let k = 0; k < width; k += 1) kernel[k] /= sum;
      kernels.push(kernel);
    }
    return kernels;
  }

  #append(samples) {
    if (this.length + samples.length > this.buffer.length) {
      const grown = new Float32Array(2 * (this.length + samples.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(samples, this.length);
    this.length += samples.length;
  }

  /**
   * Computes the outputs whose taps lie below absolute input index `limit` and whose
   * instant lies before `lastIndex`.
   */
  #drain(limit, outputs, lastIndex = Infinity) {
    const width = 2 * this.halfWidth;
    while (this.index + this.halfWidth < limit && this.index < lastIndex) {
      const start = this.index - this.halfWidth + 1 - this.base;
      const phase =
        this.phaseCount === this.up
          ? this.remainder
          : Math.min(this.phaseCount - 1, Math.round((this.remainder * this.phaseCount) / this.up));
      const kernel = this.kernels[phase];
      let acc = 0;
      for (let k = 0; k < width; k += 1) acc += kernel[k] * this.buffer[start + k];
      outputs.push(acc);
      this.remainder += this.step;
      this.index += Math.floor(this.remainder / this.up);
      this.remainder %= this.up;
    }
    // Keep only the history the next output needs.
    const keepFrom = this.index - this.halfWidth + 1 - this.base;
    if (keepFrom > 0) {
      this.buffer.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      this.base += keepFrom;
    }
  }

  /**
   * Resamples one block.
   * @param {Float32Array} samples - input at `inputRate`
   * @returns {Float32Array} the output samples now available (may be empty)
   */
  process(samples) {
    if (this.isPassThrough) return Float32Array.from(samples);
    this.#append(samples);
    this.received += samples.length;
    const outputs = [];
    this.#drain(this.base + this.length, outputs);
    return Float32Array.from(outputs);
  }

  /**
   * The output still held back for want of future input (zeros are assumed after the end).
   * @returns {Float32Array}
   */
  flush() {
    if (this.isPassThrough) return new Float32Array(0);
    const end = this.received;
    this.#append(new Float32Array(this.halfWidth + 1));
    const outputs = [];
    // Only outputs whose instant lies within the real input.
    this.#drain(this.base + this.length, outputs, end);
    return Float32Array.from(outputs);
  }
}
