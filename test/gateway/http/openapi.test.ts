import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDecoder } from '../../../gateway/src/audio/decode.js';
import { createHttpApp } from '../../../gateway/src/http/app.js';
import {
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_PROMPT_CHARS,
  MAX_URL_CHARS,
} from '../../../gateway/src/http/form.js';
import { OPENAPI_DOCUMENT, type JsonSchema } from '../../../gateway/src/http/openapi.js';
import { RESPONSE_FORMATS } from '../../../gateway/src/http/response_formats.js';
import { createSilentLogger } from '../../../gateway/src/logger.js';
import { startHarness, type Harness } from '../support/harness.js';

/** A route of the app: method and express path (`/v1/models/:model`). */
interface Route {
  readonly method: string;
  readonly path: string;
}

/** Objects and functions (an express router is a function with a `stack`). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/** Every route registered on an express router, nested routers included (all mounted at /). */
function routesOf(router: unknown): Route[] {
  if (!isRecord(router) || !Array.isArray(router.stack)) return [];
  const routes: Route[] = [];
  for (const layer of router.stack as unknown[]) {
    if (!isRecord(layer)) continue;
    const route = layer.route;
    if (isRecord(route) && typeof route.path === 'string' && isRecord(route.methods)) {
      for (const [method, isOn] of Object.entries(route.methods)) {
        if (isOn === true) routes.push({ method, path: route.path });
      }
    } else {
      routes.push(...routesOf(layer.handle));
    }
  }
  return routes;
}

/** `/v1/models/:model` → `/v1/models/{model}`. */
function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Every `$ref` in the document. */
function refsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsOf);
  if (!isRecord(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : refsOf(inner),
  );
}

function resolve(pointer: string): unknown {
  let node: unknown = OPENAPI_DOCUMENT;
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    node = isRecord(node) ? node[part] : undefined;
  }
  return node;
}

function formSchema(path: string): JsonSchema {
  const schema =
    OPENAPI_DOCUMENT.paths[path]?.post?.requestBody?.content['multipart/form-data']?.schema;
  if (schema === undefined) throw new Error(`no multipart form for ${path}`);
  return schema;
}

describe('OpenAPI document', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'secret-key' } });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('has a path and method for every express route', () => {
    const app = createHttpApp({
      config: harness.config,
      logger: createSilentLogger(),
      pool: harness.pool,
      decoder: createDecoder({ ffmpegPath: 'ffmpeg', chunkMs: 250 }),
      jobsRouter: harness.gateway.jobs.router,
    });
    const routes = routesOf(app.router);
    expect(routes.length).toBeGreaterThanOrEqual(10);
    const documented = Object.entries(OPENAPI_DOCUMENT.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    const served = routes.map((route) => `${route.method} ${toOpenApiPath(route.path)}`);
    expect(new Set(served)).toEqual(new Set(documented));
  });

  it('is served at /openapi.json without an API key, while other routes need one', async () => {
    const response = await fetch(`${harness.baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    expect((await fetch(`${harness.baseUrl}/v1/models`)).status).toBe(401);
  });

  it('answers 401 in the documented shape of each route family', async () => {
    const errorSchemaOf = (path: string, method: 'get' | 'post'): unknown => {
      const unauthorized = OPENAPI_DOCUMENT.paths[path]?.[method]?.responses['401'];
      const resolved =
        unauthorized !== undefined && '$ref' in unauthorized
          ? resolve(unauthorized.$ref)
          : unauthorized;
      return isRecord(resolved) && isRecord(resolved.content)
        ? resolved.content['application/json']
        : undefined;
    };
    const openAi = await fetch(`${harness.baseUrl}/v1/models`);
    expect(openAi.status).toBe(401);
    expect(Object.keys((await openAi.json()) as object)).toEqual(['error']);
    expect(errorSchemaOf('/v1/models', 'get')).toEqual({
      schema: { $ref: '#/components/schemas/Error' },
    });
    for (const path of ['/transcribe', '/transcribe/url']) {
      const legacy = await fetch(`${harness.baseUrl}${path}`, { method: 'POST' });
      expect(legacy.status).toBe(401);
      expect(Object.keys((await legacy.json()) as object).sort()).toEqual(['error', 'success']);
      expect(errorSchemaOf(path, 'post')).toEqual({
        schema: { $ref: '#/components/schemas/LegacyError' },
      });
    }
  });

  it('resolves every $ref and gives every operation a unique id', () => {
    for (const pointer of refsOf(OPENAPI_DOCUMENT)) {
      expect(resolve(pointer), pointer).toBeDefined();
    }
    const ids = Object.values(OPENAPI_DOCUMENT.paths).flatMap((item) =>
      Object.values(item).map((operation) => operation.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('states the caps, enums and ranges the parsers enforce', () => {
    const transcription = formSchema('/v1/audio/transcriptions').properties ?? {};
    expect(transcription.prompt?.maxLength).toBe(MAX_PROMPT_CHARS);
    expect(transcription.language?.maxLength).toBe(MAX_LANGUAGE_CHARS);
    expect(transcription.model?.maxLength).toBe(MAX_MODEL_CHARS);
    expect(transcription.response_format?.enum).toEqual(RESPONSE_FORMATS);
    expect(transcription.temperature).toMatchObject({ minimum: 0, maximum: 1 });
    expect(formSchema('/v1/audio/transcriptions').required).toEqual(['file']);
    expect(formSchema('/v1/audio/translations').properties?.language).toBeUndefined();
    expect(formSchema('/transcribe').properties?.task?.enum).toEqual(['transcribe', 'translate']);
    const url = OPENAPI_DOCUMENT.paths['/transcribe/url']?.post?.requestBody?.content;
    expect(Object.keys(url ?? {}).sort()).toEqual([
      'application/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]);
    expect(url?.['application/json']?.schema.properties?.url?.maxLength).toBe(MAX_URL_CHARS);
  });

  it('documents every response format and the error statuses of the audio routes', () => {
    const operation = OPENAPI_DOCUMENT.paths['/v1/audio/transcriptions']?.post;
    const ok = operation?.responses['200'];
    expect(ok !== undefined && 'content' in ok ? Object.keys(ok.content ?? {}) : []).toEqual([
      'application/json',
      'text/plain',
      'text/event-stream',
    ]);
    expect(Object.keys(operation?.responses ?? {})).toEqual(
      expect.arrayContaining(['400', '401', '413', '415', '429', '503']),
    );
    const busy = OPENAPI_DOCUMENT.components.responses.ServiceUnavailable;
    expect(
      busy !== undefined && 'headers' in busy ? Object.keys(busy.headers ?? {}) : [],
    ).toContain('Retry-After');
  });
});
