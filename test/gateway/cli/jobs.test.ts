import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixtureDir, makeSine } from '../support/fixtures.js';
import { startHarness, type Harness } from '../support/harness.js';

const run = promisify(execFile);
const CLI = path.resolve(import.meta.dirname, '../../../gateway/src/cli/jobs.ts');

async function cli(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('jobs CLI', () => {
  let harness: Harness;
  let wavPath: string;

  beforeAll(async () => {
    harness = await startHarness({ env: { GATEWAY_API_KEYS: 'k1' } });
    wavPath = await makeSine(await fixtureDir(), 'wav', 2);
  });

  afterAll(async () => {
    await harness.close();
  });

  it('submits a file, prints progress lines and the result text', async () => {
    const { code, stdout, stderr } = await cli([
      '--url',
      harness.baseUrl,
      '--api-key',
      'k1',
      wavPath,
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('Hello world. This is a test.\n');
    expect(stderr).toMatch(/^job job_[0-9a-f]{24} queued$/m);
    expect(stderr).toMatch(/^progress 100% \(0:02 \/ 0:02\)$/m);
  });

  it('writes any format to a file', async () => {
    const output = path.join(harness.tmpDir, 'out.srt');
    const { code } = await cli([
      '--url',
      harness.baseUrl,
      '--api-key',
      'k1',
      '--format',
      'srt',
      '--output',
      output,
      '-q',
      wavPath,
    ]);
    expect(code).toBe(0);
    expect(await readFile(output, 'utf8')).toBe(
      '1\n00:00:00,000 --> 00:00:01,000\nHello world.\n\n2\n00:00:01,000 --> 00:00:02,000\nThis is a test.\n\n',
    );
  });

  it('explains usage and server errors with a non-zero status', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--api-key');
    expect((await cli([])).code).toBe(2);
    expect((await cli(['--format', 'docx', wavPath])).code).toBe(2);
    const unauthorized = await cli(['--url', harness.baseUrl, wavPath]);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/401/);
  });
});
