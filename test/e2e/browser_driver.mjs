// Drives the web page in headless Chromium (Debian's, through playwright-core) for
// test_web_page.py, which starts the real gateway and worker and checks what this reports.
//
//   node test/e2e/browser_driver.mjs PLAN.json
//
// PLAN: {chromium, baseUrl, fakeAudio?, screenshotDir, steps: [STEP...]}; one browser for the
// whole plan. Each step runs in a fresh page, ends with a screenshot `<name>.png`, and yields
// what the page showed (and its `elapsedMs`). Written to stdout as one JSON line:
// {launchMs, steps: {<name>: report}}.
//
// STEP {name, kind: 'upload', file, fields: {response_format, task, language, prompt,
//        temperature, granularities: [...], stream}, apiKey?}
//   → {state, status, resultText, raw, segments: [[...cells]], words: count}
// STEP {name, kind: 'live', protocol?: 'whisperlive' | 'realtime', apiKey?, language?,
//        playSeconds, wsUrl?}
//   → {state, status, committed, partial, turns: [{state, text}], sentSeconds,
//      snapshots: [{committed, partial, turns}], framesSent: {first, binaryCount,
//      binarySizes, textTypes, appendBytes, receivedTypes, last}, statuses: [...],
//      stateMs: {...}}
//   (turns: the OpenAI Realtime protocol's lines, one per turn; textTypes and receivedTypes:
//   the count of each JSON event type sent and received; appendBytes: the count of each
//   decoded append audio size)
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { chromium } from 'playwright-core';

const FINAL_STATES = ['done', 'error'];

async function openPage(context, baseUrl, apiKey) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Error answers are part of the tests; the page shows them itself.
    const isHttpError = /^(Failed to load resource|WebSocket connection to .* failed)/.test(
      message.text(),
    );
    if (message.type() === 'error' && !isHttpError) problems.push(`console: ${message.text()}`);
  });
  await page.goto(baseUrl);
  await page.waitForSelector('body[data-ready="true"]');
  if (apiKey !== undefined) await page.getByTestId('api-key').fill(apiKey);
  return { page, problems };
}

async function runUpload(context, plan, step) {
  const { page, problems } = await openPage(context, plan.baseUrl, step.apiKey);
  const fields = step.fields ?? {};
  await page
    .getByTestId(fields.task === 'translate' ? 'task-translate' : 'task-transcribe')
    .check();
  await page.getByTestId('response-format').selectOption(fields.response_format ?? 'json');
  for (const name of ['language', 'prompt', 'temperature']) {
    if (fields[name] !== undefined) await page.getByTestId(name).fill(String(fields[name]));
  }
  for (const granularity of fields.granularities ?? []) {
    await page.getByTestId(`granularity-${granularity}`).check();
  }
  if (fields.stream === true) await page.getByTestId('stream').check();
  await page.getByTestId('file-input').setInputFiles(step.file);
  const progressSeen = page
    .waitForFunction(
      () => document.querySelector('[data-testid="upload-status"]').dataset.state !== 'idle',
    )
    .then(() => true);
  await page.getByTestId('submit').click();
  await progressSeen;
  await page.waitForFunction(
    (states) =>
      states.includes(document.querySelector('[data-testid="upload-status"]').dataset.state),
    FINAL_STATES,
    { timeout: 120_000 },
  );
  const report = await page.evaluate(() => {
    const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
    const rows = [...document.querySelectorAll('[data-testid="result-segments"] tbody tr')];
    return {
      state: document.querySelector('[data-testid="upload-status"]').dataset.state,
      status: text('upload-status'),
      resultText: text('result-text'),
      raw: text('result-raw'),
      segments: rows.map((row) => [...row.cells].map((cell) => cell.textContent)),
      words: document.querySelectorAll('[data-testid="result-words"] tbody tr').length,
    };
  });
  await page.screenshot({
    path: path.join(plan.screenshotDir, `${step.name}.png`),
    fullPage: true,
  });
  await page.close();
  return { ...report, problems };
}

async function runLive(context, plan, step) {
  const { page, problems } = await openPage(context, plan.baseUrl, step.apiKey);
  if (step.protocol !== undefined) await page.getByTestId(`protocol-${step.protocol}`).check();
  if (step.language !== undefined) await page.getByTestId('live-language').fill(step.language);
  if (step.wsUrl !== undefined) await page.getByTestId('ws-url').fill(step.wsUrl);
  const frames = {
    first: undefined,
    binaryCount: 0,
    binarySizes: {},
    textTypes: {},
    appendBytes: {},
    receivedTypes: {},
    last: undefined,
  };
  const count = (counts, key) => {
    counts[key] = (counts[key] ?? 0) + 1;
  };
  page.on('websocket', (socket) => {
    socket.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string' || !payload.startsWith('{')) return;
      const type = JSON.parse(payload).type;
      if (typeof type === 'string') count(frames.receivedTypes, type);
    });
    socket.on('framesent', ({ payload }) => {
      const isText = typeof payload === 'string';
      if (frames.first === undefined) frames.first = isText ? payload : `<${payload.length} bytes>`;
      if (!isText) {
        frames.binaryCount += 1;
        count(frames.binarySizes, payload.length);
      } else {
        let event;
        try {
          event = JSON.parse(payload);
        } catch {
          event = undefined;
        }
        if (typeof event?.type === 'string') count(frames.textTypes, event.type);
        if (event?.type === 'input_audio_buffer.append') {
          count(frames.appendBytes, Buffer.from(event.audio, 'base64').length);
        }
      }
      frames.last = isText
        ? { text: payload }
        : { bytes: payload.length, ascii: payload.toString('latin1').slice(0, 32) };
    });
  });
  // Every distinct (committed, partial) pair and status the page shows, as it shows them.
  await page.evaluate(() => {
    // stateMs: when each status state was first shown, in ms from the start of the step.
    const seen = { snapshots: [], statuses: [], stateMs: {} };
    const startedAt = performance.now();
    window.__observed = seen;
    const committed = document.querySelector('[data-testid="live-committed"]');
    const partial = document.querySelector('[data-testid="live-partial"]');
    const status = document.querySelector('[data-testid="status"]');
    const turns = () =>
      [...document.querySelectorAll('[data-testid="live-turn"]')].map((line) => ({
        state: line.dataset.state,
        text: line.textContent,
      }));
    window.__turns = turns;
    const record = () => {
      const snapshot = {
        committed: committed.textContent,
        partial: partial.textContent,
        turns: turns(),
      };
      if (JSON.stringify(seen.snapshots.at(-1)) !== JSON.stringify(snapshot)) {
        seen.snapshots.push(snapshot);
      }
      const line = `${status.dataset.state}: ${status.textContent}`;
      if (seen.statuses.at(-1) !== line) seen.statuses.push(line);
      seen.stateMs[status.dataset.state] ??= Math.round(performance.now() - startedAt);
    };
    new MutationObserver(record).observe(document.querySelector('main'), {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
  });
  await page.getByTestId('mic-start').click();
  const stateIs = (states, timeout) =>
    page.waitForFunction(
      (wanted) => wanted.includes(document.querySelector('[data-testid="status"]').dataset.state),
      states,
      { timeout },
    );
  await stateIs(['listening', ...FINAL_STATES], 60_000);
  const isListening = (await page.getByTestId('status').getAttribute('data-state')) === 'listening';
  if (isListening && step.playSeconds !== undefined) {
    // The fake microphone plays the file in real time; stop once all of it was sent.
    await page.waitForFunction(
      (seconds) =>
        Number(document.querySelector('[data-testid="live-sent"]').dataset.seconds) >= seconds,
      step.playSeconds,
      { timeout: 60_000 + step.playSeconds * 2000 },
    );
    await page.getByTestId('mic-stop').click();
  }
  await stateIs(FINAL_STATES, 90_000);
  const report = await page.evaluate(() => {
    const text = (id) => document.querySelector(`[data-testid="${id}"]`).textContent;
    return {
      state: document.querySelector('[data-testid="status"]').dataset.state,
      status: text('status'),
      committed: text('live-committed'),
      partial: text('live-partial'),
      turns: window.__turns(),
      liveText: text('live-text'),
      sentSeconds: Number(document.querySelector('[data-testid="live-sent"]').dataset.seconds),
      wsUrl: document.querySelector('[data-testid="ws-url"]').value,
      ...window.__observed,
    };
  });
  await page.screenshot({
    path: path.join(plan.screenshotDir, `${step.name}.png`),
    fullPage: true,
  });
  await page.close();
  return { ...report, framesSent: frames, problems };
}

const RUNNERS = { upload: runUpload, live: runLive };

async function main() {
  const plan = JSON.parse(await readFile(process.argv[2], 'utf8'));
  const args = [
    '--no-sandbox',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
  ];
  if (plan.fakeAudio !== undefined)
    args.push(`--use-file-for-fake-audio-capture=${plan.fakeAudio}%noloop`);
  const launchedAt = Date.now();
  const browser = await chromium.launch({ executablePath: plan.chromium, headless: true, args });
  const launchMs = Date.now() - launchedAt;
  const results = {};
  try {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    for (const step of plan.steps) {
      const run = RUNNERS[step.kind];
      if (run === undefined) throw new Error(`unknown step kind ${step.kind}`);
      const startedAt = Date.now();
      results[step.name] = {
        ...(await run(context, plan, step)),
        elapsedMs: Date.now() - startedAt,
      };
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(`${JSON.stringify({ launchMs, steps: results })}\n`);
}

await main();
