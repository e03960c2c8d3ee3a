// The transcript of an OpenAI Realtime transcription session, built from its server events.
// A pure module (the page and the gateway's unit tests use it).
//
// Each turn the server's voice activity detection (or a commit) cuts is one item:
// `input_audio_buffer.speech_started` opens it (nothing heard yet), each
// `conversation.item.input_audio_transcription.delta` appends text (in progress),
// `...completed` gives its final text and `...failed` ends it without one. Items are kept in
// the order the server first named them, which is the order of the turns.

/** Event types, by what they do to an item. */
const SPEECH_STARTED = 'input_audio_buffer.speech_started';
const SPEECH_STOPPED = 'input_audio_buffer.speech_stopped';
const DELTA = 'conversation.item.input_audio_transcription.delta';
const COMPLETED = 'conversation.item.input_audio_transcription.completed';
const FAILED = 'conversation.item.input_audio_transcription.failed';

/**
 * @typedef {object} RealtimeItem
 * @property {string} id - the server's `item_id`
 * @property {'pending' | 'partial' | 'completed' | 'failed'} state - speech heard and no
 *   text yet; text in progress; final; given up (`error` says why)
 * @property {string} text
 * @property {boolean} isStoppedBySilence - `speech_stopped` came: the server's VAD ended it
 * @property {string} [error]
 */

export class RealtimeTranscript {
  /** @type {Map<string, RealtimeItem>} */
  #items = new Map();

  #item(id) {
    let item = this.#items.get(id);
    if (item === undefined) {
      item = { id, state: 'pending', text: '', isStoppedBySilence: false };
      this.#items.set(id, item);
    }
    return item;
  }

  /**
   * Takes one server event; returns the item it changed, or undefined (another event, or
   * news of an item already over).
   * @param {{type: string, item_id?: string}} event
   * @returns {RealtimeItem | undefined}
   */
  apply(event) {
    const id = event.item_id;
    if (typeof id !== 'string') return undefined;
    const known = this.#items.get(id);
    if (known !== undefined && (known.state === 'completed' || known.state === 'failed')) {
      return undefined;
    }
    switch (event.type) {
      case SPEECH_STARTED:
        return this.#item(id);
      case SPEECH_STOPPED: {
        const item = this.#item(id);
        item.isStoppedBySilence = true;
        return item;
      }
      case DELTA: {
        const item = this.#item(id);
        item.text += String(event.delta ?? '');
        item.state = 'partial';
        return item;
      }
      case COMPLETED: {
        const item = this.#item(id);
        item.text = String(event.transcript ?? '');
        item.state = 'completed';
        return item;
      }
      case FAILED: {
        const item = this.#item(id);
        item.state = 'failed';
        item.error = String(event.error?.message ?? 'transcription failed');
        return item;
      }
      default:
        return undefined;
    }
  }

  /** The items to show, in turn order: a completed turn in which nothing was said is left out. */
  get items() {
    return [...this.#items.values()].filter(
      (item) => !(item.state === 'completed' && item.text.trim() === ''),
    );
  }

  /** Items still waiting for their final text. */
  get pendingCount() {
    return [...this.#items.values()].filter(
      (item) => item.state === 'pending' || item.state === 'partial',
    ).length;
  }

  /** The completed text, turns joined by spaces. */
  get completedText() {
    return [...this.#items.values()]
      .filter((item) => item.state === 'completed')
      .map((item) => item.text.trim())
      .filter((text) => text !== '')
      .join(' ');
  }
}
