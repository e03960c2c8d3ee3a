/**
 * Hostile first frames through the real WhisperLive server (issue #9): a frame built to make
 * the lenient JSON rewrite backtrack, and oversized text options, are refused at once with
 * an ERROR message and close 1008, and the event loop stays free for everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import {
  MAX_OPTIONS_MESSAGE_BYTES,
  MAX_PROMPT_CHARS,
  MAX_UID_CHARS,
} from '../../../gateway/src/ws/protocol.js';
import { startHarness, type Harness } from '../support/harness.js';

/** What the server answered a single text frame: its first message and the close. */
interface Answer {
  readonly message: Record<string, unknown>;
  readonly code: number;
  /** From sending the frame to the first message, in ms. */
  readonly ms: number;
}

async function answerTo(url: string, frame: string): Promise<Answer> {
  const ws = new WebSocket(url);
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  const first = new Promise<{ text: string; at: number }>((resolve) => {
    ws.once('message', (data: RawData) => {
      resolve({ text: Buffer.isBuffer(data) ? data.toString('utf8') : '', at: performance.now() });
    });
  });
  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code: number) => {
      resolve(code);
    });
  });
  // Time from the moment the frame is on the wire, so the client's own send is not counted.
  const sentAt = await new Promise<number>((resolve, reject) => {
    // ws calls back with null (not undefined, as typed) on success.
    ws.send(frame, (error: unknown) => {
      if (error instanceof Error) reject(error);
      else resolve(performance.now());
    });
  });
  const { text, at } = await first;
  return {
    message: JSON.parse(text) as Record<string, unknown>,
    code: await closed,
    ms: at - sentAt,
  };
}

describe('hostile WhisperLive options frames', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('refuses a 1 MiB frame of escaped quotes in well under 100 ms, loop free', async () => {
    const head = '{"uid": "a", "initial_prompt": "';
    const frame = head + '\\"'.repeat((1024 * 1024 - head.length) / 2);
    expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(1024 * 1024);
    // A probe queued beside the frame: it is answered only if the loop is not blocked.
    const probe = fetch(`${harness.baseUrl}/healthz`).then(() => performance.now());
    const started = performance.now();
    const answer = await answerTo(harness.wsUrl, frame);
    expect(answer.message).toEqual({
      uid: '',
      status: 'ERROR',
      message: `the options message must be at most ${MAX_OPTIONS_MESSAGE_BYTES} bytes`,
    });
    expect(answer.code).toBe(1008);
    expect(answer.ms).toBeLessThan(100);
    expect((await probe) - started).toBeLessThan(1000);
  });

  it('refuses over-long uids and prompts, naming the option', async () => {
    const longUid = await answerTo(harness.wsUrl, JSON.stringify({ uid: 'u'.repeat(200) }));
    expect(longUid.message).toEqual({
      uid: '',
      status: 'ERROR',
      message: `"uid" must be at most ${MAX_UID_CHARS} characters, got 200`,
    });
    expect(longUid.code).toBe(1008);
    const longPrompt = await answerTo(
      harness.wsUrl,
      JSON.stringify({ uid: 'p', initial_prompt: 'x'.repeat(MAX_PROMPT_CHARS + 1) }),
    );
    expect(longPrompt.message).toEqual({
      uid: 'p',
      status: 'ERROR',
      message:
        `invalid options: "initial_prompt" must be at most ${MAX_PROMPT_CHARS} characters, ` +
        `got ${MAX_PROMPT_CHARS + 1}`,
    });
    expect(longPrompt.code).toBe(1008);
  });
});
