/**
 * The fake worker as a process, standing in for `python -m stt_worker`: prints the same
 * `listening` line on stdout and JSON log lines on stderr.
 *
 * Usage: node --import tsx fake_worker_main.ts [--port N] [--hang] [--health NOT_SERVING]
 * [--ignore-sigterm]
 */
import { startFakeWorker, type ServingStatus } from './fake_worker.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};

const health = (option('--health') ?? 'SERVING') as ServingStatus;
const worker = await startFakeWorker({
  port: Number(option('--port') ?? '0'),
  health,
  script: { isHanging: args.includes('--hang') },
});
process.stderr.write(
  `${JSON.stringify({ level: 'INFO', message: 'fake worker ready', model: 'tiny.en' })}\n`,
);
process.stderr.write('plain text line\n');
process.stdout.write(
  `${JSON.stringify({ event: 'listening', address: worker.address, port: worker.port })}\n`,
);
if (args.includes('--ignore-sigterm')) {
  process.on('SIGTERM', () => {
    process.stderr.write(`${JSON.stringify({ level: 'WARNING', message: 'ignoring SIGTERM' })}\n`);
  });
} else {
  process.on('SIGTERM', () => {
    void worker.stop().then(() => process.exit(0));
  });
}
