/** A session's socket in memory: what was sent, how it was closed, whether reading paused. */
import type { SessionSocket } from '../../../gateway/src/ws/session.js';

export class FakeSocket implements SessionSocket {
  readonly sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  isPaused = false;
  bufferedAmount = 0;

  send(text: string): void {
    this.sent.push(text);
  }

  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
  }

  /** The messages sent, parsed. */
  messages(): unknown[] {
    return this.sent.map((text) => JSON.parse(text) as unknown);
  }
}
