// OpenAI Realtime transcription with the official Node SDK (openai 7.x, Node >= 22) against
// the gateway over TLS. openai's Node Realtime client always connects with wss:, so this is
// how a Node client reaches the gateway: GATEWAY_TLS_CERT/GATEWAY_TLS_KEY set, and the
// certificate trusted through NODE_EXTRA_CA_CERTS (verification stays on).
//
// Usage: node realtime_tls.mjs --base-url https://127.0.0.1:PORT/v1 --wav speech.wav \
//          --turns N [--speed 1] [--timeout-s 60] [--api-key KEY]
// The WAV is 16-bit mono PCM at 24 kHz. It is sent in 100 ms appends, each once its audio has
// been spoken (at --speed times real time), with server VAD ending the turns. Prints one JSON
// summary on stdout: {"completed": [{item_id, transcript}], "deltas": {item_id: joined},
// "counts": {event type: n}, "error": null | why}. Exits 0 once --turns transcripts have
// completed, 1 on an error event, a failed connection or the timeout.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const RATE = 24_000;
const APPEND_S = 0.1;

const { values } = parseArgs({
  options: {
    'base-url': { type: 'string' },
    wav: { type: 'string' },
    turns: { type: 'string' },
    speed: { type: 'string', default: '1' },
    'timeout-s': { type: 'string', default: '60' },
    'api-key': { type: 'string', default: 'unused' },
  },
});
if (values['base-url'] === undefined || values.wav === undefined || values.turns === undefined) {
  process.stderr.write('usage: realtime_tls.mjs --base-url URL --wav FILE --turns N\n');
  process.exit(2);
}
const turns = Number(values.turns);
const speed = Number(values.speed);

/** The samples of a 16-bit mono 24 kHz PCM WAV, as bytes. */
function pcmOf(wav) {
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file');
  }
  let format;
  for (let offset = 12; offset + 8 <= wav.length;) {
    const id = wav.toString('ascii', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = {
        encoding: wav.readUInt16LE(body),
        channels: wav.readUInt16LE(body + 2),
        rate: wav.readUInt32LE(body + 4),
        bits: wav.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (
        format?.encoding !== 1 ||
        format.channels !== 1 ||
        format.rate !== RATE ||
        format.bits !== 16
      ) {
        throw new Error(`expected 16-bit mono PCM at ${RATE} Hz, got ${JSON.stringify(format)}`);
      }
      return wav.subarray(body, body + size);
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV without a data chunk');
}

const pcm = pcmOf(await readFile(values.wav));
const completed = [];
const deltas = {};
const counts = {};
let failure = null;

const client = new OpenAI({ baseURL: values['base-url'], apiKey: values['api-key'] });
const rt = await OpenAIRealtimeWS.create(client, { intent: 'transcription' });

const done = new Promise((resolve) => {
  let isSettled = false;
  const finish = (why) => {
    if (isSettled) return;
    isSettled = true;
    failure = why;
    clearTimeout(timer);
    resolve();
  };
  const timer = setTimeout(
    () => {
      finish(`timed out after ${values['timeout-s']} s with ${completed.length} of ${turns} turns`);
    },
    Number(values['timeout-s']) * 1000,
  );
  rt.on('error', (error) => {
    finish(error.message);
  });
  rt.socket.on('close', (code, reason) => {
    finish(`closed ${code} ${reason.toString()} before ${turns} turns completed`);
  });
  rt.on('event', (event) => {
    counts[event.type] = (counts[event.type] ?? 0) + 1;
  });
  rt.on('conversation.item.input_audio_transcription.delta', (event) => {
    deltas[event.item_id] = (deltas[event.item_id] ?? '') + event.delta;
  });
  rt.on('conversation.item.input_audio_transcription.completed', (event) => {
    completed.push({ item_id: event.item_id, transcript: event.transcript });
    if (completed.length >= turns) finish(null);
  });
});

/** Sends the audio as a microphone would: each append once its 100 ms have been spoken. */
async function play() {
  const step = Math.round(APPEND_S * RATE) * 2;
  const start = performance.now();
  for (let i = 0, offset = 0; offset < pcm.length; i += 1, offset += step) {
    const wait = start + ((i + 1) * APPEND_S * 1000) / speed - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (failure !== null) return;
    rt.send({
      type: 'input_audio_buffer.append',
      audio: pcm.subarray(offset, offset + step).toString('base64'),
    });
  }
}

rt.once('session.updated', () => {
  void play();
});
rt.socket.on('open', () => {
  rt.send({
    type: 'session.update',
    session: {
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: RATE },
          transcription: { model: 'whisper-1', language: 'en' },
          turn_detection: { type: 'server_vad', silence_duration_ms: 500 },
        },
      },
    },
  });
});

await done;
rt.close();
process.stdout.write(`${JSON.stringify({ completed, deltas, counts, error: failure })}\n`);
process.exitCode = failure === null ? 0 : 1;
