// The page's entry point: reads /config.json, restores the API key when the user asked for
// that, and wires the upload form and the live microphone (WhisperLive or OpenAI Realtime).
import { defaultWebSocketUrl, LiveSession } from './live.js';
import { defaultRealtimeUrl, RealtimeSession } from './realtime.js';
import { errorMessage, setUpUploadForm } from './upload.js';

const KEY_STORAGE = 'whisperlive-hybrid.api-key';

const byId = (id) => document.getElementById(id);

async function loadConfig() {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (response.ok) return await response.json();
  } catch {
    // Served by something else than the gateway: the defaults below.
  }
  return {
    whisperlive_port: 5050,
    whisperlive_url: null,
    api_key_required: false,
    max_upload_bytes: Infinity,
  };
}

function setUpApiKey(config) {
  const input = byId('api-key');
  const remember = byId('remember-key');
  const stored = localStorage.getItem(KEY_STORAGE);
  if (stored !== null) {
    input.value = stored;
    remember.checked = true;
  }
  if (config.api_key_required) {
    byId('key-note').textContent =
      'This server requires an API key for uploads and the microphone.';
  }
  // Stored only while the box is ticked; unticking forgets it at once.
  const save = () => {
    if (remember.checked) localStorage.setItem(KEY_STORAGE, input.value);
    else localStorage.removeItem(KEY_STORAGE);
  };
  input.addEventListener('input', save);
  remember.addEventListener('change', save);
  return () => input.value.trim();
}

/** `undefined` when the key works for HTTP; otherwise the server's message. */
async function probeKey(apiKey) {
  const headers = apiKey === '' ? {} : { Authorization: `Bearer ${apiKey}` };
  const response = await fetch('v1/models', { headers, cache: 'no-store' });
  if (response.status !== 401) return undefined;
  return errorMessage(response.status, response.statusText, await response.text());
}

/** The turns of a Realtime session, one list item each, its state in `data-state`. */
function renderTurns(list, transcript) {
  list.replaceChildren(
    ...transcript.items.map((item) => {
      const line = document.createElement('li');
      line.dataset.state = item.state;
      line.dataset.testid = 'live-turn';
      const text = item.text.trim();
      line.textContent =
        item.state === 'failed'
          ? [text, `(not transcribed: ${item.error})`].join(' ').trim()
          : text;
      if (item.state !== 'completed') line.title = 'Not final yet';
      return line;
    }),
  );
}

function setUpLive(config, getApiKey) {
  const form = byId('live-form').elements;
  const url = byId('ws-url');
  const urlLabel = byId('ws-url-label');
  const start = byId('mic-start');
  const stop = byId('mic-stop');
  const status = byId('status');
  const committed = byId('live-committed');
  const partial = byId('live-partial');
  const turns = byId('live-turns');
  const sent = byId('live-sent');
  const level = byId('mic-level');
  // Each protocol's URL, so switching back and forth keeps what the user typed.
  const urls = {
    whisperlive: defaultWebSocketUrl(config, window.location),
    realtime: defaultRealtimeUrl(window.location.href),
  };
  let protocol = 'whisperlive';
  url.value = urls[protocol];
  let session = null;

  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
    status.classList.toggle('error', state === 'error');
    status.classList.toggle('warning', state === 'warning');
  };

  const showProtocol = () => {
    urls[protocol] = url.value;
    protocol = form.namedItem('protocol').value;
    url.value = urls[protocol];
    urlLabel.textContent = protocol === 'realtime' ? 'OpenAI Realtime URL' : 'WhisperLive URL';
    for (const element of document.querySelectorAll('[data-protocol]')) {
      element.hidden = element.dataset.protocol !== protocol;
    }
  };
  for (const choice of form.namedItem('protocol')) choice.addEventListener('change', showProtocol);

  start.addEventListener('click', () => {
    // The protocol of this session, whatever the choice becomes while it runs.
    const isRealtime = protocol === 'realtime';
    committed.textContent = '';
    partial.textContent = '';
    turns.replaceChildren();
    turns.hidden = !isRealtime;
    sent.textContent = '';
    sent.dataset.seconds = '0';
    start.disabled = true;
    stop.disabled = false;
    const apiKey = getApiKey();
    const common = {
      url: url.value.trim(),
      apiKey,
      language: form.namedItem('language').value.trim(),
      model: form.namedItem('model').value.trim() || 'whisper-1',
      probeKey: () => probeKey(apiKey),
    };
    const callbacks = {
      onStatus: setStatus,
      onTranscript: (transcript) => {
        if (isRealtime) {
          renderTurns(turns, transcript);
        } else {
          committed.textContent = transcript.committed;
          partial.textContent = transcript.partial;
        }
      },
      onAudio: (seconds, rms) => {
        sent.dataset.seconds = seconds.toFixed(2);
        sent.textContent = `${seconds.toFixed(1)} s of audio sent`;
        level.value = rms;
      },
      onEnd: () => {
        start.disabled = false;
        stop.disabled = true;
        level.value = 0;
        session = null;
      },
    };
    session = isRealtime
      ? new RealtimeSession(
          {
            ...common,
            silenceDurationMs: Math.round(Number(form.namedItem('silence_duration_ms').value)),
          },
          callbacks,
        )
      : new LiveSession(
          {
            ...common,
            task: form.namedItem('task').value,
            useVad: form.namedItem('use_vad').checked,
          },
          callbacks,
        );
    void session.start();
  });
  stop.addEventListener('click', () => {
    stop.disabled = true;
    void session?.stop();
  });
}

async function main() {
  const config = await loadConfig();
  const getApiKey = setUpApiKey(config);
  setUpUploadForm({
    form: byId('upload-form'),
    ui: {
      status: byId('upload-status'),
      progress: byId('upload-progress'),
      submit: document.querySelector('[data-testid="submit"]'),
      cancel: byId('upload-cancel'),
      output: byId('upload-output'),
      result: byId('result'),
      raw: byId('result-raw'),
      download: byId('result-download'),
    },
    getApiKey,
    maxUploadBytes: () => config.max_upload_bytes,
  });
  setUpLive(config, getApiKey);
  document.body.dataset.ready = 'true';
}

void main();
