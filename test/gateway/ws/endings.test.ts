import { describe, expect, it } from 'vitest';

import {
  DeadlineExceededError,
  InternalError,
  InvalidRequestError,
  RequestCancelledError,
  WorkerBusyError,
  WorkerUnavailableError,
  WorkerUnresponsiveError,
} from '../../../gateway/src/errors.js';
import { CLOSE_CODES } from '../../../gateway/src/ws/close_codes.js';
import { failureEnding } from '../../../gateway/src/ws/endings.js';
import { CLOSE_CODES as SESSION_CLOSE_CODES } from '../../../gateway/src/ws/session.js';

describe('CLOSE_CODES', () => {
  it('holds each RFC 6455 code once, and session.ts re-exports the same table', () => {
    const codes = Object.values(CLOSE_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.every((code) => code >= 1000 && code <= 1015)).toBe(true);
    expect(SESSION_CLOSE_CODES).toBe(CLOSE_CODES);
    expect(CLOSE_CODES).toEqual({
      normal: 1000,
      goingAway: 1001,
      invalidPayload: 1007,
      policyViolation: 1008,
      messageTooBig: 1009,
      internalError: 1011,
      tryAgainLater: 1013,
    });
  });
});

describe('failureEnding', () => {
  it('maps each worker failure to an ERROR message and a close code', () => {
    const cases: [Error, string, number, string][] = [
      [new InvalidRequestError('bad model'), 'bad model', 1008, 'invalid options'],
      [new WorkerUnavailableError('gone'), 'worker unavailable', 1011, 'worker unavailable'],
      [
        new WorkerUnresponsiveError(10_000),
        'worker unavailable: it stopped responding',
        1011,
        'worker not responding',
      ],
      [new RequestCancelledError(), 'worker unavailable', 1011, 'worker unavailable'],
      [new WorkerBusyError('full'), 'the server is at capacity', 1013, 'worker busy'],
      [
        new DeadlineExceededError('late'),
        'the worker did not answer in time',
        1011,
        'worker deadline exceeded',
      ],
      [new InternalError(), 'internal server error', 1011, 'internal error'],
      [new Error('anything else'), 'internal server error', 1011, 'internal error'],
    ];
    for (const [error, message, code, reason] of cases) {
      expect(failureEnding('u1', error)).toEqual({
        message: JSON.stringify({ uid: 'u1', status: 'ERROR', message }),
        code,
        reason,
      });
    }
  });
});
