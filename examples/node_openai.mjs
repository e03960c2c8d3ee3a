// Transcribe a file with the official `openai` npm package pointed at this server.
//   node examples/node_openai.mjs speech.wav
// STT_URL (default http://localhost:8080) and STT_API_KEY (when the server has keys).
import { createReadStream } from 'node:fs';

import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: `${process.env.STT_URL ?? 'http://localhost:8080'}/v1`,
  apiKey: process.env.STT_API_KEY || 'unused', // the SDK insists on one
});
const transcript = await client.audio.transcriptions.create({
  model: 'whisper-1',
  file: createReadStream(process.argv[2]),
});
console.log(transcript.text);
