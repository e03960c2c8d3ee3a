/**
 * Downloads for `/transcribe/url`, safe to expose: http/https only; every host is resolved
 * and each address checked against the {@link AddressPolicy} before connecting; the
 * connection goes to the checked address (a pinned `lookup`, so a second DNS answer cannot
 * swap in another host); redirects are followed by hand and checked again; the size limit
 * and the time limit hold while streaming to disk.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  GatewayError,
  InvalidUrlError,
  PayloadTooLargeError,
  RemoteFetchError,
  RequestCancelledError,
  UrlNotAllowedError,
} from '../errors.js';
import { parseIp, type AddressPolicy } from './address_policy.js';
import { systemResolve, type ResolvedAddress, type Resolver } from './resolve.js';

/** Options of {@link downloadToFile}. */
export interface DownloadOptions {
  /** The URL as the client sent it. */
  readonly url: string;
  /** Where to write the body (created; must not exist). */
  readonly destinationPath: string;
  /** Largest body accepted, in bytes. */
  readonly maxBytes: number;
  /** Redirects followed at most. */
  readonly maxRedirects: number;
  /** Time limit of the whole download, in ms. */
  readonly timeoutMs: number;
  /** Which addresses may be reached. */
  readonly policy: AddressPolicy;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** DNS resolver (tests inject one); defaults to the system's `getaddrinfo`. */
  readonly resolve?: Resolver;
}

/** What was downloaded. */
export interface DownloadResult {
  /** URL of the last hop. */
  readonly finalUrl: string;
  /** Body size in bytes. */
  readonly bytes: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Longest URL accepted, in characters (what browsers and CDNs reliably carry). */
export const MAX_URL_LENGTH = 2048;

/** Longest host name DNS can carry, in characters. */
const MAX_HOSTNAME_LENGTH = 253;

/**
 * Parses a URL the client sent; only absolute http(s) URLs pass, no longer than
 * {@link MAX_URL_LENGTH}, with a host name DNS could resolve (checked before any lookup).
 */
export function parseHttpUrl(text: string): URL {
  if (text.length > MAX_URL_LENGTH) {
    throw new InvalidUrlError(`The URL is longer than ${MAX_URL_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidUrlError(`'${text.slice(0, 200)}' is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidUrlError(`Only http and https URLs are supported, not '${url.protocol}'.`);
  }
  if (url.hostname === '') throw new InvalidUrlError('The URL has no host.');
  if (url.hostname.length > MAX_HOSTNAME_LENGTH) {
    throw new InvalidUrlError(
      `The URL's host name is longer than ${MAX_HOSTNAME_LENGTH} characters.`,
    );
  }
  return url;
}

/** The URL's last path segment, decoded (`https://x/a/b.wav?q` → `b.wav`); `'audio'` if none. */
export function filenameFromUrl(url: URL): string {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const last = segments.at(-1);
  if (last === undefined) return 'audio';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/**
 * Resolves the URL's host and checks every address against the policy; returns the address
 * to connect to. Throws 400 (refused address) or 422 (unresolvable host).
 */
export async function resolveChecked(
  url: URL,
  policy: AddressPolicy,
  resolve: Resolver,
): Promise<ResolvedAddress> {
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const literal = parseIp(hostname);
  let addresses: readonly ResolvedAddress[];
  if (literal !== undefined) {
    addresses = [{ address: hostname, family: literal.version }];
  } else {
    try {
      addresses = await resolve(hostname);
    } catch (error) {
      throw new RemoteFetchError(
        `The host '${hostname}' could not be resolved.`,
        422,
        'remote_dns_failed',
        error,
      );
    }
    if (addresses.length === 0) {
      throw new RemoteFetchError(
        `The host '${hostname}' has no addresses.`,
        422,
        'remote_dns_failed',
      );
    }
  }
  // Every address must pass: a host that also resolves to an internal address is refused.
  for (const { address } of addresses) {
    const decision = policy.check(hostname, address);
    if (!decision.isAllowed) {
      throw new UrlNotAllowedError(
        `The URL's host '${hostname}' resolves to ${address}, a ${decision.addressClass.replace('_', '-')} ` +
          'address that this server does not fetch from.',
      );
    }
  }
  const chosen = addresses[0];
  if (chosen === undefined)
    throw new RemoteFetchError(`The host '${hostname}' has no addresses.`, 422);
  return chosen;
}

/** A `lookup` that answers only the checked address, so no second DNS answer is used. */
export function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all === true) {
      callback(null, [{ address: target.address, family: target.family }]);
    } else {
      callback(null, target.address, target.family);
    }
  };
}

function request(
  url: URL,
  target: ResolvedAddress,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'GET',
      headers: { 'user-agent': 'whisperlive-hybrid-gateway', accept: '*/*' },
      lookup: pinnedLookup(target),
      agent: false,
      signal,
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

class ByteLimit extends Transform {
  bytes = 0;
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) {
      callback(
        new PayloadTooLargeError(`The remote file is larger than ${this.#limit} bytes.`, 'url'),
      );
      return;
    }
    callback(null, chunk);
  }
}

function describeNetworkError(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string'
  ) {
    return error.code;
  }
  return 'connection failed';
}

/**
 * Downloads `url` into `destinationPath`. Throws 400 (bad or refused URL, also after a
 * redirect), 413 (too large), 422 (remote error status, unresolvable host, too many
 * redirects), 502 (connection failed or timed out).
 */
export async function downloadToFile(options: DownloadOptions): Promise<DownloadResult> {
  const resolve = options.resolve ?? systemResolve;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, timeout]);
  let url = parseHttpUrl(options.url);
  try {
    for (let hop = 0; ; hop += 1) {
      const target = await resolveChecked(url, options.policy, resolve);
      const response = await request(url, target, signal);
      const status = response.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        response.resume();
        const location = response.headers.location;
        if (location === undefined) {
          throw new RemoteFetchError(
            `The remote server answered ${status} without a Location.`,
            422,
          );
        }
        if (hop >= options.maxRedirects) {
          throw new RemoteFetchError(
            `Too many redirects (more than ${options.maxRedirects}).`,
            422,
            'too_many_redirects',
          );
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new InvalidUrlError(`The remote server redirected to an invalid URL.`);
        }
        url = parseHttpUrl(next.href);
        continue;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        throw new RemoteFetchError(
          `The remote server answered ${status} ${response.statusMessage ?? ''}`.trim() + '.',
          422,
          'remote_http_error',
        );
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.destroy();
        throw new PayloadTooLargeError(
          `The remote file is ${declared} bytes; the limit is ${options.maxBytes}.`,
          'url',
        );
      }
      const limit = new ByteLimit(options.maxBytes);
      await pipeline(response, limit, createWriteStream(options.destinationPath, { flags: 'wx' }), {
        signal,
      });
      return { finalUrl: url.href, bytes: limit.bytes };
    }
  } catch (error) {
    await rm(options.destinationPath, { force: true });
    if (options.signal.aborted) throw new RequestCancelledError(undefined, error);
    if (timeout.aborted) {
      throw new RemoteFetchError(
        `The download did not finish within ${Math.round(options.timeoutMs / 1000)} s.`,
        502,
        'remote_timeout',
        error,
      );
    }
    if (error instanceof GatewayError) throw error;
    throw new RemoteFetchError(
      `Could not download the URL (${describeNetworkError(error)}).`,
      502,
      'remote_unreachable',
      error,
    );
  }
}
