/**
 * Every WebSocket close code the WhisperLive server uses (RFC 6455 §7.4.1), and why. This
 * is the one table: sessions and the server name these entries, never the numbers. A close
 * that ends a session abnormally always follows a WhisperLive message saying why (`ERROR`,
 * `WAIT` or `DISCONNECT`), because WhisperLive's clients read messages, not close codes.
 */
export const CLOSE_CODES = Object.freeze({
  /**
   * 1000: the session ended as planned: the final transcript after `END_OF_AUDIO`, or the
   * session time limit (after `DISCONNECT`).
   */
  normal: 1000,
  /** 1001: the gateway is shutting down (after `DISCONNECT`, or `ERROR` while starting). */
  goingAway: 1001,
  /** 1007: an audio frame that is not a whole number of samples of the client's format. */
  invalidPayload: 1007,
  /**
   * 1008: the client broke the protocol or a limit: no or invalid options, options the
   * worker refuses, audio faster than it can be processed (backlog over
   * `maxPendingAudioMs`), or a client that does not read its messages.
   */
  policyViolation: 1008,
  /**
   * 1009: a frame over the largest accepted frame (`maxPayloadBytes`). Sent by the `ws`
   * library itself, never by a session; listed so that the table is complete.
   */
  messageTooBig: 1009,
  /**
   * 1011: the server failed the session: the worker went away, stopped responding, ended
   * the stream, missed a deadline or failed internally.
   */
  internalError: 1011,
  /**
   * 1013: no room now, try again later: the session limit (after `WAIT`), a busy worker, or
   * a per-client limit (connections open, connections per minute; after `ERROR`).
   */
  tryAgainLater: 1013,
});

/** One of the close codes of {@link CLOSE_CODES}. */
export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];
