import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { StreamSettings } from '../../../gateway/src/transcript.js';
import { startHarness, waitFor, type Harness } from '../support/harness.js';

const LIVE: StreamSettings = {
  mode: 'live',
  encoding: 'float32',
  task: 'transcribe',
  languageCode: 'en',
  model: undefined,
  prompt: undefined,
  temperature: 0,
  hasWordTimestamps: false,
  hasInterimResults: true,
};

describe('cancelling a worker stream early', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  // grpc-js puts a call on the wire a turn after it is made; a cancel before that used to
  // end the call on our side only, and the worker held the stream until its deadline.
  it.each([
    ['in the same turn', -1],
    ['a turn later', 0],
    ['a few ms later', 4],
  ])('reaches the worker when it comes %s', async (_when, delayMs) => {
    harness = await startHarness({ worker: { script: { live: { isAckWithheld: true } } } });
    const stream = harness.pool
      .acquire()
      .startStream(LIVE, { requestId: 'early-cancel', timeoutMs: 600_000 });
    if (delayMs >= 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    stream.cancel();
    const worker = harness.worker;
    await waitFor(() => worker?.sessions.at(-1)?.isCancelled === true, 3_000);
  });

  it('frees the worker stream of a session ended by a bad frame before the worker answered', async () => {
    harness = await startHarness({ worker: { script: { live: { isAckWithheld: true } } } });
    const ws = new WebSocket(harness.wsUrl);
    await new Promise((resolve) => ws.once('open', resolve));
    // Both frames arrive together: the session starts its stream and ends it in one turn.
    ws.send(JSON.stringify({ uid: 'x', language: 'en' }));
    ws.send(Buffer.from([0, 1, 2]));
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBe(1007);
    const worker = harness.worker;
    await waitFor(() => worker?.sessions.at(-1)?.isCancelled === true, 3_000);
  });
});
