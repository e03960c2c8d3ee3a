// The transcript of a live session, built from WhisperLive `segments` messages. A pure module
// (the page and the gateway's unit tests use it).
//
// Each message repeats the last completed segments and ends with at most one partial
// (`completed: false`), which the next message replaces. Completed segments are kept by their
// start time, so repeats overwrite themselves instead of piling up.

export class LiveTranscript {
  /** @type {Map<number, string>} completed segment texts by start time (ms) */
  #committed = new Map();
  /** The current partial text (uncompleted), or ''. */
  partial = '';

  /**
   * Takes one `segments` list.
   * @param {Array<{start: string, end: string, text: string, completed?: boolean}>} segments
   */
  apply(segments) {
    let partial = '';
    for (const segment of segments) {
      const text = String(segment.text ?? '').trim();
      if (segment.completed === true) {
        const startMs = Math.round(Number(segment.start) * 1000);
        if (Number.isFinite(startMs)) this.#committed.set(startMs, text);
      } else {
        partial = text;
      }
    }
    this.partial = partial;
  }

  /** The committed text: completed segments in time order, joined by spaces. */
  get committed() {
    return [...this.#committed.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, text]) => text)
      .filter((text) => text !== '')
      .join(' ');
  }

  /** Committed and partial text together. */
  get text() {
    return [this.committed, this.partial].filter((text) => text !== '').join(' ');
  }
}
