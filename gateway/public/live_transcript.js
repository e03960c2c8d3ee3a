// The transcript of a live session, built from WhisperLive `segments` messages. A pure module
// (the page and the gateway's unit tests use it).
//
// Each message repeats the last completed segments and ends with at most one partial
// (`completed: false`), which the next message replaces. Completed segments are kept by their
// times and text, so repeats overwrite themselves instead of piling up; two segments may share
// a start (a word squeezed to an instant at the previous segment's end, then the next one).

export class LiveTranscript {
  /** @type {Map<string, {startMs: number, text: string}>} completed segments by start, end, text */
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
        const endMs = Math.round(Number(segment.end) * 1000);
        if (Number.isFinite(startMs)) {
          this.#committed.set(`${startMs}:${endMs}:${text}`, { startMs, text });
        }
      } else {
        partial = text;
      }
    }
    this.partial = partial;
  }

  /** The committed text: completed segments in time order, joined by spaces. */
  get committed() {
    // A stable sort: segments with the same start stay in the order they came.
    return [...this.#committed.values()]
      .sort((a, b) => a.startMs - b.startMs)
      .map(({ text }) => text)
      .filter((text) => text !== '')
      .join(' ');
  }

  /** Committed and partial text together. */
  get text() {
    return [this.committed, this.partial].filter((text) => text !== '').join(' ');
  }
}
