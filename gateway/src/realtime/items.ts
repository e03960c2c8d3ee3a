/**
 * The item bookkeeping of a Realtime transcription session (pure: events in, server events
 * out). The worker splits the stream into turns; each turn the client hears about becomes
 * one item (`item_...`):
 *
 * - `speech` (server VAD only) → `input_audio_buffer.speech_started` for the turn's item;
 * - final results → `conversation.item.input_audio_transcription.delta`, append-only: the
 *   item's deltas joined are its transcript;
 * - the turn's end → `speech_stopped` (a VAD turn ended by silence), `committed` (unless the
 *   client's commit already said so), then `completed` with the transcript and its duration;
 * - a client commit → without turn detection, `committed` at once (the worker's turn end
 *   brings `completed`); with server VAD, when the worker ends the turn it was asked to end
 *   (its turns may lag behind the audio, so only the worker knows which turn that is);
 * - a client clear → that turn's item is dropped: nothing more is said about it;
 * - a worker failure → `failed` for every item still open.
 *
 * Items wait in a queue in the worker's turn order: the head is the worker's current turn
 * (every result of a turn comes before its end), the tail the turn the client is appending
 * to. Commit and clear act on the tail; results and turn ends on the head.
 */
import type { Segment, TurnEnd } from '../transcript.js';
import {
  committed,
  newId,
  speechStarted,
  speechStopped,
  transcriptionCompleted,
  transcriptionDelta,
  transcriptionFailed,
  type ErrorDetail,
  type ServerEvent,
} from './protocol.js';

interface Item {
  readonly id: string;
  transcript: string;
  /** `speech_started` was sent (and `speech_stopped` is owed when silence ends the turn). */
  hasSpeechStarted: boolean;
  /** `committed` was sent. */
  isCommitted: boolean;
  /** Cleared by the client: its results and end are swallowed. */
  isDropped: boolean;
}

/** The item bookkeeping of one session. */
export class ItemTracker {
  readonly #newItemId: () => string;
  readonly #items: Item[] = [];
  /** The last committed item, the next one's `previous_item_id`. */
  #lastCommittedId: string | null = null;
  /** Server VAD: what each turn end the client asked for (and the worker owes) is for. */
  readonly #requestedEnds: ('commit' | 'clear')[] = [];

  constructor(newItemId: () => string = () => newId('item')) {
    this.#newItemId = newItemId;
  }

  /** Items the worker has not closed yet. */
  get openItems(): number {
    return this.#items.length;
  }

  #create(): Item {
    const item: Item = {
      id: this.#newItemId(),
      transcript: '',
      hasSpeechStarted: false,
      isCommitted: false,
      isDropped: false,
    };
    this.#items.push(item);
    return item;
  }

  /** The item of the worker's current turn. */
  #head(): Item {
    return this.#items[0] ?? this.#create();
  }

  /** The item of the audio the client appends now: the open tail, or a new one. */
  #tail(): Item {
    const last = this.#items[this.#items.length - 1];
    return last !== undefined && !last.isCommitted && !last.isDropped ? last : this.#create();
  }

  #commit(item: Item): ServerEvent {
    item.isCommitted = true;
    const event = committed(item.id, this.#lastCommittedId);
    this.#lastCommittedId = item.id;
    return event;
  }

  /** Voice activity began in the worker's current turn, at `offsetMs` (padding included). */
  speechBegan(offsetMs: number): ServerEvent[] {
    const item = this.#head();
    if (item.isDropped || item.hasSpeechStarted) return [];
    item.hasSpeechStarted = true;
    return [speechStarted(item.id, offsetMs)];
  }

  /** A response's results: the final ones extend the current item's transcript. */
  results(segments: readonly Segment[]): ServerEvent[] {
    const events: ServerEvent[] = [];
    for (const segment of segments) {
      const text = segment.text.trim();
      if (!segment.isFinal || text === '') continue;
      const item = this.#head();
      if (item.isDropped) continue;
      const delta = item.transcript === '' ? text : ` ${text}`;
      item.transcript += delta;
      events.push(transcriptionDelta(item.id, delta));
    }
    return events;
  }

  /** The worker closed its current turn. */
  turnEnded(turn: TurnEnd): ServerEvent[] {
    const request = turn.reason === 'requested' ? this.#requestedEnds.shift() : undefined;
    let item = this.#items.shift();
    if (request === 'clear') return [];
    if (item === undefined && request === 'commit') {
      // A committed turn is announced even when nothing was heard in it.
      item = this.#create();
      this.#items.shift();
    }
    // A turn nobody heard of (silence, or the rest after a clear) ends unannounced.
    if (item === undefined || item.isDropped) return [];
    const events: ServerEvent[] = [];
    if (item.hasSpeechStarted && turn.reason === 'silence') {
      events.push(speechStopped(item.id, turn.endMs));
    }
    if (!item.isCommitted) events.push(this.#commit(item));
    const seconds = Math.max(0, turn.endMs - turn.startMs) / 1000;
    events.push(transcriptionCompleted(item.id, item.transcript, seconds));
    return events;
  }

  /**
   * The client committed the audio it appended since the last turn boundary. Without turn
   * detection every turn ends so, in order: the tail is that turn, committed now. With server
   * VAD the item is known when the worker ends the turn (`isDeferred`).
   */
  commit(isDeferred: boolean): ServerEvent[] {
    if (isDeferred) {
      this.#requestedEnds.push('commit');
      return [];
    }
    return [this.#commit(this.#tail())];
  }

  /** The client cleared the audio it appended since the last turn boundary (see `commit`). */
  clear(isDeferred: boolean): void {
    if (isDeferred) this.#requestedEnds.push('clear');
    else this.#tail().isDropped = true;
  }

  /** The worker call failed: every open item fails with `error`. */
  fail(error: Omit<ErrorDetail, 'event_id'>): ServerEvent[] {
    const events = this.#items
      .filter((item) => !item.isDropped)
      .map((item) => transcriptionFailed(item.id, error));
    this.#items.length = 0;
    return events;
  }
}
