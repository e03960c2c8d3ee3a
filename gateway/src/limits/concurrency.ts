/**
 * Bounded concurrency per client and in total (uploads in flight, WebSocket connections
 * open): a slot is taken when the work starts and given back exactly once when it ends.
 */

/** A held slot; `release()` may be called more than once, only the first call counts. */
export interface Slot {
  release(): void;
}

/** Why {@link ConcurrencyLimit.acquire} refused. */
export type SlotRefusal = 'client' | 'total';

/** Counts slots per client key and in total. */
export interface ConcurrencyLimit {
  /** A slot for `client`, or the limit that is full. */
  acquire(client: string): Slot | SlotRefusal;
  /** Slots held now, all clients. */
  readonly size: number;
  /** Slots held now by one client. */
  heldBy(client: string): number;
}

/**
 * Creates a limit of `perClient` slots per client and `total` in all; 0 means no limit on
 * that axis.
 */
export function createConcurrencyLimit(options: {
  readonly perClient: number;
  readonly total: number;
}): ConcurrencyLimit {
  const held = new Map<string, number>();
  let size = 0;
  return {
    get size(): number {
      return size;
    },
    heldBy(client: string): number {
      return held.get(client) ?? 0;
    },
    acquire(client: string): Slot | SlotRefusal {
      const mine = held.get(client) ?? 0;
      if (options.total > 0 && size >= options.total) return 'total';
      if (options.perClient > 0 && mine >= options.perClient) return 'client';
      held.set(client, mine + 1);
      size += 1;
      let isReleased = false;
      return {
        release(): void {
          if (isReleased) return;
          isReleased = true;
          size -= 1;
          const left = (held.get(client) ?? 1) - 1;
          if (left > 0) held.set(client, left);
          else held.delete(client);
        },
      };
    },
  };
}
