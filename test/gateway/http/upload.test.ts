import { afterEach, describe, expect, it } from 'vitest';

import { audioForm, startHarness, waitFor, type Harness } from '../support/harness.js';

describe('uploads', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('answers two file fields with 400 on `file`, keeps serving and leaves no temp file', async () => {
    harness = await startHarness();
    const form = audioForm(Buffer.alloc(64_000), 'a.wav', { model: 'whisper-1' });
    form.append('file', new Blob([Buffer.alloc(64_000)]), 'b.wav');
    const response = await fetch(`${harness.baseUrl}/v1/audio/transcriptions`, {
      method: 'POST',
      body: form,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: "More than one file: send exactly one file, in the 'file' field.",
        type: 'invalid_request_error',
        param: 'file',
        code: 'invalid_request',
      },
    });
    expect((await fetch(`${harness.baseUrl}/health`)).status).toBe(200);
    const current = harness;
    await waitFor(async () => (await current.tempFiles()).length === 0, 3_000);
  });
});
