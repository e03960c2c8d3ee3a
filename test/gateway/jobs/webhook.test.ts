import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createWebhookSender } from '../../../gateway/src/jobs/webhook.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import { createAddressPolicy, parseAllowlist } from '../../../gateway/src/net/address_policy.js';

describe('webhook sender', () => {
  let server: http.Server;
  let port: number;
  const requests: { url: string; body: string }[] = [];
  let answer = 200;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ url: req.url ?? '', body });
        res.statusCode = answer;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const sender = (allow: string[]): ReturnType<typeof createWebhookSender> =>
    createWebhookSender({
      policy: createAddressPolicy(parseAllowlist(allow).entries),
      timeoutMs: 1000,
      maxAttempts: 3,
      backoffMs: 10,
      logger: createSilentLogger(),
    });

  it('refuses loopback, private and metadata addresses without connecting', async () => {
    requests.length = 0;
    const webhooks = sender([]);
    for (const url of [
      `http://127.0.0.1:${port}/hook`,
      'http://10.0.0.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/hook',
    ]) {
      const outcome = await webhooks.send(url, { id: 'job' }, 'req');
      expect(outcome.kind).toBe('refused');
    }
    expect(requests).toEqual([]);
  });

  it('posts the JSON to an allow-listed address', async () => {
    requests.length = 0;
    answer = 200;
    const outcome = await sender(['127.0.0.1']).send(
      `http://127.0.0.1:${port}/hook`,
      { id: 'job_1', status: 'completed' },
      'req',
    );
    expect(outcome).toEqual({ kind: 'delivered', status: 200, attempts: 1 });
    expect(requests).toEqual([{ url: '/hook', body: '{"id":"job_1","status":"completed"}' }]);
  });

  it('retries a failing receiver a bounded number of times', async () => {
    requests.length = 0;
    answer = 503;
    const outcome = await sender(['127.0.0.1']).send(`http://127.0.0.1:${port}/h`, {}, 'req');
    expect(outcome).toMatchObject({ kind: 'failed', attempts: 3 });
    expect(requests).toHaveLength(3);
    answer = 200;
  });
});
