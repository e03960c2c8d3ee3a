import { describe, expect, it } from 'vitest';

import {
  createAudioPump,
  defaultPauseAtMs,
  type AudioSink,
} from '../../../gateway/src/ws/audio_pump.js';

/** A sink whose writes complete only when released, like a full gRPC send buffer. */
class HeldSink implements AudioSink {
  readonly writes: Buffer[] = [];
  /** Writes and turn ends in the order the worker would see them. */
  readonly requests: (number | 'end_turn')[] = [];
  attempts = 0;
  #waiting: (() => void)[] = [];
  #failure: Error | undefined;
  isHolding = true;

  write(chunk: Buffer): Promise<void> {
    this.attempts += 1;
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    this.writes.push(chunk);
    this.requests.push(chunk.length);
    if (!this.isHolding) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  endTurn(): void {
    this.requests.push('end_turn');
  }

  /** Completes the writes waiting now. */
  release(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  fail(error: Error): void {
    this.#failure = error;
  }
}

class Reader {
  events: string[] = [];
  pause(): void {
    this.events.push('pause');
  }
  resume(): void {
    this.events.push('resume');
  }
}

/** 1 byte = 1 ms keeps the arithmetic readable. */
function setup(limits: { maxPendingMs?: number; pauseAtMs?: number } = {}) {
  const sink = new HeldSink();
  const reader = new Reader();
  let drained = 0;
  const pump = createAudioPump({
    sink,
    reader,
    bytesToMs: (bytes) => bytes,
    maxPendingMs: limits.maxPendingMs ?? 100,
    pauseAtMs: limits.pauseAtMs ?? 50,
    onDrained: () => {
      drained += 1;
    },
  });
  return { sink, reader, pump, drained: () => drained };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('defaultPauseAtMs', () => {
  it('pauses after a second of waiting audio, or half the allowed backlog when shorter', () => {
    expect(defaultPauseAtMs(10_000)).toBe(1000);
    expect(defaultPauseAtMs(600)).toBe(300);
  });
});

describe('AudioPump', () => {
  it('writes at once, one write at a time, and sends what queued meanwhile as one write', async () => {
    const { sink, pump, drained } = setup();
    expect(pump.push(Buffer.alloc(10, 1))).toBe('queued');
    expect(sink.writes).toEqual([Buffer.alloc(10, 1)]);
    pump.push(Buffer.alloc(5, 2));
    pump.push(Buffer.alloc(5, 3));
    expect(sink.writes).toHaveLength(1);
    expect(pump.pendingMs).toBe(20);
    expect(pump.isIdle).toBe(false);
    sink.release();
    await flush();
    expect(sink.writes).toEqual([
      Buffer.alloc(10, 1),
      Buffer.concat([Buffer.alloc(5, 2), Buffer.alloc(5, 3)]),
    ]);
    sink.release();
    await flush();
    expect(pump.pendingMs).toBe(0);
    expect(pump.writtenBytes).toBe(20);
    expect(pump.isIdle).toBe(true);
    expect(drained()).toBe(1);
  });

  it('pauses reading at pauseAtMs and resumes once everything was written', async () => {
    const { sink, reader, pump } = setup({ pauseAtMs: 30 });
    pump.push(Buffer.alloc(20));
    expect(pump.isReadPaused).toBe(false);
    pump.push(Buffer.alloc(10));
    expect(pump.isReadPaused).toBe(true);
    pump.push(Buffer.alloc(10));
    expect(reader.events).toEqual(['pause']);
    sink.release();
    await flush();
    // Still 20 ms behind (the second write is in flight): reading stays paused.
    expect(reader.events).toEqual(['pause']);
    sink.release();
    await flush();
    expect(reader.events).toEqual(['pause', 'resume']);
    expect(pump.isReadPaused).toBe(false);
  });

  it('refuses audio beyond maxPendingMs, counting the write in flight', () => {
    const { pump } = setup({ maxPendingMs: 100 });
    expect(pump.push(Buffer.alloc(60))).toBe('queued');
    expect(pump.push(Buffer.alloc(40))).toBe('queued');
    expect(pump.push(Buffer.alloc(1))).toBe('overflow');
    expect(pump.pendingMs).toBe(101);
  });

  it('drops queued audio on close, resumes reading, and ignores later audio', async () => {
    const { sink, reader, pump, drained } = setup({ pauseAtMs: 10 });
    pump.push(Buffer.alloc(20));
    pump.push(Buffer.alloc(20));
    pump.close();
    expect(reader.events).toEqual(['pause', 'resume']);
    expect(pump.pendingMs).toBe(0);
    sink.release();
    await flush();
    expect(sink.writes).toHaveLength(1);
    expect(pump.push(Buffer.alloc(5))).toBe('queued');
    expect(sink.writes).toHaveLength(1);
    expect(drained()).toBe(0);
  });

  it('stops writing when the call fails and leaves the reason to the call', async () => {
    const { sink, pump, drained } = setup();
    sink.isHolding = false;
    sink.fail(new Error('call failed'));
    expect(pump.push(Buffer.alloc(10))).toBe('queued');
    await flush();
    expect(sink.writes).toEqual([]);
    expect(pump.writtenBytes).toBe(0);
    expect(drained()).toBe(0);
    // Later audio is dropped rather than written into a failed call again and again.
    expect(pump.push(Buffer.alloc(10))).toBe('queued');
    await flush();
    expect(sink.attempts).toBe(1);
    expect(pump.pendingMs).toBe(10);
  });

  it('ends a turn behind the audio pushed before it, never merging audio across it', async () => {
    const { sink, pump, drained } = setup({ pauseAtMs: 1000, maxPendingMs: 1000 });
    pump.endTurn();
    expect(sink.requests).toEqual(['end_turn']);
    pump.push(Buffer.alloc(10));
    pump.push(Buffer.alloc(5));
    pump.endTurn();
    pump.push(Buffer.alloc(7));
    pump.push(Buffer.alloc(3));
    pump.endTurn();
    expect(sink.requests).toEqual(['end_turn', 10]);
    for (let i = 0; i < 3; i += 1) {
      sink.release();
      await flush();
    }
    expect(sink.requests).toEqual(['end_turn', 10, 5, 'end_turn', 10, 'end_turn']);
    expect(pump.writtenBytes).toBe(25);
    expect(pump.isIdle).toBe(true);
    expect(drained()).toBe(2);
  });
});
