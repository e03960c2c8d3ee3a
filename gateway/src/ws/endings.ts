/**
 * How a WhisperLive session ends: the message the client gets, then the close frame. The
 * mapping of worker failures to the two lives here, apart from the state machine that acts
 * on it, so it can be read (and tested) as one table.
 */
import {
  DeadlineExceededError,
  InvalidRequestError,
  RequestCancelledError,
  WorkerBusyError,
  WorkerUnavailableError,
  WorkerUnresponsiveError,
} from '../errors.js';
import { CLOSE_CODES, type CloseCode } from './close_codes.js';
import { encodeError } from './protocol.js';

/** How a session ends: the message the client gets (if any), then the close frame. */
export interface Ending {
  /** The encoded WhisperLive message sent before the close, or undefined for none. */
  readonly message: string | undefined;
  /** The close code. */
  readonly code: CloseCode;
  /** The close reason (also logged). */
  readonly reason: string;
}

/**
 * The message and close frame for a failed worker call: the client learns why in a
 * WhisperLive `ERROR` (or `WAIT`) message, then the socket closes with the code of the
 * {@link CLOSE_CODES} entry that fits. Messages stay short and generic; details go to the log.
 */
export function failureEnding(uid: string, error: unknown): Ending {
  if (error instanceof InvalidRequestError) {
    return {
      message: encodeError(uid, error.message),
      code: CLOSE_CODES.policyViolation,
      reason: 'invalid options',
    };
  }
  if (error instanceof WorkerUnresponsiveError) {
    return {
      message: encodeError(uid, 'worker unavailable: it stopped responding'),
      code: CLOSE_CODES.internalError,
      reason: 'worker not responding',
    };
  }
  if (error instanceof WorkerUnavailableError || error instanceof RequestCancelledError) {
    return {
      message: encodeError(uid, 'worker unavailable'),
      code: CLOSE_CODES.internalError,
      reason: 'worker unavailable',
    };
  }
  if (error instanceof WorkerBusyError) {
    return {
      message: encodeError(uid, 'the server is at capacity'),
      code: CLOSE_CODES.tryAgainLater,
      reason: 'worker busy',
    };
  }
  if (error instanceof DeadlineExceededError) {
    return {
      message: encodeError(uid, 'the worker did not answer in time'),
      code: CLOSE_CODES.internalError,
      reason: 'worker deadline exceeded',
    };
  }
  return {
    message: encodeError(uid, 'internal server error'),
    code: CLOSE_CODES.internalError,
    reason: 'internal error',
  };
}
