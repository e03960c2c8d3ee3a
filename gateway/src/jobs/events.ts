/**
 * Job events as they happen: the runner stores each event, then publishes it here; SSE and
 * WebSocket followers subscribe. {@link followJobEvents} replays what was stored after the
 * client's last event id, then goes live without gaps or repeats.
 */
import type { JobEvent } from './job.js';
import type { JobStore } from './store.js';

/** Called with each new event of one job. */
export type JobEventListener = (event: JobEvent) => void;

/** In-process fan-out of job events. */
export interface JobEventHub {
  /**
   * Registers a listener, and `onClose`, called if the hub closes first; returns the
   * function that removes both.
   */
  subscribe(jobId: string, listener: JobEventListener, onClose?: () => void): () => void;
  publish(jobId: string, event: JobEvent): void;
  /** Ends every subscription (shutdown): each `onClose` is called. */
  closeAll(): void;
  /** Listeners registered now (for tests and bounds). */
  readonly size: number;
}

/** Creates an empty hub. */
export function createJobEventHub(): JobEventHub {
  const listeners = new Map<string, Set<JobEventListener>>();
  const closers = new Map<JobEventListener, () => void>();
  let size = 0;
  return {
    subscribe(jobId, listener, onClose) {
      let set = listeners.get(jobId);
      if (set === undefined) {
        set = new Set();
        listeners.set(jobId, set);
      }
      set.add(listener);
      if (onClose !== undefined) closers.set(listener, onClose);
      size += 1;
      return () => {
        closers.delete(listener);
        if (set.delete(listener)) size -= 1;
        if (set.size === 0) listeners.delete(jobId);
      };
    },
    closeAll() {
      const pending = [...closers.values()];
      closers.clear();
      listeners.clear();
      size = 0;
      for (const close of pending) close();
    },
    publish(jobId, event) {
      for (const listener of listeners.get(jobId) ?? []) listener(event);
    },
    get size() {
      return size;
    },
  };
}

/**
 * Sends `send` every event of `jobId` after `afterId`: the stored ones first, then live
 * ones; stops after the `done` event (or when the hub closes), then calls `onDone`. Returns the function that stops following early.
 */
export function followJobEvents(
  store: JobStore,
  hub: JobEventHub,
  jobId: string,
  afterId: number,
  send: (event: JobEvent) => void,
  onDone: () => void,
): () => void {
  let lastId = afterId;
  let isDone = false;
  const deliver = (event: JobEvent): void => {
    if (isDone || event.id <= lastId) return;
    lastId = event.id;
    send(event);
    if (event.type === 'done') {
      isDone = true;
      unsubscribe();
      onDone();
    }
  };
  // Subscribe before reading the store, so an event stored in between is not lost; ids
  // filter out what the replay already sent.
  const buffered: JobEvent[] = [];
  let isReplaying = true;
  const unsubscribe = hub.subscribe(
    jobId,
    (event) => {
      if (isReplaying) buffered.push(event);
      else deliver(event);
    },
    () => {
      isDone = true;
      onDone();
    },
  );
  for (const event of store.events(jobId, afterId)) deliver(event);
  isReplaying = false;
  for (const event of buffered) deliver(event);
  return () => {
    isDone = true;
    unsubscribe();
  };
}
