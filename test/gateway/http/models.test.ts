import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from '../support/harness.js';

describe('GET /v1/models', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('lists the served model and the whisper-1 alias in OpenAI list shape', async () => {
    const response = await fetch(`${harness.baseUrl}/v1/models`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; data: Record<string, unknown>[] };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(['tiny.en', 'whisper-1']);
    for (const model of body.data) {
      expect(model).toMatchObject({ object: 'model', owned_by: 'whisperlive-hybrid' });
      expect(typeof model.created).toBe('number');
    }
  });

  it('retrieves one model, and 404s an unknown one', async () => {
    const one = await fetch(`${harness.baseUrl}/v1/models/whisper-1`);
    expect(await one.json()).toMatchObject({ id: 'whisper-1', object: 'model' });
    const missing = await fetch(`${harness.baseUrl}/v1/models/gpt-4`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { code: 'model_not_found', param: 'model' },
    });
  });

  it('answers 503 when no worker serves', async () => {
    harness.worker?.setHealth('NOT_SERVING');
    await harness.waitForHealth(503);
    const response = await fetch(`${harness.baseUrl}/v1/models`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).not.toBeNull();
    harness.worker?.setHealth('SERVING');
    await harness.waitForHealth(200);
  });
});
