// Live microphone transcription over the WhisperLive protocol: the options message first,
// audio (16 kHz float32 frames from capture_worklet.js) once the server answers
// SERVER_READY, and at the end `END_OF_AUDIO`, after which the server sends the final
// segments and closes. The microphone and the session's life are mic_session.js's.
import { LiveTranscript } from './live_transcript.js';
import { MicrophoneSession } from './mic_session.js';

const END_OF_AUDIO = new TextEncoder().encode('END_OF_AUDIO');
const SAMPLE_RATE = 16000;
/** 256 ms, the frame of WhisperLive's own client. */
const FRAME_SAMPLES = 4096;
/** Audio kept while the server gets ready; WhisperLive servers accept about this much ahead. */
const MAX_QUEUED_SAMPLES = 10 * SAMPLE_RATE;
/** How long to wait for the server's last segments after END_OF_AUDIO. */
const FINISH_TIMEOUT_MS = 75_000;

/** The WhisperLive URL to offer: the configured one, else this host at the WebSocket port. */
export function defaultWebSocketUrl(config, location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const configured = config.whisperlive_url;
  if (typeof configured === 'string' && configured !== '') {
    // A path means: behind the same reverse proxy as this page.
    return configured.startsWith('/') ? `${scheme}//${location.host}${configured}` : configured;
  }
  return `${scheme}//${location.hostname}:${config.whisperlive_port}/`;
}

/** A random session id (crypto.randomUUID needs a secure context; this does not). */
function newUid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One WhisperLive session; `onTranscript` gets a {@link LiveTranscript}.
 * Options: `{url, apiKey, language, task, model, useVad, probeKey}`.
 */
export class LiveSession extends MicrophoneSession {
  #transcript = new LiveTranscript();
  #uid = newUid();

  constructor(options, callbacks) {
    super(options, callbacks, {
      rate: SAMPLE_RATE,
      frameSamples: FRAME_SAMPLES,
      maxQueuedSamples: MAX_QUEUED_SAMPLES,
    });
  }

  connect() {
    this.status('connecting', 'Connecting to the server…');
    const { url, apiKey } = this.options;
    // Browsers cannot set headers on a WebSocket: the key travels as a subprotocol. No
    // subprotocol without a key, so servers that pick none (WhisperLive's own) still work.
    const socket = this.openSocket(url, apiKey === '' ? [] : ['whisperlive', `bearer.${apiKey}`]);
    if (socket === undefined) return;
    socket.onopen = () => {
      const { language, task, model, useVad } = this.options;
      socket.send(
        JSON.stringify({
          uid: this.#uid,
          language: language === '' ? null : language,
          task,
          model,
          use_vad: useVad,
        }),
      );
      this.status('connecting', 'Connected; waiting for the server to get ready…');
    };
    socket.onmessage = (event) => this.#onMessage(event.data);
  }

  sendFrame(samples) {
    this.socket.send(samples);
  }

  /** END_OF_AUDIO: the server sends its last segments and closes. */
  endStream() {
    this.socket.send(END_OF_AUDIO);
    this.finishWithin(
      FINISH_TIMEOUT_MS,
      'The server did not finish in time; the connection was closed.',
    );
  }

  #onMessage(data) {
    if (typeof data !== 'string') return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.uid !== undefined && message.uid !== this.#uid) return;
    if ('status' in message) {
      this.#onStatusMessage(message);
      return;
    }
    if (message.message === 'SERVER_READY') {
      this.status('listening', 'Listening: speak now.');
      this.markReady();
      return;
    }
    if (message.message === 'DISCONNECT') {
      this.finish('done', 'The server ended the session (its time limit).');
      return;
    }
    if ('language' in message) {
      const share = Math.round(Number(message.language_prob) * 100);
      this.status(this.ongoingState(), `Language detected: ${message.language} (${share} %).`);
      return;
    }
    if (Array.isArray(message.segments)) {
      this.#transcript.apply(message.segments);
      this.callbacks.onTranscript(this.#transcript);
    }
  }

  #onStatusMessage(message) {
    switch (message.status) {
      case 'WAIT': {
        const minutes = Math.max(0, Number(message.message));
        this.finish(
          'error',
          `The server is busy: try again in about ${minutes.toFixed(1)} minute(s).`,
        );
        return;
      }
      case 'WARNING':
        this.status('warning', `Server warning: ${message.message}`);
        return;
      case 'ERROR':
      default:
        this.finish('error', `Server error: ${message.message}`);
    }
  }
}
