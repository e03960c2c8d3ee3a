import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import type { WorkerFailure } from '../../gateway/src/grpc/pool.js';
import {
  createWorkerSupervisor,
  findSetpriv,
  parseFatalLine,
  parseListeningLine,
  parseWorkerLogLine,
  workerSpawnArgs,
  type WorkerSupervisor,
} from '../../gateway/src/worker_process.js';
import { waitFor } from './support/harness.js';
import { createMemoryLogger } from './support/memory_logger.js';
import { FAKE_WORKER_MAIN, tsNodeArgs } from './support/processes.js';

const SUPERVISOR_MAIN = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'support',
  'supervisor_main.ts',
);

/** Whether a process runs (a zombie, dead but not yet reaped, does not count). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts supervisor_main.ts; resolves with it and its worker's pid once the worker listens. */
async function startGatewayStandIn(args: string[]): Promise<{ kill(): void; workerPid: number }> {
  const child = spawn(process.execPath, tsNodeArgs(SUPERVISOR_MAIN, args), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`supervisor exited with ${code}`));
    });
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const { worker_pid: workerPid } = JSON.parse(line) as { worker_pid: number };
  return {
    workerPid,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

describe('parseListeningLine', () => {
  it('reads the worker listening line', () => {
    expect(
      parseListeningLine('{"event": "listening", "address": "127.0.0.1:4242", "port": 4242}'),
    ).toEqual({
      address: '127.0.0.1:4242',
      port: 4242,
    });
    expect(parseListeningLine('{"event": "listening", "port": 4242}')).toEqual({
      address: '127.0.0.1:4242',
      port: 4242,
    });
  });

  it('ignores every other line', () => {
    for (const line of [
      '',
      'listening',
      '{"event": "ready"}',
      '{"event": "listening", "port": 0}',
      '[1]',
    ]) {
      expect(parseListeningLine(line)).toBeUndefined();
    }
  });
});

describe('parseFatalLine', () => {
  it("reads the worker's configuration error", () => {
    expect(
      parseFatalLine(
        '{"event": "fatal", "reason": "configuration", "message": "model directory \'/m\' does not exist"}',
      ),
    ).toEqual({ reason: 'configuration', message: "model directory '/m' does not exist" });
  });

  it('ignores every other line, other reasons included', () => {
    for (const line of [
      '',
      'fatal',
      '{"event": "listening", "port": 4242}',
      '{"event": "fatal", "reason": "crash", "message": "x"}',
      '{"event": "fatal", "reason": "configuration"}',
      '{"event": "fatal", "reason": "configuration", "message": " "}',
      '{"event": "fatal", "reason": "configuration", "message": 7}',
    ]) {
      expect(parseFatalLine(line)).toBeUndefined();
    }
  });
});

describe('parseWorkerLogLine', () => {
  it('keeps the level, message and fields of JSON lines', () => {
    expect(
      parseWorkerLogLine(
        '{"level": "WARNING", "message": "queue full", "request_id": "r1", "timestamp": "x"}',
      ),
    ).toEqual({ level: 'warn', message: 'queue full', fields: { request_id: 'r1' } });
    expect(parseWorkerLogLine('{"levelname": "ERROR", "msg": "boom"}').level).toBe('error');
    expect(
      parseWorkerLogLine(
        '{"ts": "2025-01-01T00:00:00.000+00:00", "level": "info", "logger": "stt_worker.server", "msg": "serving"}',
      ),
    ).toEqual({ level: 'info', message: 'serving', fields: { logger: 'stt_worker.server' } });
    expect(parseWorkerLogLine('{"level": "CRITICAL", "message": "x"}').level).toBe('error');
    expect(parseWorkerLogLine('{"level": "DEBUG", "message": "x"}').level).toBe('debug');
    expect(parseWorkerLogLine('{"message": "x"}').level).toBe('info');
  });

  it('logs anything else as a warning line', () => {
    expect(parseWorkerLogLine('Traceback (most recent call last):')).toEqual({
      level: 'warn',
      message: 'Traceback (most recent call last):',
      fields: {},
    });
  });
});

describe('WorkerSupervisor', () => {
  let supervisor: WorkerSupervisor | undefined;

  afterEach(async () => {
    await supervisor?.stop(500);
    supervisor = undefined;
  });

  function start(extraArgs: string[] = []) {
    const { logger, entries } = createMemoryLogger();
    const addresses: string[] = [];
    let exits = 0;
    supervisor = createWorkerSupervisor({
      worker: {
        command: process.execPath,
        args: tsNodeArgs(FAKE_WORKER_MAIN, ['--host', '127.0.0.1', '--port', '0', ...extraArgs]),
        env: Object.fromEntries(
          Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
        ),
        cwd: process.cwd(),
      },
      logger,
      onListening: (address) => addresses.push(address),
      onExit: () => {
        exits += 1;
      },
      backoffMs: [50, 100],
    });
    supervisor.start();
    return { entries, addresses, exits: () => exits, supervisor };
  }

  it('reports the address and forwards worker logs at their level', async () => {
    const { entries, addresses } = start();
    await waitFor(() => addresses.length === 1);
    expect(addresses[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    await waitFor(() => entries.some((e) => e.message === 'plain text line'));
    const ready = entries.find((e) => e.message === 'fake worker ready');
    expect(ready).toMatchObject({ level: 'info', worker: 'local', model: 'tiny.en' });
    expect(entries.find((e) => e.message === 'plain text line')?.level).toBe('warn');
  });

  it('restarts a worker that dies, on its new port', async () => {
    const { addresses, exits, entries, supervisor: running } = start();
    await waitFor(() => addresses.length === 1);
    const firstPid = running.pid;
    process.kill(firstPid ?? 0, 'SIGKILL');
    await waitFor(() => addresses.length === 2);
    expect(exits()).toBe(1);
    expect(running.pid).not.toBe(firstPid);
    expect(addresses[1]).not.toBe(addresses[0]);
    expect(entries.some((e) => e.message === 'worker exited unexpectedly; restarting')).toBe(true);
  });

  it('stops the worker with SIGTERM and does not restart it', async () => {
    const { addresses, exits, supervisor: running } = start();
    await waitFor(() => addresses.length === 1);
    const pid = running.pid ?? 0;
    await running.stop(5000);
    expect(exits()).toBe(1);
    expect(() => process.kill(pid, 0)).toThrow();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(addresses).toHaveLength(1);
  });

  it('escalates to SIGKILL when the worker ignores SIGTERM', async () => {
    const { addresses, entries, supervisor: running } = start(['--ignore-sigterm']);
    await waitFor(() => addresses.length === 1);
    const started = Date.now();
    await running.stop(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(entries.some((e) => e.message === 'worker ignored SIGTERM; sending SIGKILL')).toBe(true);
  });
});

describe('WorkerSupervisor and configuration errors', () => {
  let supervisor: WorkerSupervisor | undefined;

  afterEach(async () => {
    await supervisor?.stop(500);
    supervisor = undefined;
  });

  const FATAL = {
    event: 'fatal',
    reason: 'configuration',
    message: "model directory '/models/x' does not exist: point FASTERWHISPER_MODEL at one",
  };

  /** Supervises `node -e script` (a worker stand-in that starts in milliseconds). */
  function supervise(script: string) {
    const { logger, entries } = createMemoryLogger();
    const failures: WorkerFailure[] = [];
    let exits = 0;
    supervisor = createWorkerSupervisor({
      worker: { command: process.execPath, args: ['-e', script], env: {}, cwd: process.cwd() },
      logger,
      onListening: () => undefined,
      onExit: () => {
        exits += 1;
      },
      onFailure: (failure) => failures.push(failure),
      backoffMs: [20],
    });
    supervisor.start();
    const starts = () => entries.filter((e) => e.message === 'starting worker').length;
    return { entries, failures, exits: () => exits, starts, supervisor };
  }

  /** Longer than several restarts would take with the 20 ms backoff. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

  it('does not restart a worker that exits with 78 after its fatal line, and says why', async () => {
    const fatal = JSON.stringify(FATAL);
    const {
      entries,
      failures,
      exits,
      starts,
      supervisor: running,
    } = supervise(`console.log(${JSON.stringify(fatal)}); process.exitCode = 78;`);
    await waitFor(() => failures.length === 1);
    await settle();
    expect(starts()).toBe(1);
    expect(exits()).toBe(1);
    expect(failures).toEqual([{ reason: 'configuration', message: FATAL.message }]);
    expect(running.state).toBe('failed');
    expect(running.failure).toEqual(failures[0]);
    expect(running.pid).toBeUndefined();
    const errors = entries.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      message: `the worker failed to start because of a configuration error: ${FATAL.message} (not restarted)`,
      code: 78,
      worker: 'local',
    });
    // The fatal line is the supervisor's to report, not a stdout line to log as is.
    expect(entries.some((e) => e.stream === 'stdout')).toBe(false);
  });

  it('does not restart a worker that exits with 78 without a fatal line', async () => {
    const { failures, starts, supervisor: running } = supervise('process.exit(78)');
    await waitFor(() => failures.length === 1);
    await settle();
    expect(starts()).toBe(1);
    expect(running.state).toBe('failed');
    expect(running.failure?.message).toBe(
      'the worker exited with code 78 (EX_CONFIG) without saying why; see its log above',
    );
  });

  it('trusts a fatal configuration line whatever the exit code', async () => {
    const fatal = JSON.stringify(FATAL);
    const { failures, starts } = supervise(
      `console.log(${JSON.stringify(fatal)}); process.exit(1)`,
    );
    await waitFor(() => failures.length === 1);
    await settle();
    expect(starts()).toBe(1);
  });

  it('restarts a worker that exits with 1, as before', async () => {
    const { entries, failures, starts, supervisor: running } = supervise('process.exit(1)');
    await waitFor(() => starts() >= 3);
    expect(failures).toEqual([]);
    expect(running.failure).toBeUndefined();
    expect(['starting', 'restarting']).toContain(running.state);
    const restarting = entries.find((e) => e.message === 'worker exited unexpectedly; restarting');
    expect(restarting).toMatchObject({ level: 'error', code: 1 });
    await running.stop(500);
    expect(running.state).toBe('stopped');
  });

  it('reports the state while the worker starts and listens', async () => {
    const listening = JSON.stringify({ event: 'listening', address: '127.0.0.1:1', port: 1 });
    const { supervisor: running } = supervise(
      `setTimeout(() => console.log(${JSON.stringify(listening)}), 200); setInterval(() => {}, 1000);`,
    );
    expect(running.state).toBe('starting');
    await waitFor(() => running.state === 'listening');
    await running.stop(500);
    expect(running.state).toBe('stopped');
  });
});

describe('WorkerSupervisor and a gateway killed with SIGKILL', () => {
  it('starts the worker through setpriv --pdeathsig KILL when there is one', () => {
    const worker = { command: 'python', args: ['-m', 'stt_worker'], env: {}, cwd: '/' };
    expect(workerSpawnArgs(worker, '/usr/bin/setpriv')).toEqual({
      command: '/usr/bin/setpriv',
      args: ['--pdeathsig', 'KILL', '--', 'python', '-m', 'stt_worker'],
    });
    expect(workerSpawnArgs(worker, undefined)).toEqual({
      command: 'python',
      args: ['-m', 'stt_worker'],
    });
    expect(findSetpriv(['/nonexistent/setpriv'])).toBeUndefined();
  });

  it.runIf(findSetpriv() !== undefined)('takes the worker along', async () => {
    const standIn = await startGatewayStandIn([]);
    expect(isRunning(standIn.workerPid)).toBe(true);
    standIn.kill();
    await waitFor(() => !isRunning(standIn.workerPid), 5000);
  });

  it.runIf(findSetpriv() !== undefined)(
    'leaves the worker running without it (why the default is on)',
    async () => {
      const standIn = await startGatewayStandIn(['--no-pdeathsig']);
      try {
        standIn.kill();
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(isRunning(standIn.workerPid)).toBe(true);
      } finally {
        process.kill(standIn.workerPid, 'SIGKILL');
      }
    },
  );
});
