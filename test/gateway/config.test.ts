import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../gateway/src/config.js';
import { CONFIG_DEFAULTS, issuesOf } from './support/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, CONFIG_DEFAULTS);
    expect(config).toMatchObject({
      host: '0.0.0.0',
      httpPort: 8080,
      wsPort: 5050,
      workerKeepaliveMs: 30_000,
      workerLoadRefreshMs: 2000,
      maxUploadBytes: 104_857_600,
      tmpDir: path.join('/tmp', 'stt-gateway-4242'),
      isTmpDirOwned: true,
      requestTimeoutMs: 1_800_000,
      urlAllowlist: [],
      urlMaxRedirects: 5,
      urlTimeoutMs: 120_000,
      apiKeys: [],
      ffmpegPath: undefined,
      logLevel: 'info',
    });
    expect(config.worker).toEqual({ kind: 'spawn', python: '/repo/.venv/bin/python', env: {} });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        HTTP_PORT: '9000',
        PORT_WHISPERLIVE: '9090',
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_WORKER_ADDRESS: 'worker:50051, 10.0.0.2:50051, dns:///workers.internal:50051',
        GATEWAY_WORKER_RESOLVE_S: '15',
        GATEWAY_MAX_UPLOAD_BYTES: '1024',
        GATEWAY_TMP_DIR: '/var/tmp/uploads',
        GATEWAY_REQUEST_TIMEOUT_S: '2.5',
        GATEWAY_URL_ALLOWLIST: '127.0.0.1, 10.0.0.0/8, files.internal, *.corp.example',
        GATEWAY_URL_MAX_REDIRECTS: '0',
        GATEWAY_URL_TIMEOUT_S: '10',
        GATEWAY_API_KEYS: 'a,b',
        GATEWAY_WORKER_KEEPALIVE_S: '60',
        GATEWAY_WORKER_LOAD_REFRESH_MS: '500',
        FFMPEG_PATH: '/opt/ffmpeg',
        LOG_LEVEL: 'DEBUG',
      },
      CONFIG_DEFAULTS,
    );
    expect(config).toMatchObject({
      httpPort: 9000,
      wsPort: 9090,
      host: '127.0.0.1',
      worker: {
        kind: 'remote',
        targets: [
          { kind: 'static', address: 'worker:50051' },
          { kind: 'static', address: '10.0.0.2:50051' },
          {
            kind: 'dns',
            host: 'workers.internal',
            port: 50051,
            target: 'dns:///workers.internal:50051',
          },
        ],
        resolveIntervalMs: 15_000,
      },
      maxUploadBytes: 1024,
      tmpDir: '/var/tmp/uploads',
      isTmpDirOwned: false,
      requestTimeoutMs: 2500,
      urlMaxRedirects: 0,
      urlTimeoutMs: 10_000,
      apiKeys: ['a', 'b'],
      workerKeepaliveMs: 60_000,
      workerLoadRefreshMs: 500,
      ffmpegPath: '/opt/ffmpeg',
      logLevel: 'debug',
    });
    expect(config.urlAllowlist).toHaveLength(4);
  });

  it('passes everything but GATEWAY_* to a spawned worker', () => {
    const config = loadConfig(
      {
        FASTERWHISPER_MODEL: '/models/tiny.en',
        OMP_NUM_THREADS: '2',
        WORKER_ENGINE__BACKEND: 'fake',
        HOME: '/home/x',
        GATEWAY_API_KEYS: 'secret',
        GATEWAY_WORKER_PYTHON: '/usr/bin/python3',
      },
      CONFIG_DEFAULTS,
    );
    expect(config.worker).toEqual({
      kind: 'spawn',
      python: '/usr/bin/python3',
      env: {
        FASTERWHISPER_MODEL: '/models/tiny.en',
        OMP_NUM_THREADS: '2',
        WORKER_ENGINE__BACKEND: 'fake',
        HOME: '/home/x',
      },
    });
  });

  it('reads worker targets as gRPC writes them, and says what is wrong with a bad one', () => {
    const targets = (value: string): unknown => {
      const config = loadConfig({ GATEWAY_WORKER_ADDRESS: value }, CONFIG_DEFAULTS);
      return config.worker.kind === 'remote' ? config.worker.targets : undefined;
    };
    expect(targets('dns:worker:50051, [::1]:7000, dns:///[fd00::1]:9')).toEqual([
      { kind: 'dns', host: 'worker', port: 50051, target: 'dns:worker:50051' },
      { kind: 'static', address: '[::1]:7000' },
      { kind: 'dns', host: 'fd00::1', port: 9, target: 'dns:///[fd00::1]:9' },
    ]);
    expect(issuesOf({ GATEWAY_WORKER_ADDRESS: 'dns://8.8.8.8/worker:50051' })).toEqual([
      "GATEWAY_WORKER_ADDRESS: 'dns://8.8.8.8/worker:50051': a DNS server authority is not supported; use dns:///host:port",
    ]);
    expect(issuesOf({ GATEWAY_WORKER_ADDRESS: 'dns:///worker' })).toEqual([
      "GATEWAY_WORKER_ADDRESS: 'dns:///worker' is not host:port or dns:///host:port",
    ]);
    expect(issuesOf({ GATEWAY_WORKER_ADDRESS: 'worker:0' })).toEqual([
      "GATEWAY_WORKER_ADDRESS: 'worker:0' is not host:port or dns:///host:port",
    ]);
  });

  it('reports every invalid variable at once', () => {
    const issues = issuesOf({
      HTTP_PORT: 'eighty',
      PORT_WHISPERLIVE: '70000',
      OMP_NUM_THREADS: '0',
      GATEWAY_WORKER_ADDRESS: 'no-port',
      GATEWAY_MAX_UPLOAD_BYTES: '-1',
      GATEWAY_REQUEST_TIMEOUT_S: 'soon',
      GATEWAY_URL_ALLOWLIST: 'bad host!, 10.0.0.0/33',
      GATEWAY_URL_MAX_REDIRECTS: '99',
      GATEWAY_URL_TIMEOUT_S: '0',
      LOG_LEVEL: 'loud',
    });
    const names = issues.map((issue) => issue.split(/[=:]/)[0]);
    expect(names).toEqual([
      'HTTP_PORT',
      'PORT_WHISPERLIVE',
      'OMP_NUM_THREADS',
      'GATEWAY_WORKER_ADDRESS',
      'GATEWAY_MAX_UPLOAD_BYTES',
      'GATEWAY_REQUEST_TIMEOUT_S',
      'GATEWAY_URL_ALLOWLIST',
      'GATEWAY_URL_ALLOWLIST',
      'GATEWAY_URL_MAX_REDIRECTS',
      'GATEWAY_URL_TIMEOUT_S',
      'LOG_LEVEL',
    ]);
  });

  it('reads and checks the WebSocket limits', () => {
    expect(loadConfig({}, CONFIG_DEFAULTS)).toMatchObject({
      wsMaxSessions: 64,
      wsMaxConnectionMs: 600_000,
      wsMaxPendingAudioMs: 10_000,
      wsReadyTimeoutMs: 30_000,
      wsFlushTimeoutMs: 60_000,
    });
    expect(
      loadConfig(
        {
          GATEWAY_WS_MAX_SESSIONS: '2',
          GATEWAY_WS_MAX_CONNECTION_TIME_S: '300',
          GATEWAY_WS_MAX_PENDING_AUDIO_S: '2.5',
          GATEWAY_WS_READY_TIMEOUT_S: '5',
          GATEWAY_WS_FLUSH_TIMEOUT_S: '20',
        },
        CONFIG_DEFAULTS,
      ),
    ).toMatchObject({
      wsMaxSessions: 2,
      wsMaxConnectionMs: 300_000,
      wsMaxPendingAudioMs: 2500,
      wsReadyTimeoutMs: 5000,
      wsFlushTimeoutMs: 20_000,
    });
    const issues = issuesOf({
      GATEWAY_WS_MAX_SESSIONS: '0',
      GATEWAY_WS_MAX_CONNECTION_TIME_S: 'forever',
      GATEWAY_WS_MAX_PENDING_AUDIO_S: '0.5',
      GATEWAY_WS_READY_TIMEOUT_S: '-1',
      GATEWAY_WS_FLUSH_TIMEOUT_S: '99999',
    });
    expect(issues.map((issue) => issue.split('=')[0])).toEqual([
      'GATEWAY_WS_MAX_SESSIONS',
      'GATEWAY_WS_MAX_CONNECTION_TIME_S',
      'GATEWAY_WS_MAX_PENDING_AUDIO_S',
      'GATEWAY_WS_READY_TIMEOUT_S',
      'GATEWAY_WS_FLUSH_TIMEOUT_S',
    ]);
  });

  it('reads and checks the worker load refresh interval (0 turns it off)', () => {
    expect(
      loadConfig({ GATEWAY_WORKER_LOAD_REFRESH_MS: '0' }, CONFIG_DEFAULTS).workerLoadRefreshMs,
    ).toBe(0);
    expect(
      loadConfig({ GATEWAY_WORKER_LOAD_REFRESH_MS: '50' }, CONFIG_DEFAULTS).workerLoadRefreshMs,
    ).toBe(50);
    for (const value of ['10', '-1', '1.5', 'often', '3600001']) {
      expect(issuesOf({ GATEWAY_WORKER_LOAD_REFRESH_MS: value })).toEqual([
        expect.stringMatching(/^GATEWAY_WORKER_LOAD_REFRESH_MS=/) as string,
      ]);
    }
  });

  it('reads the WhisperLive URL the web page offers: ws(s) URLs and paths only', () => {
    expect(loadConfig({}, CONFIG_DEFAULTS).publicWsUrl).toBeUndefined();
    expect(
      loadConfig({ GATEWAY_PUBLIC_WS_URL: 'wss://stt.example.com/ws' }, CONFIG_DEFAULTS)
        .publicWsUrl,
    ).toBe('wss://stt.example.com/ws');
    expect(loadConfig({ GATEWAY_PUBLIC_WS_URL: '/live' }, CONFIG_DEFAULTS).publicWsUrl).toBe(
      '/live',
    );
    for (const value of ['https://stt.example.com/', '//evil.example/', 'ws', 'ws://', '/a b']) {
      expect(issuesOf({ GATEWAY_PUBLIC_WS_URL: value }), value).toEqual([
        expect.stringMatching(/^GATEWAY_PUBLIC_WS_URL=/) as string,
      ]);
    }
  });

  it('treats blank values as unset', () => {
    expect(
      loadConfig({ HTTP_PORT: '  ', GATEWAY_WORKER_ADDRESS: '' }, CONFIG_DEFAULTS).httpPort,
    ).toBe(8080);
  });
});
