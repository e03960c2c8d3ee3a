#!/usr/bin/env node
/**
 * `whisperlive-hybrid-jobs`: submits an audio file as a job (`POST /v1/jobs`), follows its
 * events (`GET /v1/jobs/{id}/events`, resuming with `Last-Event-ID` when the connection
 * drops), shows a progress bar on a terminal (plain progress lines otherwise, on stderr), and
 * prints the result in the chosen format on stdout or writes it to a file. Ctrl-C cancels the
 * job. Needs nothing but Node (fetch, FormData, a file streamed with `openAsBlob`).
 */
import { openAsBlob } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `Usage: whisperlive-hybrid-jobs [options] FILE

Transcribes FILE as a background job on a WhisperLive Hybrid server, with progress.

Options:
  --url URL           server address (default http://localhost:8080)
  --api-key KEY       API key, when the server has keys (GATEWAY_API_KEYS)
  --format FORMAT     json, text, srt, verbose_json or vtt (default text)
  --task TASK         transcribe (default) or translate
  --language CODE     spoken language (ISO-639-1); detected when omitted
  --prompt TEXT       initial prompt
  --model NAME        model name (default: the server's)
  --output PATH       write the result to PATH instead of stdout
  --no-wait           print the job id and exit
  --quiet             no progress output
  -h, --help          this help

Exit status: 0 when the job completed, 1 when it failed or was cancelled, 2 for usage errors.
`;

const FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'];

/** What the command line asked for. */
interface CliOptions {
  readonly file: string;
  readonly url: string;
  readonly apiKey: string | undefined;
  readonly format: string;
  readonly fields: Record<string, string>;
  readonly output: string | undefined;
  readonly isWaiting: boolean;
  readonly isQuiet: boolean;
}

class UsageError extends Error {}

function parseCommandLine(argv: readonly string[]): CliOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string', default: 'http://localhost:8080' },
      'api-key': { type: 'string' },
      format: { type: 'string', default: 'text' },
      task: { type: 'string' },
      language: { type: 'string' },
      prompt: { type: 'string' },
      model: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'no-wait': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] === undefined) {
    throw new UsageError('give exactly one FILE');
  }
  if (!FORMATS.includes(values.format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  }
  const fields: Record<string, string> = { response_format: values.format };
  for (const name of ['task', 'language', 'prompt', 'model'] as const) {
    const value = values[name];
    if (value !== undefined) fields[name] = value;
  }
  return {
    file: positionals[0],
    url: values.url.replace(/\/+$/, ''),
    apiKey: values['api-key'],
    format: values.format,
    fields,
    output: values.output,
    isWaiting: !values['no-wait'],
    isQuiet: values.quiet,
  };
}

/** A failure the server reported, with its OpenAI-shaped message. */
class ServerError extends Error {}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message !== undefined) {
      return `${response.status}: ${body.error.message} (${body.error.code ?? 'error'})`;
    }
  } catch {
    // Not JSON: show the text.
  }
  return `${response.status}: ${text.slice(0, 500)}`;
}

/** One server-sent event. */
interface JobEvent {
  readonly id: number;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads SSE blocks from a response body. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<JobEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end < 0) break;
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = 0;
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = Number(line.slice(4));
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data !== '') yield { id, event, data: JSON.parse(data) as Record<string, unknown> };
    }
  }
}

function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, '0')}`;
}

/** Progress on stderr: a redrawn bar on a terminal, a line per whole percent otherwise. */
class ProgressView {
  readonly #isTty: boolean;
  readonly #isQuiet: boolean;
  #lastPercent = -1;

  constructor(isQuiet: boolean) {
    this.#isQuiet = isQuiet;
    this.#isTty = process.stderr.isTTY;
  }

  line(text: string): void {
    if (this.#isQuiet) return;
    if (this.#isTty && this.#lastPercent >= 0) process.stderr.write('\n');
    process.stderr.write(`${text}\n`);
    this.#lastPercent = -1;
  }

  update(progress: number, doneS: number, totalS: number): void {
    if (this.#isQuiet) return;
    const percent = Math.floor(progress * 100);
    if (percent === this.#lastPercent) return;
    this.#lastPercent = percent;
    const times = `${formatSeconds(doneS)} / ${formatSeconds(totalS)}`;
    if (this.#isTty) {
      const width = 30;
      const filled = Math.round(progress * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      process.stderr.write(`\r[${bar}] ${String(percent).padStart(3)}%  ${times}`);
    } else {
      process.stderr.write(`progress ${percent}% (${times})\n`);
    }
  }

  end(): void {
    if (this.#isTty && !this.#isQuiet && this.#lastPercent >= 0) process.stderr.write('\n');
    this.#lastPercent = -1;
  }
}

async function submit(options: CliOptions, headers: Record<string, string>): Promise<string> {
  const info = await stat(options.file).catch(() => undefined);
  if (info?.isFile() !== true) throw new UsageError(`${options.file} is not a readable file`);
  const form = new FormData();
  // Streamed from disk by fetch, not read into memory.
  form.append('file', await openAsBlob(options.file), path.basename(options.file));
  for (const [name, value] of Object.entries(options.fields)) form.append(name, value);
  const response = await fetch(`${options.url}/v1/jobs`, { method: 'POST', body: form, headers });
  if (response.status !== 202) throw new ServerError(await errorMessage(response));
  const body = (await response.json()) as { jobs: { id: string }[] };
  const id = body.jobs[0]?.id;
  if (id === undefined) throw new ServerError('the server answered without a job');
  return id;
}

/** Follows the job's events until `done`; returns the final status. */
async function follow(
  options: CliOptions,
  id: string,
  headers: Record<string, string>,
  view: ProgressView,
): Promise<{ status: string; error: string | undefined }> {
  let lastId = 0;
  for (let retries = 0; retries < 10; retries += 1) {
    try {
      const response = await fetch(`${options.url}/v1/jobs/${id}/events`, {
        headers: { ...headers, 'last-event-id': String(lastId), accept: 'text/event-stream' },
      });
      if (!response.ok || response.body === null) {
        throw new ServerError(await errorMessage(response));
      }
      for await (const event of readEvents(response.body)) {
        lastId = event.id;
        retries = 0;
        const { data } = event;
        if (event.event === 'progress') {
          view.update(
            Number(data.progress),
            Number(data.audio_seconds_done),
            Number(data.audio_seconds_total),
          );
        } else if (event.event === 'status') {
          if (data.status === 'queued' && data.restarted === true) {
            view.line('job restarted by the server');
          }
        } else if (event.event === 'done') {
          view.end();
          const error = data.error as { message?: string } | null;
          return { status: String(data.status), error: error?.message };
        }
      }
    } catch (error) {
      if (error instanceof ServerError) throw error;
    }
    // The stream broke: resume after the last event we saw.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new ServerError('lost the connection to the server');
}

async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const headers: Record<string, string> =
    options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  const view = new ProgressView(options.isQuiet);
  let id: string;
  try {
    id = await submit(options, headers);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (!options.isWaiting) {
    process.stdout.write(`${id}\n`);
    return 0;
  }
  view.line(`job ${id} queued`);
  const cancel = (): void => {
    view.line(`cancelling job ${id}`);
    void fetch(`${options.url}/v1/jobs/${id}`, { method: 'DELETE', headers }).finally(() => {
      process.exit(130);
    });
  };
  process.once('SIGINT', cancel);
  const outcome = await follow(options, id, headers, view);
  process.off('SIGINT', cancel);
  if (outcome.status !== 'completed') {
    view.line(
      `job ${id} ${outcome.status}${outcome.error === undefined ? '' : `: ${outcome.error}`}`,
    );
    return 1;
  }
  const result = await fetch(
    `${options.url}/v1/jobs/${id}/result?response_format=${options.format}`,
    { headers },
  );
  if (!result.ok) throw new ServerError(await errorMessage(result));
  const text = await result.text();
  if (options.output === undefined) {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  } else {
    await writeFile(options.output, text);
    view.line(`wrote ${options.output}`);
  }
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
