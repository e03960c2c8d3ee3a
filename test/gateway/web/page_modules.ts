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

/** A Realtime transcript item (realtime_transcript.js). */
export interface RealtimeItem {
  readonly id: string;
  readonly state: 'pending' | 'partial' | 'completed' | 'failed';
  readonly text: string;
  readonly isStoppedBySilence: boolean;
  readonly error?: string;
}

/** realtime_transcript.js */
export interface RealtimeTranscriptModule {
  readonly RealtimeTranscript: new () => {
    apply(event: Readonly<Record<string, unknown>>): RealtimeItem | undefined;
    readonly items: readonly RealtimeItem[];
    readonly pendingCount: number;
    readonly completedText: string;
  };
}

/** pcm16.js */
export interface Pcm16Module {
  readonly floatToPcm16: (samples: Float32Array) => Uint8Array;
  readonly bytesToBase64: (bytes: Uint8Array) => string;
}

/** realtime.js (its pure part). */
export interface RealtimeModule {
  readonly REALTIME_RATE: number;
  readonly defaultRealtimeUrl: (pageHref: string) => string;
  readonly realtimeProtocols: (apiKey: string) => string[];
  readonly sessionUpdate: (settings: {
    model: string;
    language: string;
    silenceDurationMs: number;
  }) => Record<string, unknown>;
  readonly appendEvent: (samples: Float32Array) => { type: string; audio: string };
}
