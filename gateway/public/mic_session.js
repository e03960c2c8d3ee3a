// What a live microphone session is, whatever its protocol: the microphone opened and
// captured through capture_worklet.js at the protocol's rate, a WebSocket, frames held back
// until the server is ready, start and stop, status, the end, and why a connection failed.
// live.js (WhisperLive) and realtime.js (OpenAI Realtime) extend it with their protocol.

/** How long the worklet may take to hand over its last samples. */
const FLUSH_TIMEOUT_MS = 2_000;

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
 * One live session. Subclasses implement `connect()` (open the socket with
 * {@link MicrophoneSession#openSocket}, call {@link MicrophoneSession#markReady} once the
 * server takes audio), `sendFrame(samples)` and `endStream()` (after the stop: ask the server
 * for its last words, then {@link MicrophoneSession#finish} or
 * {@link MicrophoneSession#finishWithin}).
 *
 * Callbacks: `onStatus(state, text)` with state one of `connecting`, `listening`,
 * `finishing`, `done`, `error`, `warning`; `onTranscript(transcript)` (the subclass's);
 * `onAudio(seconds, level)` after each frame sent; `onEnd()` once over.
 */
export class MicrophoneSession {
  /** The socket, once {@link MicrophoneSession#openSocket} made it. */
  socket = null;
  #options;
  #callbacks;
  #capture;
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
   * @param {{url: string, apiKey: string, probeKey: () => Promise<string | undefined>}} options
   *   (and the subclass's own)
   * @param {{onStatus: Function, onTranscript: Function, onAudio: Function, onEnd?: Function}}
   *   callbacks
   * @param {{rate: number, frameSamples: number, maxQueuedSamples: number}} capture - the
   *   protocol's sample rate and frame, and how much audio may wait for the server
   */
  constructor(options, callbacks, capture) {
    this.#options = options;
    this.#callbacks = callbacks;
    this.#capture = capture;
  }

  get options() {
    return this.#options;
  }

  get callbacks() {
    return this.#callbacks;
  }

  get isReady() {
    return this.#isReady;
  }

  get isEnding() {
    return this.#isEnding;
  }

  get isOver() {
    return this.#isOver;
  }

  /** Opens the microphone, then the WebSocket. */
  async start() {
    this.status('connecting', 'Opening the microphone…');
    if (
      navigator.mediaDevices?.getUserMedia === undefined ||
      window.AudioWorkletNode === undefined
    ) {
      this.finish('error', microphoneProblem(new Error('this browser has no microphone API here')));
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
      // The device's own rate: resampling is the worklet's job.
      this.#context = new AudioContext();
      await this.#context.audioWorklet.addModule(new URL('capture_worklet.js', import.meta.url));
    } catch (error) {
      this.finish('error', microphoneProblem(error));
      return;
    }
    if (this.#isOver) {
      // Stopped while the browser asked for the microphone.
      this.#closeAudio();
      return;
    }
    const source = this.#context.createMediaStreamSource(this.#media);
    this.#node = new AudioWorkletNode(this.#context, 'capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: 'explicit',
      channelInterpretation: 'speakers',
      processorOptions: { rate: this.#capture.rate, frameSamples: this.#capture.frameSamples },
    });
    this.#node.port.onmessage = (event) => this.#onWorkletMessage(event.data);
    source.connect(this.#node);
    // Connected to the output so the graph pulls it; the processor writes only silence.
    this.#node.connect(this.#context.destination);
    this.connect();
  }

  /** Stops capturing, sends what the worklet held back, then `endStream()`. */
  async stop() {
    if (this.#isEnding || this.#isOver) return;
    this.#isEnding = true;
    this.status('finishing', 'Finishing: waiting for the last words…');
    if (this.#node !== null) {
      const flushed = new Promise((resolve) => {
        this.#flushed = resolve;
      });
      this.#node.port.postMessage('flush');
      await Promise.race([flushed, new Promise((r) => setTimeout(r, FLUSH_TIMEOUT_MS))]);
    }
    this.#closeAudio();
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN || !this.#isReady) {
      // No session yet: nothing to finish.
      socket?.close(1000, 'stopped before the server was ready');
      this.finish('done', 'Stopped.');
      return;
    }
    this.endStream();
  }

  /**
   * Opens the WebSocket; undefined (and the session over) when the URL is refused. Its end
   * is handled here: a socket that never opened is explained, a normal close after the stop
   * is the end, any other close an error.
   */
  openSocket(url, protocols) {
    let socket;
    try {
      socket = new WebSocket(url, protocols);
    } catch (error) {
      this.finish('error', `Bad WebSocket URL: ${error.message}`);
      return undefined;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let wasOpened = false;
    socket.addEventListener('open', () => {
      wasOpened = true;
    });
    socket.addEventListener('close', (event) => {
      if (this.#isOver) return;
      if (!wasOpened) {
        void this.#explainRefusal(url);
        return;
      }
      if (this.#isEnding && event.code === 1000) {
        this.finish('done', 'Done: the final transcript is in.');
      } else {
        this.finish('error', this.closeProblem(event));
      }
    });
    return socket;
  }

  /** What an unexpected close means, in words (subclasses add what the server said). */
  closeProblem(event) {
    const reason = event.reason === '' ? '' : `: ${event.reason}`;
    return `The connection closed (code ${event.code}${reason}).`;
  }

  /**
   * A refused upgrade looks the same to a page whatever the cause; an HTTP call with the
   * same key tells a wrong key apart from a wrong URL.
   */
  async #explainRefusal(url) {
    let keyProblem;
    try {
      keyProblem = await this.#options.probeKey();
    } catch {
      keyProblem = undefined;
    }
    this.finish(
      'error',
      keyProblem === undefined
        ? `Could not connect to ${url}. Check the WebSocket URL (and that this page's origin is allowed).`
        : `The server refused the connection: ${keyProblem}`,
    );
  }

  /** The server takes audio now: what waited goes out. */
  markReady() {
    this.#isReady = true;
    for (const samples of this.#queue) this.#send(samples);
    this.#queue = [];
    this.#queuedSamples = 0;
  }

  #onWorkletMessage(data) {
    if (data.type === 'flushed') {
      this.#flushed?.();
      return;
    }
    if (data.type !== 'frame') return;
    const samples = data.samples;
    if (this.#isReady && this.socket?.readyState === WebSocket.OPEN) {
      this.#send(samples);
      return;
    }
    this.#queue.push(samples);
    this.#queuedSamples += samples.length;
    while (this.#queuedSamples > this.#capture.maxQueuedSamples) {
      this.#queuedSamples -= this.#queue.shift().length;
    }
  }

  #send(samples) {
    this.sendFrame(samples);
    this.#sentSamples += samples.length;
    let energy = 0;
    for (const sample of samples) energy += sample * sample;
    const level = Math.sqrt(energy / Math.max(1, samples.length));
    this.#callbacks.onAudio(this.#sentSamples / this.#capture.rate, level);
  }

  /** Status while the session goes on: connecting, listening or finishing. */
  ongoingState() {
    if (this.#isEnding) return 'finishing';
    return this.#isReady ? 'listening' : 'connecting';
  }

  status(state, text) {
    this.#callbacks.onStatus(state, text);
  }

  /** Ends the session with `text` as an error unless it finishes before `ms`. */
  finishWithin(ms, text) {
    clearTimeout(this.#finishTimer);
    this.#finishTimer = setTimeout(() => this.finish('error', text), ms);
  }

  #closeAudio() {
    this.#node?.disconnect();
    this.#node = null;
    for (const track of this.#media?.getTracks() ?? []) track.stop();
    this.#media = null;
    void this.#context?.close().catch(() => undefined);
    this.#context = null;
  }

  /** The end: microphone and socket closed, the last status shown, `onEnd` called. */
  finish(state, text) {
    if (this.#isOver) return;
    this.#isOver = true;
    clearTimeout(this.#finishTimer);
    this.#closeAudio();
    if (this.socket !== null && this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close(1000, 'client done');
    }
    this.status(state, text);
    this.#callbacks.onEnd?.();
  }
}
