/**
 * What a live session reports of its life, whichever its protocol (WhisperLive's port or
 * OpenAI Realtime): opened and closed in the metrics, how it closed (the code and reason, and
 * whether the client closed it) and the closing log line.
 */
import type { Logger } from '../logger.js';
import { sessionOutcome, type Api, type GatewayMetrics } from '../metrics.js';

/** The APIs with live sessions. */
export type LiveApi = Extract<Api, 'whisperlive' | 'realtime'>;

/** The life of one session; counted as opened when made. */
export class SessionRecord {
  readonly #api: LiveApi;
  readonly #metrics: GatewayMetrics;
  #closeCode: number | undefined;
  #closeReason = '';
  #isClosedByClient = false;

  constructor(api: LiveApi, metrics: GatewayMetrics) {
    this.#api = api;
    this.#metrics = metrics;
    metrics.sessionOpened(api);
  }

  /** The server closes the session with this WebSocket code and reason. */
  closing(code: number, reason: string): void {
    this.#closeCode = code;
    this.#closeReason = reason;
  }

  /** The client closed (or dropped) the connection, with this code. */
  closedByClient(code: number): void {
    this.closing(code, 'client closed the connection');
    this.#isClosedByClient = true;
  }

  /**
   * Counts the session's audio and outcome, and logs `message` with how long it lasted, its
   * audio, how it closed and the protocol's own `fields`.
   */
  report(
    logger: Logger,
    message: string,
    durationMs: number,
    audioMs: number,
    fields: Record<string, unknown> = {},
  ): void {
    this.#metrics.audioProcessed(this.#api, audioMs / 1000);
    this.#metrics.sessionClosed(this.#api, sessionOutcome(this.#closeCode, this.#isClosedByClient));
    logger.info(message, {
      duration_ms: durationMs,
      audio_ms: Math.round(audioMs),
      close_code: this.#closeCode,
      close_reason: this.#closeReason,
      ...fields,
    });
  }
}
