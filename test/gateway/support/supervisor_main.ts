/**
 * A gateway stand-in for supervisor tests: supervises the fake worker process and prints
 * `{"worker_pid": N}` on stdout once it listens. Tests SIGKILL this process to see what
 * becomes of the worker.
 *
 * Usage: node --import tsx supervisor_main.ts [--no-pdeathsig]
 */
import { createSilentLogger } from '../../../gateway/src/logger.js';
import { createWorkerSupervisor } from '../../../gateway/src/worker_process.js';
import { FAKE_WORKER_MAIN, tsNodeArgs } from './processes.js';

const supervisor = createWorkerSupervisor({
  worker: {
    command: process.execPath,
    args: tsNodeArgs(FAKE_WORKER_MAIN, ['--port', '0']),
    env: Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    cwd: process.cwd(),
  },
  logger: createSilentLogger(),
  diesWithGateway: !process.argv.includes('--no-pdeathsig'),
  onListening: () => {
    process.stdout.write(`${JSON.stringify({ worker_pid: supervisor.pid })}\n`);
  },
});
supervisor.start();
