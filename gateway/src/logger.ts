/**
 * winston, configured once: JSON lines when stdout is not a terminal (production, CI, log
 * collectors), readable coloured lines otherwise. Field names follow DESIGN 2.3
 * (`request_id`, `session_id`, `worker`, `latency_ms`, `audio_ms`, `grpc_code`).
 */
import winston from 'winston';

import type { LogLevel } from './config.js';

/** The logger type passed around the gateway. */
export type Logger = winston.Logger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Most verbose level written. */
  readonly level: LogLevel;
  /** JSON lines (true) or readable text (false). */
  readonly isJson: boolean;
  /** Write nothing (tests). */
  readonly isSilent?: boolean;
}

function readableLine(info: winston.Logform.TransformableInfo): string {
  const { level, message, timestamp, stack, ...fields } = info;
  const extra = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  const trace = typeof stack === 'string' ? `\n${stack}` : '';
  return `${String(timestamp)} ${level} ${String(message)}${extra}${trace}`;
}

/** Creates the process's logger; sessions and requests use `logger.child({...})`. */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.isJson
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.errors({ stack: true }),
        winston.format.json(),
      )
    : winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.errors({ stack: true }),
        winston.format.colorize(),
        winston.format.printf(readableLine),
      );
  return winston.createLogger({
    level: options.level,
    format,
    transports: [
      // winston's typings declare Console apart from TransportStream's class hierarchy.
      // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
      new winston.transports.Console({ silent: options.isSilent ?? false }),
    ],
  });
}

/** A logger that writes nothing, for tests. */
export function createSilentLogger(): Logger {
  return createLogger({ level: 'error', isJson: true, isSilent: true });
}
