import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from '../support/harness.js';

describe('API key authentication', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'key-one, key-two' } });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('answers 401 in OpenAI shape without a key or with a wrong one', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer nope' },
      { authorization: 'Basic a2V5LW9uZQ==' },
    ];
    for (const headers of attempts) {
      const response = await fetch(`${harness.baseUrl}/v1/models`, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({
        error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null },
      });
    }
  });

  it('lets a configured key through', async () => {
    for (const key of ['key-one', 'key-two']) {
      const response = await fetch(`${harness.baseUrl}/v1/models`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.status).toBe(200);
    }
  });

  it('answers legacy routes 401 in legacy shape', async () => {
    const response = await fetch(`${harness.baseUrl}/transcribe`, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ success: false });
  });

  it('leaves health open', async () => {
    expect((await fetch(`${harness.baseUrl}/health`)).status).toBe(200);
    expect((await fetch(`${harness.baseUrl}/healthz`)).status).toBe(200);
  });
});
