// AudioWorklet processor of the live microphone: mono input at the device's rate, low-passed
// and resampled to 16 kHz (resampler.js), posted to the page in frames of 4096 float32
// samples (256 ms, the frame of WhisperLive's own client).
import { Resampler, TARGET_RATE } from './resampler.js';

export const FRAME_SAMPLES = 4096;

class Capture16kProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // `sampleRate` is the AudioContext's rate, the device's unless the page forced one.
    this.resampler = new Resampler(Math.round(sampleRate), TARGET_RATE);
    this.frame = new Float32Array(FRAME_SAMPLES);
    this.filled = 0;
    this.isStopped = false;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') this.flush();
    };
  }

  /** Sends the frame being filled (whole, or its first `count` samples at the end). */
  post(count) {
    const frame = count === FRAME_SAMPLES ? this.frame : this.frame.slice(0, count);
    this.port.postMessage({ type: 'frame', samples: frame }, [frame.buffer]);
    this.frame = new Float32Array(FRAME_SAMPLES);
    this.filled = 0;
  }

  push(samples) {
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(samples.length - offset, FRAME_SAMPLES - this.filled);
      this.frame.set(samples.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === FRAME_SAMPLES) this.post(FRAME_SAMPLES);
    }
  }

  /** End of capture: everything held back goes out, then `flushed`. */
  flush() {
    if (this.isStopped) return;
    this.isStopped = true;
    this.push(this.resampler.flush());
    if (this.filled > 0) this.post(this.filled);
    this.port.postMessage({ type: 'flushed' });
  }

  process(inputs) {
    if (this.isStopped) return false;
    // The node mixes its input down to one channel (channelCount 1, explicit).
    const channel = inputs[0]?.[0];
    if (channel !== undefined) this.push(this.resampler.process(channel));
    return true;
  }
}

registerProcessor('capture-16k', Capture16kProcessor);
