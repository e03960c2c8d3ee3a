/**
 * Webhooks: when a job ends, its `webhook_url` gets a POST with the job as JSON. The URL is
 * reached through the same address policy as `/transcribe/url` (private, loopback and
 * metadata addresses refused unless allow-listed; checked at every attempt, after DNS), with
 * a time limit per attempt and a few retries with back-off. Redirects are not followed.
 * Sending never blocks the job runner: {@link WebhookSender.send} runs on its own.
 */
import http from 'node:http';
import https from 'node:https';

import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AddressPolicy } from '../net/address_policy.js';
import { parseHttpUrl, pinnedLookup, resolveChecked } from '../net/download.js';
import { systemResolve, type Resolver } from '../net/resolve.js';

/** How one webhook ended. */
export type WebhookOutcome =
  | { readonly kind: 'delivered'; readonly status: number; readonly attempts: number }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string; readonly attempts: number };

/** Options of {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  readonly policy: AddressPolicy;
  /** Time limit of one attempt, in ms. */
  readonly timeoutMs: number;
  /** Attempts in all (first one included). */
  readonly maxAttempts: number;
  /** Wait before the second attempt, in ms; doubled for each next one. */
  readonly backoffMs: number;
  readonly logger: Logger;
  readonly resolve?: Resolver;
}

/** Sends webhooks. */
export interface WebhookSender {
  /** Posts `payload` to `url` (retrying); resolves with the outcome, never rejects. */
  send(url: string, payload: object, requestId: string): Promise<WebhookOutcome>;
  /** Stops waiting between retries; attempts in flight end by their time limit. */
  close(): void;
}

function post(
  url: URL,
  body: string,
  lookup: ReturnType<typeof pinnedLookup>,
  requestId: string,
  signal: AbortSignal,
): Promise<number> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'whisperlive-hybrid-gateway',
        'x-request-id': requestId,
      },
      lookup,
      agent: false,
      signal,
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Creates the sender. */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const resolve = options.resolve ?? systemResolve;
  const closing = new AbortController();
  const sleep = (ms: number): Promise<void> =>
    new Promise((done) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        done();
      };
      const timer = setTimeout(() => {
        closing.signal.removeEventListener('abort', onAbort);
        done();
      }, ms);
      closing.signal.addEventListener('abort', onAbort, { once: true });
    });

  return {
    async send(rawUrl, payload, requestId) {
      const logger = options.logger.child({ request_id: requestId });
      const body = JSON.stringify(payload);
      let reason = 'not attempted';
      for (let attempt = 1; attempt <= options.maxAttempts; attempt += 1) {
        if (closing.signal.aborted) break;
        try {
          const url = parseHttpUrl(rawUrl);
          // Resolved and checked at every attempt: DNS may change between them.
          const target = await resolveChecked(url, options.policy, resolve);
          const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), closing.signal]);
          const status = await post(url, body, pinnedLookup(target), requestId, signal);
          if (status >= 200 && status < 300) {
            logger.info('webhook delivered', { status, attempts: attempt });
            return { kind: 'delivered', status, attempts: attempt };
          }
          reason = `answered ${status}`;
          // A client error other than 408/429 will not change by retrying.
          if (status >= 400 && status < 500 && status !== 408 && status !== 429) break;
        } catch (error) {
          if (error instanceof GatewayError && error.httpStatus === 400) {
            logger.warn('webhook refused', { error: error.message });
            return { kind: 'refused', reason: error.message };
          }
          reason = error instanceof Error ? error.message : String(error);
        }
        if (attempt < options.maxAttempts) await sleep(options.backoffMs * 2 ** (attempt - 1));
      }
      logger.warn('webhook failed', { error: reason, attempts: options.maxAttempts });
      return { kind: 'failed', reason, attempts: options.maxAttempts };
    },
    close() {
      closing.abort();
    },
  };
}
