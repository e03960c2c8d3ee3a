/**
 * The web page's pure modules (plain JavaScript in gateway/public, no build step), loaded by
 * URL so TypeScript takes their shape from the interfaces below instead of checking them.
 */
import {
  importPublicModule,
  type Resampler,
  type ResamplerModule,
} from '../../../gateway/src/audio/resampler.js';

/** `import()` of one of the page's modules. */
export const importPageModule = importPublicModule;

export type { Resampler, ResamplerModule };

/** A WhisperLive segment as the server sends it. */
export interface WireSegment {
  readonly start: string;
  readonly end: string;
  readonly text: string;
  readonly completed?: boolean;
}

/** live_transcript.js */
export interface LiveTranscriptModule {
  readonly LiveTranscript: new () => {
    apply(segments: readonly WireSegment[]): void;
    readonly committed: string;
    readonly partial: string;
    readonly text: string;
  };
}

/** sse.js */
export interface SseModule {
  readonly SseReader: new () => { push(chunk: string): unknown[] };
}

/** live.js (its pure part). */
export interface LiveModule {
  readonly defaultWebSocketUrl: (
    config: { whisperlive_port: number; whisperlive_url: string | null },
    location: { protocol: string; host: string; hostname: string },
  ) => string;
}

/** upload.js (its pure part). */
export interface UploadModule {
  readonly errorMessage: (status: number, statusText: string, body: string) => string;
}
