// Reading a `text/event-stream` body as it arrives (the `stream=true` answer of the
// transcription endpoints). A pure module, used by the page and the gateway's unit tests.

export class SseReader {
  #pending = '';

  /**
   * Takes the next piece of the body and returns the `data` of each event it completes,
   * parsed as JSON (`[DONE]` and other non-JSON data are returned as strings).
   * @param {string} chunk
   * @returns {unknown[]}
   */
  push(chunk) {
    this.#pending += chunk;
    const events = [];
    for (;;) {
      const match = /\r?\n\r?\n/.exec(this.#pending);
      if (match === null) return events;
      const block = this.#pending.slice(0, match.index);
      this.#pending = this.#pending.slice(match.index + match[0].length);
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data === '') continue;
      try {
        events.push(JSON.parse(data));
      } catch {
        events.push(data);
      }
    }
  }
}
