import { describe, expect, it } from 'vitest';

import { sniffMedia } from '../../../gateway/src/audio/sniff.js';
import { noiseBytes, PNG_BYTES } from '../support/fixtures.js';

function bytes(...parts: (string | number[])[]): Uint8Array {
  return Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );
}

/** An MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz) padded to its frame length. */
function mp3Frame(): Buffer {
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfb, 0x90, 0x64]);
  return frame;
}

describe('sniffMedia', () => {
  it('recognises audio and video containers by their magic bytes', () => {
    const cases: [Uint8Array, string][] = [
      [bytes('RIFF', [0, 0, 0, 0], 'WAVEfmt '), 'wav'],
      [bytes('RF64', [0, 0, 0, 0], 'WAVE'), 'wav'],
      [bytes('FORM', [0, 0, 0, 0], 'AIFF'), 'aiff'],
      [bytes('ID3', [4, 0, 0]), 'mp3'],
      [bytes('fLaC', [0, 0, 0, 34]), 'flac'],
      [bytes('OggS', [0, 2]), 'ogg'],
      [bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'webm'],
      [bytes([0, 0, 0, 0x20], 'ftypM4A '), 'mp4'],
      [bytes([0, 0, 0, 0x18], 'ftypisom'), 'mp4'],
      [bytes([0, 0, 1, 0xba, 0x44]), 'mpeg_ps'],
      [bytes([0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11]), 'asf'],
      [bytes('#!AMR\n'), 'amr'],
      [Buffer.concat([mp3Frame(), mp3Frame()]), 'mp3'],
      [bytes([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]), 'aac'],
    ];
    for (const [head, container] of cases) {
      expect(sniffMedia(head)).toEqual({ kind: 'media', container });
    }
  });

  it('recognises common non-audio formats', () => {
    const cases: [Uint8Array, string][] = [
      [PNG_BYTES, 'png'],
      [bytes([0xff, 0xd8, 0xff, 0xe0]), 'jpeg'],
      [bytes('GIF89a'), 'gif'],
      [bytes('%PDF-1.7'), 'pdf'],
      [bytes('PK', [3, 4]), 'zip'],
      [bytes('RIFF', [0, 0, 0, 0], 'WEBP'), 'webp'],
      [bytes([0x1f, 0x8b, 8]), 'gzip'],
    ];
    for (const [head, format] of cases)
      expect(sniffMedia(head)).toEqual({ kind: 'not_media', format });
  });

  it('calls empty input empty and anything else unknown', () => {
    expect(sniffMedia(new Uint8Array(0))).toEqual({ kind: 'empty' });
    expect(sniffMedia(noiseBytes(4096))).toEqual({ kind: 'unknown' });
    expect(sniffMedia(bytes('hello, world'))).toEqual({ kind: 'unknown' });
    expect(sniffMedia(bytes('#EXTM3U\nhttp://169.254.169.254/'))).toEqual({ kind: 'unknown' });
  });

  it('does not take a lone frame-sync pattern for MPEG audio', () => {
    const fake = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), noiseBytes(2000)]);
    expect(sniffMedia(fake)).toEqual({ kind: 'unknown' });
  });
});
