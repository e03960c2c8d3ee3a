// Live microphone transcription over the WhisperLive protocol: the options message first,
// audio (16 kHz float32 frames from capture_worklet.js) once the server answers
// SERVER_READY, and at the end `END_OF_AUDIO`, after which the server sends the final
// segments and closes.
import { LiveTranscript } from './live_transcript.js';

const END_OF_AUDIO = new TextEncoder().encode('END_OF_AUDIO');
const SAMPLE_RATE = 16000;
/** Audio kept while the server gets ready; WhisperLive servers accept about this much ahead. */
const MAX_QUEUED_SAMPLES = 10 * SAMPLE_RATE;
/** How long to wait for the server's last segments after END_OF_AUDIO. */
const FINISH_TIMEOUT_MS = 75_000;
/** How long the worklet may take to hand over its last samples. */
const FLUSH_TIMEOUT_MS = 2_000;

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

/** Why the microphone could not be opened, in words. */
function microphoneProblem(error) {
  if (!window.isSecureContext) {
    return 'The microphone needs a secure page: open it over https, or at localhost.';
  }
  switch (error?.name) {
    case 'NotAllowedError':
      return 'Microphone access was denied. Allow it in the browser and try again.';
    case 'NotFoundError':
      return 'No microphone was found.';
    case 'NotReadableError':
      return 'The microphone is in use by another program or cannot be read.';
    default:
      return `The microphone could not be opened: ${error?.message ?? String(error)}`;
  }
}

/**
 * One live session.
 *
 * Callbacks: `onStatus(state, text)` with state one of `connecting`, `listening`,
 * `finishing`, `done`, `error`, `warning`; `onTranscript(transcript)` with a
 * {@link LiveTranscript}; `onAudio(seconds, level)` after each frame sent.
 */
export class LiveSession {
  #options;
  #callbacks;
  #transcript = new LiveTranscript();
  #uid = newUid();
  #socket = null;
  #isReady = false;
  #isEnding = false;
  #isOver = false;
  #queue = [];
  #queuedSamples = 0;
  #sentSamples = 0;
  #media = null;
  #context = null;
  #node = null;
  #flushed = null;
  #finishTimer = null;

  /**
   * @param {{url: string, apiKey: string, language: string, task: string, model: string,
   *   useVad: boolean, probeKey: () => Promise<string | undefined>}} options
   * @param {{onStatus: Function, onTranscript: Function, onAudio: Function}} callbacks
   */
  constructor(options, callbacks) {
    this.#options = options;
    this.#callbacks = callbacks;
  }

  /** Opens the microphone, then the WebSocket. */
  async start() {
    this.#status('connecting', 'Opening the microphone…');
    if (
      navigator.mediaDevices?.getUserMedia === undefined ||
      window.AudioWorkletNode === undefined
    ) {
      this.#fail(microphoneProblem(new Error('this browser has no microphone API here')));
      return;
    }
    try {
      this.#media = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          echoCancellation: true,
          noiseSuppression: false,
          autoGainControl: false,
        },
      });
      // The device's own rate: resampling to 16 kHz is the worklet's job.
      this.#context = new AudioContext();
      await this.#context.audioWorklet.addModule(new URL('capture_worklet.js', import.meta.url));
    } catch (error) {
      this.#fail(microphoneProblem(error));
      return;
    }
    if (this.#isOver) return;
    const source = this.#context.createMediaStreamSource(this.#media);
    this.#node = new AudioWorkletNode(this.#context, 'capture-16k', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
    });
    this.#node.port.onmessage = (event) => this.#onWorkletMessage(event.data);
    source.connect(this.#node);
    // Connected to the output so the graph pulls it; the processor writes only silence.
    this.#node.connect(this.#context.destination);
    this.#connect();
  }

  /** Stops capturing and sends END_OF_AUDIO; the server then sends its last segments. */
  async stop() {
    if (this.#isEnding || this.#isOver) return;
    this.#isEnding = true;
    this.#status('finishing', 'Finishing: waiting for the last words…');
    if (this.#node !== null) {
      const flushed = new Promise((resolve) => {
        this.#flushed = resolve;
      });
      this.#node.port.postMessage('flush');
      await Promise.race([flushed, new Promise((r) => setTimeout(r, FLUSH_TIMEOUT_MS))]);
    }
    this.#closeAudio();
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN || !this.#isReady) {
      // No session yet: nothing to finish.
      socket?.close(1000, 'stopped before the server was ready');
      this.#finish('done', 'Stopped.');
      return;
    }
    socket.send(END_OF_AUDIO);
    this.#finishTimer = setTimeout(() => {
      this.#finish('error', 'The server did not finish in time; the connection was closed.');
    }, FINISH_TIMEOUT_MS);
  }

  #connect() {
    this.#status('connecting', 'Connecting to the server…');
    const { url, apiKey } = this.#options;
    // Browsers cannot set headers on a WebSocket: the key travels as a subprotocol. No
    // subprotocol without a key, so servers that pick none (WhisperLive's own) still work.
    const protocols = apiKey === '' ? [] : ['whisperlive', `bearer.${apiKey}`];
    let socket;
    try {
      socket = new WebSocket(url, protocols);
    } catch (error) {
      this.#fail(`Bad WebSocket URL: ${error.message}`);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    let wasOpened = false;
    socket.onopen = () => {
      wasOpened = true;
      const { language, task, model, useVad } = this.#options;
      socket.send(
        JSON.stringify({
          uid: this.#uid,
          language: language === '' ? null : language,
          task,
          model,
          use_vad: useVad,
        }),
      );
      this.#status('connecting', 'Connected; waiting for the server to get ready…');
    };
    socket.onmessage = (event) => this.#onMessage(event.data);
    socket.onclose = (event) => {
      if (this.#isOver) return;
      if (!wasOpened) {
        void this.#explainRefusal();
        return;
      }
      if (this.#isEnding && event.code === 1000) {
        this.#finish('done', 'Done: the final transcript is in.');
      } else {
        const reason = event.reason === '' ? '' : `: ${event.reason}`;
        this.#finish('error', `The connection closed (code ${event.code}${reason}).`);
      }
    };
  }

  /**
   * A refused upgrade looks the same to a page whatever the cause; an HTTP call with the
   * same key tells a wrong key apart from a wrong URL.
   */
  async #explainRefusal() {
    let keyProblem;
    try {
      keyProblem = await this.#options.probeKey();
    } catch {
      keyProblem = undefined;
    }
    this.#finish(
      'error',
      keyProblem === undefined
        ? `Could not connect to ${this.#options.url}. Check the WebSocket URL (and that this page's origin is allowed).`
        : `The server refused the connection: ${keyProblem}`,
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
      this.#isReady = true;
      this.#status('listening', 'Listening: speak now.');
      this.#sendQueued();
      return;
    }
    if (message.message === 'DISCONNECT') {
      this.#finish('done', 'The server ended the session (its time limit).');
      return;
    }
    if ('language' in message) {
      const share = Math.round(Number(message.language_prob) * 100);
      this.#status(this.#state(), `Language detected: ${message.language} (${share} %).`);
      return;
    }
    if (Array.isArray(message.segments)) {
      this.#transcript.apply(message.segments);
      this.#callbacks.onTranscript(this.#transcript);
    }
  }

  #onStatusMessage(message) {
    switch (message.status) {
      case 'WAIT': {
        const minutes = Math.max(0, Number(message.message));
        this.#finish(
          'error',
          `The server is busy: try again in about ${minutes.toFixed(1)} minute(s).`,
        );
        return;
      }
      case 'WARNING':
        this.#status('warning', `Server warning: ${message.message}`);
        return;
      case 'ERROR':
      default:
        this.#finish('error', `Server error: ${message.message}`);
    }
  }

  #onWorkletMessage(data) {
    if (data.type === 'flushed') {
      this.#flushed?.();
      return;
    }
    if (data.type !== 'frame') return;
    const samples = data.samples;
    if (this.#isReady && this.#socket?.readyState === WebSocket.OPEN) {
      this.#send(samples);
      return;
    }
    this.#queue.push(samples);
    this.#queuedSamples += samples.length;
    while (this.#queuedSamples > MAX_QUEUED_SAMPLES) {
      this.#queuedSamples -= this.#queue.shift().length;
    }
  }

  #sendQueued() {
    for (const samples of this.#queue) this.#send(samples);
    this.#queue = [];
    this.#queuedSamples = 0;
  }

  #send(samples) {
    this.#socket.send(samples);
    this.#sentSamples += samples.length;
    let energy = 0;
    for (const sample of samples) energy += sample * sample;
    const level = Math.sqrt(energy / Math.max(1, samples.length));
    this.#callbacks.onAudio(this.#sentSamples / SAMPLE_RATE, level);
  }

  #state() {
    if (this.#isEnding) return 'finishing';
    return this.#isReady ? 'listening' : 'connecting';
  }

  #status(state, text) {
    this.#callbacks.onStatus(state, text);
  }

  #closeAudio() {
    this.#node?.disconnect();
    this.#node = null;
    for (const track of this.#media?.getTracks() ?? []) track.stop();
    this.#media = null;
    void this.#context?.close().catch(() => undefined);
    this.#context = null;
  }

  #fail(text) {
    this.#finish('error', text);
  }

  #finish(state, text) {
    if (this.#isOver) return;
    this.#isOver = true;
    clearTimeout(this.#finishTimer);
    this.#closeAudio();
    if (this.#socket !== null && this.#socket.readyState <= WebSocket.OPEN) {
      this.#socket.close(1000, 'client done');
    }
    this.#status(state, text);
    this.#callbacks.onEnd?.();
  }
}
