import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type RawData } from 'ws';

import { apiOfPath, createGatewayMetrics, sessionOutcome } from '../../gateway/src/metrics.js';
import { REPO_ROOT } from '../../gateway/src/paths.js';
import { CLOSE_CODES } from '../../gateway/src/ws/close_codes.js';
import { receivedMs } from './support/fake_worker.js';
import { fixtureDir, makeSine } from './support/fixtures.js';
import { audioForm, startHarness, waitFor, type Harness } from './support/harness.js';

/** One metric family of a scrape: its type, help and samples. */
interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parses the Prometheus text exposition format (0.0.4), as Prometheus reads it. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (found === undefined) {
      found = { type: 'untyped', help: '', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = '', rest = ''] = meta;
      if (kind === 'HELP') family(name).help = rest;
      else family(name).type = rest;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample === null) throw new Error(`not an exposition line: ${line}`);
    const [, name = '', labelText = '', value = ''] = sample;
    const labels: Record<string, string> = {};
    for (const match of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1] ?? ''] = match[2] ?? '';
    }
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const owner = families.has(name) || !families.has(base) ? name : base;
    family(owner).samples.push({ name, labels, value: Number(value) });
  }
  return families;
}

/** The value of the sample `name` whose labels include `labels`; 0 when there is none. */
function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const samples = [...(families.get(name)?.samples ?? []), ...(families.get(base)?.samples ?? [])];
  const match = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return match?.value ?? 0;
}

async function scrape(harness: Harness): Promise<Map<string, Family>> {
  const response = await fetch(`${harness.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

/** Every metric the gateway exports, with its type and help, as the README documents. */
const DOCUMENTED: Record<string, { type: string; labels: string[] }> = {
  stt_gateway_http_requests_total: { type: 'counter', labels: ['api', 'code'] },
  stt_gateway_http_request_duration_seconds: { type: 'histogram', labels: ['api'] },
  stt_gateway_audio_seconds_total: { type: 'counter', labels: ['api'] },
  stt_gateway_rejections_total: { type: 'counter', labels: ['api', 'reason'] },
  stt_gateway_sessions_total: { type: 'counter', labels: ['api', 'outcome'] },
  stt_gateway_sessions_active: { type: 'gauge', labels: ['api'] },
  stt_gateway_first_result_seconds: { type: 'histogram', labels: ['api'] },
  stt_gateway_build_info: { type: 'gauge', labels: ['version', 'node_version'] },
};

describe('metrics module', () => {
  it('exports exactly the documented stt_gateway_ metrics, each with help', async () => {
    const metrics = createGatewayMetrics({ build: { version: '9.8.7' } });
    const families = parseExposition(await metrics.registry.metrics());
    const ours = [...families.keys()].filter((name) => name.startsWith('stt_gateway_'));
    expect(new Set(ours)).toEqual(new Set(Object.keys(DOCUMENTED)));
    for (const [name, { type }] of Object.entries(DOCUMENTED)) {
      expect(families.get(name)?.type, name).toBe(type);
      expect(families.get(name)?.help.length, name).toBeGreaterThan(10);
    }
    expect(
      valueOf(families, 'stt_gateway_build_info', {
        version: '9.8.7',
        node_version: process.versions.node,
      }),
    ).toBe(1);
    expect(valueOf(families, 'stt_gateway_sessions_active', { api: 'whisperlive' })).toBe(0);
    expect(families.has('process_cpu_seconds_total')).toBe(false);
  });

  it("adds Node's process metrics when asked", async () => {
    const metrics = createGatewayMetrics({ hasProcessMetrics: true });
    const families = parseExposition(await metrics.registry.metrics());
    expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(families.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  });

  it('maps paths to a bounded set of APIs', () => {
    expect(apiOfPath('/v1/audio/transcriptions')).toBe('transcriptions');
    expect(apiOfPath('/v1/audio/translations')).toBe('translations');
    expect(apiOfPath('/transcribe')).toBe('legacy');
    expect(apiOfPath('/transcribe/url')).toBe('url');
    expect(apiOfPath('/v1/models/whisper-1')).toBe('models');
    expect(apiOfPath('/readyz')).toBe('health');
    expect(apiOfPath('/wp-admin/../etc/passwd')).toBe('other');
  });

  it('sorts session endings by close code', () => {
    expect(sessionOutcome(CLOSE_CODES.normal, false)).toBe('completed');
    expect(sessionOutcome(CLOSE_CODES.normal, true)).toBe('client_closed');
    expect(sessionOutcome(CLOSE_CODES.tryAgainLater, false)).toBe('refused');
    expect(sessionOutcome(CLOSE_CODES.policyViolation, false)).toBe('client_error');
    expect(sessionOutcome(CLOSE_CODES.goingAway, false)).toBe('shutdown');
    expect(sessionOutcome(CLOSE_CODES.internalError, false)).toBe('error');
  });
});

describe('GET /metrics', () => {
  let harness: Harness;
  let wav: Buffer;

  beforeAll(async () => {
    wav = await readFile(await makeSine(await fixtureDir(), 'wav', 2));
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1' } });
  });

  afterAll(async () => {
    await harness.close();
  });

  it('needs no API key and is documented in the OpenAPI document', async () => {
    const response = await fetch(`${harness.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const doc = (await (await fetch(`${harness.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain('/metrics');
  });

  it('counts a transcription: request by API and code, its duration and its audio', async () => {
    const before = await scrape(harness);
    const response = await fetch(`${harness.baseUrl}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer k1' },
      body: audioForm(wav, 'tone.wav', { model: 'whisper-1' }),
    });
    expect(response.status).toBe(200);
    // The access log and the metrics are written when the response has been sent.
    let after = await scrape(harness);
    await waitFor(async () => {
      after = await scrape(harness);
      return (
        valueOf(after, 'stt_gateway_http_requests_total', { api: 'transcriptions', code: '200' }) >
        valueOf(before, 'stt_gateway_http_requests_total', { api: 'transcriptions', code: '200' })
      );
    });
    const labels = { api: 'transcriptions' };
    expect(
      valueOf(after, 'stt_gateway_http_requests_total', { ...labels, code: '200' }) -
        valueOf(before, 'stt_gateway_http_requests_total', { ...labels, code: '200' }),
    ).toBe(1);
    expect(
      valueOf(after, 'stt_gateway_http_request_duration_seconds_count', labels) -
        valueOf(before, 'stt_gateway_http_request_duration_seconds_count', labels),
    ).toBe(1);
    expect(
      valueOf(after, 'stt_gateway_audio_seconds_total', labels) -
        valueOf(before, 'stt_gateway_audio_seconds_total', labels),
    ).toBeCloseTo(2, 1);
  });

  it('counts a request without a key as a rejection for auth', async () => {
    const response = await fetch(`${harness.baseUrl}/v1/models`);
    expect(response.status).toBe(401);
    await waitFor(async () => {
      const families = await scrape(harness);
      return (
        valueOf(families, 'stt_gateway_rejections_total', { api: 'models', reason: 'auth' }) ===
          1 &&
        valueOf(families, 'stt_gateway_http_requests_total', { api: 'models', code: '401' }) === 1
      );
    });
  });

  it('counts a live session: outcome, first result, audio; active back to 0', async () => {
    const ws = new WebSocket(harness.wsUrl, {
      headers: { Authorization: 'Bearer k1', 'x-request-id': 'live-abc.1' },
    });
    const upgradeId = new Promise<string | string[] | undefined>((resolve) => {
      ws.once('upgrade', (response) => {
        resolve(response.headers['x-request-id']);
      });
    });
    const texts: string[] = [];
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary && Buffer.isBuffer(data)) texts.push(data.toString('utf8'));
    });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(await upgradeId).toBe('live-abc.1');
    ws.send(JSON.stringify({ uid: 'm', language: 'en' }));
    await waitFor(() => texts.length >= 1);
    expect(
      valueOf(await scrape(harness), 'stt_gateway_sessions_active', { api: 'whisperlive' }),
    ).toBe(1);
    ws.send(Buffer.alloc(16_000 * 4 * 1.5)); // 1.5 s of float32 silence
    const session = harness.worker?.sessions.at(-1);
    await waitFor(() => session !== undefined && receivedMs(session) === 1500);
    expect(session?.requestId).toBe('live-abc.1');
    ws.send('END_OF_AUDIO');
    expect(await closed).toBe(1000);

    const labels = { api: 'whisperlive' };
    await waitFor(async () => {
      const families = await scrape(harness);
      return valueOf(families, 'stt_gateway_sessions_active', labels) === 0;
    });
    const families = await scrape(harness);
    expect(
      valueOf(families, 'stt_gateway_sessions_total', { ...labels, outcome: 'completed' }),
    ).toBe(1);
    expect(valueOf(families, 'stt_gateway_first_result_seconds_count', labels)).toBe(1);
    expect(valueOf(families, 'stt_gateway_audio_seconds_total', labels)).toBeCloseTo(1.5, 3);
  });

  it('counts a session its client closes as client_closed', async () => {
    const ws = new WebSocket(harness.wsUrl, { headers: { Authorization: 'Bearer k1' } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.close();
    await waitFor(async () => {
      const families = await scrape(harness);
      return (
        valueOf(families, 'stt_gateway_sessions_total', {
          api: 'whisperlive',
          outcome: 'client_closed',
        }) === 1 && valueOf(families, 'stt_gateway_sessions_active', { api: 'whisperlive' }) === 0
      );
    });
  });

  it('counts a WebSocket upgrade without a key as a rejection for auth', async () => {
    const ws = new WebSocket(harness.wsUrl, { headers: { 'x-request-id': 'not valid!' } });
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, response) => {
        resolve(response.statusCode);
      });
      ws.once('error', () => {
        resolve(undefined);
      });
    });
    expect(status).toBe(401);
    const families = await scrape(harness);
    expect(
      valueOf(families, 'stt_gateway_rejections_total', { api: 'whisperlive', reason: 'auth' }),
    ).toBe(1);
  });
});

describe('Grafana dashboard', () => {
  const monitoring = path.join(REPO_ROOT, 'deploy/monitoring');

  interface Panel {
    id: number;
    type: string;
    datasource?: { uid?: string };
    targets?: { expr?: string }[];
  }

  async function dashboardPanels(): Promise<Panel[]> {
    const file = path.join(monitoring, 'grafana/dashboards/whisperlive-hybrid.json');
    return (JSON.parse(await readFile(file, 'utf8')) as { panels: Panel[] }).panels;
  }

  it('queries only metrics the gateway exports (stt_gateway_*, process_*)', async () => {
    const metrics = createGatewayMetrics({ hasProcessMetrics: true });
    const exported = new Set(parseExposition(await metrics.registry.metrics()).keys());
    const exprs = (await dashboardPanels()).flatMap((panel) =>
      (panel.targets ?? []).map((target) => target.expr ?? ''),
    );
    const used = exprs.flatMap((expr) =>
      [...expr.matchAll(/\b((?:stt_gateway|process)_[a-z_]+)/g)].map((m) => m[1] ?? ''),
    );
    expect(used).toContain('stt_gateway_sessions_active');
    for (const name of used) {
      expect(exported, name).toContain(name.replace(/_(bucket|sum|count)$/, ''));
    }
  });

  it('has unique panel ids and reads the provisioned data source', async () => {
    const panels = await dashboardPanels();
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
    const provisioned = await readFile(
      path.join(monitoring, 'grafana/provisioning/datasources/prometheus.yaml'),
      'utf8',
    );
    const uid = /^\s*uid: (\S+)$/m.exec(provisioned)?.[1];
    expect(uid).toBe('prometheus');
    expect(provisioned).toContain('url: http://prometheus:9090');
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, String(panel.id)).toBe(uid);
    }
  });
});
