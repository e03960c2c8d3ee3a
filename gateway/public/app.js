// The page's entry point: reads /config.json, restores the API key when the user asked for
// that, and wires the upload form and the live microphone.
import { defaultWebSocketUrl, LiveSession } from './live.js';
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

function setUpLive(config, getApiKey) {
  const url = byId('ws-url');
  url.value = defaultWebSocketUrl(config, window.location);
  const start = byId('mic-start');
  const stop = byId('mic-stop');
  const status = byId('status');
  const committed = byId('live-committed');
  const partial = byId('live-partial');
  const sent = byId('live-sent');
  const level = byId('mic-level');
  let session = null;

  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
    status.classList.toggle('error', state === 'error');
    status.classList.toggle('warning', state === 'warning');
  };

  start.addEventListener('click', () => {
    committed.textContent = '';
    partial.textContent = '';
    sent.textContent = '';
    sent.dataset.seconds = '0';
    start.disabled = true;
    stop.disabled = false;
    const form = byId('live-form').elements;
    const apiKey = getApiKey();
    session = new LiveSession(
      {
        url: url.value.trim(),
        apiKey,
        language: form.namedItem('language').value.trim(),
        task: form.namedItem('task').value,
        model: form.namedItem('model').value.trim() || 'whisper-1',
        useVad: form.namedItem('use_vad').checked,
        probeKey: () => probeKey(apiKey),
      },
      {
        onStatus: setStatus,
        onTranscript: (transcript) => {
          committed.textContent = transcript.committed;
          partial.textContent = transcript.partial;
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
      },
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
