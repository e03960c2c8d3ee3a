/** A winston logger that keeps its entries in memory, for assertions on logs. */
import { Writable } from 'node:stream';

import winston from 'winston';

import type { Logger } from '../../../gateway/src/logger.js';

/** One captured entry. */
export type LogEntry = Record<string, unknown> & { level: string; message: string };

/** Creates a logger and the array it writes to. */
export function createMemoryLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    objectMode: true,
    write(entry: LogEntry, _encoding, callback) {
      entries.push(entry);
      callback();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, entries };
}
