/** Child processes for tests: the fake worker as a separate process, and free ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Path of the fake worker's process entry point. */
export const FAKE_WORKER_MAIN = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'fake_worker_main.ts',
);

/** Arguments that run a TypeScript file with node (through tsx). */
export function tsNodeArgs(script: string, args: readonly string[] = []): string[] {
  return ['--import', 'tsx', script, ...args];
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Starts the fake worker process and resolves once it printed its listening line. */
export async function spawnFakeWorker(
  args: readonly string[],
): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, tsNodeArgs(FAKE_WORKER_MAIN, args), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`fake worker exited with ${code}`));
    });
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const parsed = JSON.parse(line) as { address: string };
  return { child, address: parsed.address };
}

/** SIGKILLs a child and waits until it is gone. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
