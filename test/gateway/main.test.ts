import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine } from './support/fixtures.js';
import { audioForm, waitFor } from './support/harness.js';
import { FAKE_WORKER_MAIN, freePort } from './support/processes.js';

const MAIN = path.resolve(import.meta.dirname, '../../gateway/src/main.ts');
const run = promisify(execFile);

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startMain(env: Record<string, string>): Started {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (data: Buffer): void => {
    output += data.toString();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  return { child, output: () => output, exited };
}

/** Pids of the fake worker processes whose parent is `pid`. */
async function workerPids(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(pid)]).catch(() => ({
    stdout: '',
  }));
  return stdout
    .split('\n')
    .filter((line) => line.includes('fake_worker_main'))
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((n) => n > 0);
}

describe('gateway main', () => {
  let dir: string;
  let shim: string;
  let wav: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stt-gateway-main-'));
    // Stands in for the Python interpreter: drops "-m stt_worker", runs the fake worker.
    shim = path.join(dir, 'python');
    await writeFile(
      shim,
      `#!/bin/sh\nshift 2\nexec "${process.execPath}" --import tsx "${FAKE_WORKER_MAIN}" "$@"\n`,
    );
    await chmod(shim, 0o755);
    wav = await readFile(await makeSine(await fixtureDir(), 'wav', 1));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('spawns the worker, serves, restarts a killed worker and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const tmpDir = path.join(dir, 'uploads');
    const main = startMain({
      HTTP_PORT: String(port),
      PORT_WHISPERLIVE: String(await freePort()),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_WORKER_PYTHON: shim,
      GATEWAY_TMP_DIR: tmpDir,
      GATEWAY_DATA_DIR: path.join(dir, 'jobs-data'),
      LOG_LEVEL: 'debug',
    });
    const base = `http://127.0.0.1:${port}`;
    const health = async (): Promise<number> =>
      (await fetch(`${base}/health`).catch(() => ({ status: 0 }))).status;
    try {
      await waitFor(async () => (await health()) === 200, 20_000);
      const response = await fetch(`${base}/v1/audio/transcriptions`, {
        method: 'POST',
        body: audioForm(wav, 'a.wav'),
      });
      expect(response.status).toBe(200);
      expect(await readdir(tmpDir)).toEqual([]);

      const logLines = (): Record<string, unknown>[] =>
        main
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      const isAccessLog = (l: Record<string, unknown>): boolean =>
        l.message === 'http request' && l.method === 'POST';
      await waitFor(() => logLines().some(isAccessLog));
      expect(logLines().find((l) => l.message === 'using ffmpeg')).toMatchObject({
        source: 'PATH',
      });
      expect(logLines().find((l) => l.message === 'fake worker ready')).toMatchObject({
        worker: 'local',
      });
      expect(logLines().find(isAccessLog)).toMatchObject({
        path: '/v1/audio/transcriptions',
        status: 200,
        audio_ms: 1000,
      });

      const [workerPid] = await workerPids(main.child.pid ?? 0);
      expect(workerPid).toBeGreaterThan(0);
      process.kill(workerPid ?? 0, 'SIGKILL');
      await waitFor(async () => (await health()) === 503, 10_000);
      await waitFor(async () => (await health()) === 200, 20_000);
      const [restartedPid] = await workerPids(main.child.pid ?? 0);
      expect(restartedPid).not.toBe(workerPid);

      main.child.kill('SIGTERM');
      expect(await main.exited).toBe(0);
      expect(() => process.kill(restartedPid ?? 0, 0)).toThrow();
    } finally {
      main.child.kill('SIGKILL');
    }
  });

  it('reports every invalid variable at once and exits 1', async () => {
    const main = startMain({
      HTTP_PORT: 'eighty',
      LOG_LEVEL: 'loud',
      GATEWAY_URL_ALLOWLIST: 'bad host!',
    });
    expect(await main.exited).toBe(1);
    expect(main.output()).toContain('HTTP_PORT');
    expect(main.output()).toContain('LOG_LEVEL');
    expect(main.output()).toContain('GATEWAY_URL_ALLOWLIST');
  });

  it('refuses to start without a working ffmpeg', async () => {
    const main = startMain({
      HTTP_PORT: String(await freePort()),
      FFMPEG_PATH: path.join(dir, 'no-ffmpeg'),
      GATEWAY_WORKER_ADDRESS: '127.0.0.1:1',
    });
    expect(await main.exited).toBe(1);
    expect(main.output()).toContain('FFMPEG_PATH');
  });
});
