// AudioWorklet processor of the live microphone: mono input at the device's rate, low-passed
// and resampled (resampler.js) to the rate the protocol reads (`processorOptions.rate`: 16 kHz
// for WhisperLive, 24 kHz for OpenAI Realtime), posted to the page in frames of
// `processorOptions.frameSamples` float32 samples.
import { Resampler } from './resampler.js';

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { rate, frameSamples } = options.processorOptions;
    this.frameSamples = frameSamples;
    // `sampleRate` is the AudioContext's rate, the device's unless the page forced one.
    this.resampler = new Resampler(Math.round(sampleRate), rate);
    this.frame = new Float32Array(frameSamples);
    this.filled = 0;
    this.isStopped = false;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') this.flush();
    };
  }

  /** Sends the frame being filled (whole, or its first `count` samples at the end). */
  post(count) {
    const frame = count === this.frameSamples ? this.frame : this.frame.slice(0, count);
    this.port.postMessage({ type: 'frame', samples: frame }, [frame.buffer]);
    this.frame = new Float32Array(this.frameSamples);
    this.filled = 0;
  }

  push(samples) {
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(samples.length - offset, this.frameSamples - this.filled);
      this.frame.set(samples.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.frameSamples) this.post(this.frameSamples);
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

registerProcessor('capture', CaptureProcessor);
