// Audio as OpenAI Realtime's `input_audio_buffer.append` carries it: 16-bit signed
// little-endian PCM (`audio/pcm`), base64-encoded. A pure module (the page and the gateway's
// unit tests use it).

/**
 * Float samples (-1..1) as PCM16 LE bytes: rounded, and clipped where the microphone
 * overshoots full scale.
 * @param {Float32Array} samples
 * @returns {Uint8Array}
 */
export function floatToPcm16(samples) {
  const bytes = new Uint8Array(2 * samples.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i += 1) {
    const clipped = Math.max(-1, Math.min(1, samples[i]));
    // Full scale is 32767 up and 32768 down, so -1 and 1 both reach their end.
    const value = Math.round(clipped < 0 ? clipped * 32768 : clipped * 32767);
    view.setInt16(2 * i, value, true);
  }
  return bytes;
}

/** Bytes per btoa() call: String.fromCharCode takes its characters as arguments. */
const BASE64_CHUNK = 0x6000;

/**
 * Standard base64 with padding, as the Realtime API reads it.
 * @param {Uint8Array} bytes
 */
export function bytesToBase64(bytes) {
  let binary = '';
  for (let offset = 0; offset < bytes.length; offset += BASE64_CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + BASE64_CHUNK));
  }
  return btoa(binary);
}
