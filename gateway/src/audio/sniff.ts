/**
 * Content sniffing: decide from the first bytes whether an upload is an audio/video container
 * we hand to ffmpeg, a known non-audio format, or unknown. The name and the declared
 * Content-Type are never trusted.
 */
import { open } from 'node:fs/promises';

/** Containers we accept (ffmpeg decides the codec). */
export type MediaContainer =
  | 'wav'
  | 'aiff'
  | 'avi'
  | 'mp3'
  | 'aac'
  | 'flac'
  | 'ogg'
  | 'webm'
  | 'mp4'
  | 'mpeg_ps'
  | 'mpeg_ts'
  | 'asf'
  | 'amr'
  | 'caf'
  | 'au'
  | 'ac3';

/** What the first bytes say. */
export type SniffResult =
  | { readonly kind: 'empty' }
  | { readonly kind: 'media'; readonly container: MediaContainer }
  | { readonly kind: 'not_media'; readonly format: string }
  | { readonly kind: 'unknown' };

/** Bytes read from the start of a file for sniffing. */
export const SNIFF_BYTES = 8192;

function ascii(head: Uint8Array, offset: number, text: string): boolean {
  if (head.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i += 1) {
    if (head[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

function bytesAt(head: Uint8Array, offset: number, expected: readonly number[]): boolean {
  if (head.length < offset + expected.length) return false;
  return expected.every((value, i) => head[offset + i] === value);
}

// kbit/s by [version][layer][index]; version 1 = MPEG-1, 2 = MPEG-2/2.5.
const BITRATES: Readonly<Record<string, readonly number[]>> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Readonly<Record<number, readonly number[]>> = {
  0: [11025, 12000, 8000], // MPEG-2.5
  2: [22050, 24000, 16000], // MPEG-2
  3: [44100, 48000, 32000], // MPEG-1
};

/** Length in bytes of the MPEG audio frame whose header starts at `offset`, or undefined. */
function mpegFrameLength(head: Uint8Array, offset: number): number | undefined {
  const b0 = head[offset];
  const b1 = head[offset + 1];
  const b2 = head[offset + 2];
  if (b0 === undefined || b1 === undefined || b2 === undefined) return undefined;
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const versionBits = (b1 >> 3) & 0x3;
  const layerBits = (b1 >> 1) & 0x3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 0x3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15) {
    return undefined;
  }
  if (rateIndex === 3) return undefined;
  const layer = 4 - layerBits; // 11 → I, 10 → II, 01 → III
  const version = versionBits === 3 ? 1 : 2;
  const bitrate = (BITRATES[`${version}-${layer}`]?.[bitrateIndex] ?? 0) * 1000;
  const sampleRate = SAMPLE_RATES[versionBits]?.[rateIndex] ?? 0;
  if (bitrate === 0 || sampleRate === 0) return undefined;
  const padding = (b2 >> 1) & 0x1;
  if (layer === 1) return (Math.floor((12 * bitrate) / sampleRate) + padding) * 4;
  const factor = layer === 3 && version === 2 ? 72 : 144;
  return Math.floor((factor * bitrate) / sampleRate) + padding;
}

/** Length of the ADTS (raw AAC) frame at `offset`, or undefined. */
function adtsFrameLength(head: Uint8Array, offset: number): number | undefined {
  const b = head.subarray(offset, offset + 7);
  if (b.length < 7 || b[0] !== 0xff || ((b[1] ?? 0) & 0xf6) !== 0xf0) return undefined;
  if ((((b[2] ?? 0) >> 2) & 0xf) > 12) return undefined;
  const length = (((b[3] ?? 0) & 0x3) << 11) | ((b[4] ?? 0) << 3) | ((b[5] ?? 0) >> 5);
  return length >= 7 ? length : undefined;
}

/**
 * A frame header at 0 whose successor is also a frame header (when the successor lies inside
 * `head`). Checking two frames keeps random bytes that happen to start with 0xFFE from passing.
 */
function isFrameStream(
  head: Uint8Array,
  frameLength: (head: Uint8Array, offset: number) => number | undefined,
): boolean {
  const first = frameLength(head, 0);
  if (first === undefined) return false;
  if (first + 4 > head.length) return true;
  return frameLength(head, first) !== undefined;
}

/** Classifies the first bytes of a file (at least the first {@link SNIFF_BYTES} when available). */
export function sniffMedia(head: Uint8Array): SniffResult {
  if (head.length === 0) return { kind: 'empty' };
  const media = (container: MediaContainer): SniffResult => ({ kind: 'media', container });
  const other = (format: string): SniffResult => ({ kind: 'not_media', format });

  if (ascii(head, 0, 'RIFF') || ascii(head, 0, 'RIFX') || ascii(head, 0, 'RF64')) {
    if (ascii(head, 8, 'WAVE')) return media('wav');
    if (ascii(head, 8, 'AVI ')) return media('avi');
    if (ascii(head, 8, 'WEBP')) return other('webp');
    return { kind: 'unknown' };
  }
  if (ascii(head, 0, 'FORM') && (ascii(head, 8, 'AIFF') || ascii(head, 8, 'AIFC'))) {
    return media('aiff');
  }
  if (ascii(head, 0, 'ID3')) return media('mp3');
  if (ascii(head, 0, 'fLaC')) return media('flac');
  if (ascii(head, 0, 'OggS')) return media('ogg');
  if (bytesAt(head, 0, [0x1a, 0x45, 0xdf, 0xa3])) return media('webm');
  if (['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip'].some((box) => ascii(head, 4, box))) {
    return media('mp4');
  }
  if (bytesAt(head, 0, [0x00, 0x00, 0x01, 0xba]) || bytesAt(head, 0, [0x00, 0x00, 0x01, 0xb3])) {
    return media('mpeg_ps');
  }
  if (head[0] === 0x47 && head.length > 188 && head[188] === 0x47) return media('mpeg_ts');
  if (bytesAt(head, 0, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return media('asf');
  if (ascii(head, 0, '#!AMR')) return media('amr');
  if (ascii(head, 0, 'caff')) return media('caf');
  if (ascii(head, 0, '.snd')) return media('au');
  if (bytesAt(head, 0, [0x0b, 0x77])) return media('ac3');
  if (isFrameStream(head, mpegFrameLength)) return media('mp3');
  if (isFrameStream(head, adtsFrameLength)) return media('aac');

  if (bytesAt(head, 0, [0x89, 0x50, 0x4e, 0x47])) return other('png');
  if (bytesAt(head, 0, [0xff, 0xd8, 0xff])) return other('jpeg');
  if (ascii(head, 0, 'GIF8')) return other('gif');
  if (ascii(head, 0, '%PDF')) return other('pdf');
  if (bytesAt(head, 0, [0x50, 0x4b, 0x03, 0x04]) || bytesAt(head, 0, [0x50, 0x4b, 0x05, 0x06])) {
    return other('zip');
  }
  if (bytesAt(head, 0, [0x1f, 0x8b])) return other('gzip');
  if (bytesAt(head, 0, [0x7f, 0x45, 0x4c, 0x46])) return other('elf');
  if (ascii(head, 0, 'BM')) return other('bmp');
  if (ascii(head, 0, 'II*\0') || ascii(head, 0, 'MM\0*')) return other('tiff');
  if (bytesAt(head, 0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return other('7z');
  if (ascii(head, 0, 'Rar!')) return other('rar');
  return { kind: 'unknown' };
}

/** Reads the first {@link SNIFF_BYTES} of a file and classifies them. */
export async function sniffFile(filePath: string): Promise<SniffResult> {
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return sniffMedia(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
