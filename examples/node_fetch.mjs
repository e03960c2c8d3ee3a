// Transcribe a file with Node's built-in fetch and FormData (Node 20+), as SRT subtitles.
//   node examples/node_fetch.mjs speech.wav
// STT_URL (default http://localhost:8080) and STT_API_KEY (when the server has keys).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

const path = process.argv[2];
if (!path) throw new Error('usage: node examples/node_fetch.mjs AUDIO_FILE');
const url = process.env.STT_URL ?? 'http://localhost:8080';
const form = new FormData();
form.append('file', new Blob([await readFile(path)]), basename(path));
form.append('model', 'whisper-1');
form.append('response_format', 'srt');
const headers = process.env.STT_API_KEY ? { Authorization: `Bearer ${process.env.STT_API_KEY}` } : {};
const response = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form, headers });
if (!response.ok) {
  const { error } = await response.json();
  console.error(`${response.status}: ${error.message}`);
  process.exit(1);
}
process.stdout.write(await response.text());
