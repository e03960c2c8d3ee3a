// Live microphone transcription over OpenAI's Realtime API in transcription mode
// (`/v1/realtime?intent=transcription` on this page's origin): on `session.created` the page
// sends its settings (`session.update`: 24 kHz PCM16, the model and language, server VAD),
// and once `session.updated` confirms them, 100 ms `input_audio_buffer.append`s of base64
// PCM16. The server cuts turns at pauses; each turn is one item (realtime_transcript.js).
// On stop, `input_audio_buffer.commit` ends the last turn, whose `completed` is the end.
// The microphone and the session's life are mic_session.js's.
import { MicrophoneSession } from './mic_session.js';
import { bytesToBase64, floatToPcm16 } from './pcm16.js';
import { RealtimeTranscript } from './realtime_transcript.js';

/** The only rate of `audio/pcm`. */
export const REALTIME_RATE = 24000;
/** 100 ms per append. */
const FRAME_SAMPLES = REALTIME_RATE / 10;
/** Audio kept while the session is being set up. */
const MAX_QUEUED_SAMPLES = 10 * REALTIME_RATE;
/** How long to wait for the last turn's transcript after the stop's commit. */
const FINISH_TIMEOUT_MS = 60_000;
/** The `event_id`s of the page's own events, so the server's errors about them are known. */
const UPDATE_EVENT_ID = 'page_session_update';
const STOP_COMMIT_EVENT_ID = 'page_stop_commit';

/** The Realtime URL beside this page (`v1/...` relative to it, as the page's HTTP calls are). */
export function defaultRealtimeUrl(pageHref) {
  const url = new URL('v1/realtime?intent=transcription', pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** The subprotocols of a browser client: `realtime`, and the API key when there is one. */
export function realtimeProtocols(apiKey) {
  return apiKey === '' ? ['realtime'] : ['realtime', `openai-insecure-api-key.${apiKey}`];
}

/**
 * The page's `session.update`.
 * @param {{model: string, language: string, silenceDurationMs: number}} settings - an empty
 *   language means: detect
 */
export function sessionUpdate({ model, language, silenceDurationMs }) {
  const transcription = language === '' ? { model } : { model, language };
  return {
    type: 'session.update',
    event_id: UPDATE_EVENT_ID,
    session: {
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: REALTIME_RATE },
          transcription,
          turn_detection: { type: 'server_vad', silence_duration_ms: silenceDurationMs },
        },
      },
    },
  };
}

/** The `input_audio_buffer.append` of one frame of float samples at {@link REALTIME_RATE}. */
export function appendEvent(samples) {
  return { type: 'input_audio_buffer.append', audio: bytesToBase64(floatToPcm16(samples)) };
}

/**
 * One Realtime session; `onTranscript` gets a {@link RealtimeTranscript}.
 * Options: `{url, apiKey, language, model, silenceDurationMs, probeKey}`.
 */
export class RealtimeSession extends MicrophoneSession {
  #transcript = new RealtimeTranscript();
  #isCommitSent = false;
  /** The server answered the stop's commit: the last turn is in (or there was none). */
  #isCommitAnswered = false;
  /** The server's last `error` message, which a close that follows explains. */
  #lastError = '';

  constructor(options, callbacks) {
    super(options, callbacks, {
      rate: REALTIME_RATE,
      frameSamples: FRAME_SAMPLES,
      maxQueuedSamples: MAX_QUEUED_SAMPLES,
    });
  }

  connect() {
    this.status('connecting', 'Connecting to the server…');
    const { url, apiKey } = this.options;
    // Browsers cannot set headers on a WebSocket: the key travels as a subprotocol.
    const socket = this.openSocket(url, realtimeProtocols(apiKey));
    if (socket === undefined) return;
    socket.onopen = () => {
      this.status('connecting', 'Connected; waiting for the session…');
    };
    socket.onmessage = (event) => this.#onMessage(event.data);
  }

  sendFrame(samples) {
    this.socket.send(JSON.stringify(appendEvent(samples)));
  }

  /**
   * Commits what was said since the last turn ended. With server VAD on, the server ends
   * that turn at once instead of at the next pause; its `completed` comes after every
   * earlier turn's.
   */
  endStream() {
    this.socket.send(
      JSON.stringify({ type: 'input_audio_buffer.commit', event_id: STOP_COMMIT_EVENT_ID }),
    );
    this.#isCommitSent = true;
    this.finishWithin(
      FINISH_TIMEOUT_MS,
      'The server did not finish in time; the connection was closed.',
    );
  }

  closeProblem(event) {
    const problem = super.closeProblem(event);
    return this.#lastError === '' ? problem : `${problem} The server said: ${this.#lastError}`;
  }

  #onMessage(data) {
    if (typeof data !== 'string') return;
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    switch (event.type) {
      case 'session.created': {
        const { model, language, silenceDurationMs } = this.options;
        this.socket.send(JSON.stringify(sessionUpdate({ model, language, silenceDurationMs })));
        return;
      }
      case 'session.updated':
        if (this.isReady) return;
        this.status('listening', 'Listening: speak now.');
        this.markReady();
        return;
      case 'error':
        this.#onError(event.error ?? {});
        return;
      default:
        this.#onItemEvent(event);
    }
  }

  #onItemEvent(event) {
    const item = this.#transcript.apply(event);
    if (item === undefined) return;
    this.callbacks.onTranscript(this.#transcript);
    if (item.state === 'failed') {
      this.status('warning', `This turn could not be transcribed: ${item.error}`);
    }
    // A turn that no pause ended is the one the stop's commit ended: the last.
    const isOver = item.state === 'completed' || item.state === 'failed';
    if (this.#isCommitSent && isOver && !item.isStoppedBySilence) {
      this.#isCommitAnswered = true;
    }
    this.#finishIfDone();
  }

  #onError(error) {
    const message = String(error.message ?? 'unknown error');
    if (error.event_id === UPDATE_EVENT_ID) {
      this.finish('error', `The server refused the settings: ${message}`);
      return;
    }
    if (error.event_id === STOP_COMMIT_EVENT_ID) {
      // Too little audio since the last turn: every turn is in already.
      this.#isCommitAnswered = true;
      if (error.code !== 'input_audio_buffer_commit_empty') {
        this.status('warning', `Server error: ${message}`);
      }
      this.#finishIfDone();
      return;
    }
    // The session goes on (a closing server says so with the close that follows).
    this.#lastError = message;
    this.status('warning', `Server error: ${message}`);
  }

  #finishIfDone() {
    if (this.#isCommitAnswered && this.#transcript.pendingCount === 0) {
      this.finish('done', 'Done: the final transcript is in.');
    }
  }
}
