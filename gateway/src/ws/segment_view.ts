/**
 * What a WhisperLive client sees of a live transcript: the worker's results (finals by
 * segment index, at most one interim) become WhisperLive's view, "the last N completed
 * segments, then the partial", encoded as the messages to send. Pure bookkeeping: no socket,
 * no timers; the session sends what it returns.
 *
 * Rules kept here: a final is never revised (a repeated index is ignored); completed segments
 * never overlap and never go back in time, and the partial starts where they end, as clients
 * assume; every segment completed since the previous message is sent even beyond N; the
 * language notice goes out once, before the first segments, and only when the client asked
 * to detect the language; a final message that would repeat the previous one is skipped.
 */
import type { Logger } from '../logger.js';
import type { Segment } from '../transcript.js';
import { encodeLanguage, encodeSegments, selectSegments } from './protocol.js';

/** Options of {@link createSegmentView}. */
export interface SegmentViewOptions {
  /** The client's uid, echoed in every message. */
  readonly uid: string;
  /** How many completed segments each message repeats (`send_last_n_segments`). */
  readonly sendLastNSegments: number;
  /** Whether segments carry their words. */
  readonly hasWordTimestamps: boolean;
  /** Whether the client asked to detect the language (then it gets one language notice). */
  readonly isDetectingLanguage: boolean;
  /** Logger for per-segment debug lines. */
  readonly logger?: Logger;
}

/** One session's view of its transcript. */
export interface SegmentView {
  /**
   * Applies the results of one live response. Returns the language notice when it is due
   * now (send it before the segments), otherwise undefined.
   */
  apply(segments: readonly Segment[]): string | undefined;
  /**
   * The segments message to send now, or undefined when there is nothing to show. A final
   * message (after the stream ended) leaves out the partial, and is undefined when it would
   * repeat the previous message word for word.
   */
  nextMessage(isFinal: boolean): string | undefined;
  /** Records a language learned elsewhere (the worker's summary) unless one is known. */
  noteLanguage(languageCode: string): void;
  /** The language seen so far, `''` until known. */
  readonly languageCode: string;
}

class WhisperLiveSegmentView implements SegmentView {
  readonly #options: SegmentViewOptions;
  #completed: Segment[] = [];
  /** Segments completed since the previous message. */
  #newCompleted = 0;
  #partial: Segment | undefined;
  #lastFinalIndex = -1;
  #lastCompletedEndMs = 0;
  #isLanguageSent = false;
  #languageCode = '';
  #lastMessage = '';

  constructor(options: SegmentViewOptions) {
    this.#options = options;
  }

  get languageCode(): string {
    return this.#languageCode;
  }

  noteLanguage(languageCode: string): void {
    this.#languageCode ||= languageCode;
  }

  apply(segments: readonly Segment[]): string | undefined {
    let partial: Segment | undefined;
    for (const segment of segments) {
      if (!segment.isFinal) {
        partial = segment;
        continue;
      }
      if (segment.index <= this.#lastFinalIndex) continue;
      this.#lastFinalIndex = segment.index;
      const startMs = Math.max(segment.startMs, this.#lastCompletedEndMs);
      const endMs = Math.max(segment.endMs, startMs);
      this.#completed.push({ ...segment, startMs, endMs });
      this.#lastCompletedEndMs = endMs;
      this.#newCompleted += 1;
      this.#options.logger?.debug('ws segment completed', {
        segment_index: segment.index,
        text: segment.text,
      });
    }
    if (partial !== undefined) {
      const startMs = Math.max(partial.startMs, this.#lastCompletedEndMs);
      partial = { ...partial, startMs, endMs: Math.max(partial.endMs, startMs) };
    }
    // A response without an interim withdraws the previous one (it was committed or dropped).
    this.#partial = partial;
    const known = segments.find((segment) => segment.languageCode !== '');
    if (known === undefined) return undefined;
    this.noteLanguage(known.languageCode);
    if (this.#isLanguageSent || !this.#options.isDetectingLanguage) return undefined;
    this.#isLanguageSent = true;
    return encodeLanguage(this.#options.uid, known.languageCode, known.languageProbability);
  }

  nextMessage(isFinal: boolean): string | undefined {
    const { sendLastNSegments, hasWordTimestamps, uid } = this.#options;
    const count = Math.max(sendLastNSegments, this.#newCompleted);
    const partial = isFinal ? undefined : this.#partial;
    const segments = selectSegments(this.#completed, partial, count, hasWordTimestamps);
    this.#newCompleted = 0;
    if (this.#completed.length > sendLastNSegments) {
      this.#completed = this.#completed.slice(-sendLastNSegments);
    }
    if (segments.length === 0) return undefined;
    const message = encodeSegments(uid, segments);
    if (isFinal && message === this.#lastMessage) return undefined;
    this.#lastMessage = message;
    return message;
  }
}

/** Creates an empty view. */
export function createSegmentView(options: SegmentViewOptions): SegmentView {
  return new WhisperLiveSegmentView(options);
}
