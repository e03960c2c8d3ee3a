// The upload form: one file to POST /v1/audio/transcriptions or /v1/audio/translations with
// every field of the API, sent with XMLHttpRequest for its upload progress events; the answer
// shown in the format asked for, a streamed answer (stream=true) as it arrives.
import { SseReader } from './sse.js';

/** Extensions of the downloadable result, by response format. */
const EXTENSIONS = { json: 'json', text: 'txt', srt: 'srt', verbose_json: 'json', vtt: 'vtt' };

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** `12.345` seconds as `0:12.35`. */
function clock(seconds) {
  const value = Number(seconds);
  const minutes = Math.floor(value / 60);
  return `${minutes}:${(value - minutes * 60).toFixed(2).padStart(5, '0')}`;
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} kB`;
  return `${bytes} B`;
}

/** The readable message of an error answer (OpenAI's `{error: {message}}`, else the body). */
export function errorMessage(status, statusText, body) {
  let detail = body.trim();
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error?.message === 'string') {
      detail = parsed.error.message;
    } else if (typeof parsed?.error === 'string') {
      detail = parsed.error;
    }
  } catch {
    // Not JSON: the body as it is.
  }
  const head = `Error ${status}${statusText === '' ? '' : ` ${statusText}`}`;
  return detail === '' ? head : `${head}: ${detail}`;
}

/** The `verbose_json` view: language, duration, a table of segments (and of words). */
function verboseView(result) {
  const view = element('div', { class: 'verbose' });
  const facts = element('p', { class: 'facts' });
  facts.textContent = [
    result.language === undefined ? '' : `Language: ${result.language}`,
    result.duration === undefined ? '' : `Duration: ${clock(result.duration)}`,
  ]
    .filter((part) => part !== '')
    .join(' · ');
  view.append(
    facts,
    element('p', { class: 'transcript', 'data-testid': 'result-text' }, result.text ?? ''),
  );
  const table = (caption, head, rows, testid) => {
    const body = element('tbody');
    for (const cells of rows)
      body.append(element('tr', {}, ...cells.map((c) => element('td', {}, String(c)))));
    return element(
      'table',
      { 'data-testid': testid },
      element('caption', {}, caption),
      element(
        'thead',
        {},
        element('tr', {}, ...head.map((h) => element('th', { scope: 'col' }, h))),
      ),
      body,
    );
  };
  if (Array.isArray(result.segments)) {
    view.append(
      table(
        'Segments',
        ['#', 'Start', 'End', 'Text'],
        result.segments.map((s, i) => [
          s.id ?? i,
          clock(s.start),
          clock(s.end),
          String(s.text).trim(),
        ]),
        'result-segments',
      ),
    );
  }
  if (Array.isArray(result.words)) {
    view.append(
      table(
        'Words',
        ['Start', 'End', 'Word'],
        result.words.map((w) => [clock(w.start), clock(w.end), String(w.word).trim()]),
        'result-words',
      ),
    );
  }
  return view;
}

/** The view of a successful answer in its format. */
export function resultView(format, body) {
  switch (format) {
    case 'json':
      return element(
        'p',
        { class: 'transcript', 'data-testid': 'result-text' },
        JSON.parse(body).text ?? '',
      );
    case 'verbose_json':
      return verboseView(JSON.parse(body));
    case 'text':
      return element('p', { class: 'transcript', 'data-testid': 'result-text' }, body.trim());
    default:
      // srt and vtt: the subtitles as they are, cue by cue.
      return element('pre', { class: 'subtitles', 'data-testid': 'result-text' }, body);
  }
}

/**
 * Wires the form. `getApiKey()` returns the key field's value; `maxUploadBytes()` the
 * server's limit (or Infinity before it is known).
 */
export function setUpUploadForm({ form, ui, getApiKey, maxUploadBytes }) {
  let request = null;

  const field = (name) => form.elements.namedItem(name);
  const setState = (state, text) => {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
    ui.status.classList.toggle('error', state === 'error');
    ui.result.dataset.state = state;
  };

  // Fields that apply only to some choices are disabled otherwise (the server refuses them).
  const syncFields = () => {
    const format = field('response_format').value;
    const isTranslate = field('task').value === 'translate';
    field('language').disabled = isTranslate;
    for (const box of form.querySelectorAll('input[name="timestamp_granularities[]"]')) {
      box.disabled = format !== 'verbose_json';
    }
    field('stream').disabled = format !== 'json' && format !== 'text';
  };
  form.addEventListener('change', syncFields);
  syncFields();

  const showResult = (format, body, file) => {
    ui.result.replaceChildren(resultView(format, body));
    ui.raw.textContent = body;
    const type = format.endsWith('json') ? 'application/json' : 'text/plain';
    URL.revokeObjectURL(ui.download.href);
    ui.download.href = URL.createObjectURL(new Blob([body], { type }));
    ui.download.download = `${file.name.replace(/\.[^.]*$/, '')}.${EXTENSIONS[format]}`;
    ui.output.hidden = false;
  };

  ui.cancel.addEventListener('click', () => request?.abort());

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = field('file').files[0];
    if (file === undefined) {
      setState('error', 'Choose an audio or video file first.');
      return;
    }
    if (file.size > maxUploadBytes()) {
      setState(
        'error',
        `The file is ${formatBytes(file.size)}; this server takes at most ${formatBytes(maxUploadBytes())}.`,
      );
      return;
    }
    const task = field('task').value;
    const format = field('response_format').value;
    const isStream = !field('stream').disabled && field('stream').checked;
    const data = new FormData();
    data.append('file', file);
    for (const name of ['model', 'language', 'prompt', 'temperature']) {
      const input = field(name);
      if (!input.disabled && input.value.trim() !== '') data.append(name, input.value.trim());
    }
    data.append('response_format', format);
    for (const box of form.querySelectorAll('input[name="timestamp_granularities[]"]')) {
      if (!box.disabled && box.checked) data.append('timestamp_granularities[]', box.value);
    }
    if (isStream) data.append('stream', 'true');

    const xhr = new XMLHttpRequest();
    request = xhr;
    xhr.open('POST', task === 'translate' ? 'v1/audio/translations' : 'v1/audio/transcriptions');
    const key = getApiKey();
    if (key !== '') xhr.setRequestHeader('Authorization', `Bearer ${key}`);
    xhr.responseType = 'text';

    ui.output.hidden = true;
    ui.result.replaceChildren();
    ui.raw.textContent = '';
    ui.progress.hidden = false;
    ui.progress.value = 0;
    ui.submit.disabled = true;
    ui.cancel.hidden = false;
    setState('uploading', `Uploading ${file.name} (${formatBytes(file.size)})…`);

    xhr.upload.onprogress = (progress) => {
      if (!progress.lengthComputable) return;
      ui.progress.value = progress.loaded / progress.total;
      const percent = Math.round((100 * progress.loaded) / progress.total);
      setState('uploading', `Uploading ${file.name}: ${percent} %`);
    };
    xhr.upload.onload = () => {
      ui.progress.value = 1;
      setState('transcribing', 'Uploaded; transcribing…');
    };

    // stream=true: deltas are shown as they arrive.
    const sse = new SseReader();
    let seen = 0;
    let streamed = '';
    let streamError;
    xhr.onprogress = () => {
      if (!isStream || xhr.status !== 200) return;
      const events = sse.push(xhr.responseText.slice(seen));
      seen = xhr.responseText.length;
      for (const streamEvent of events) {
        if (streamEvent?.type === 'transcript.text.delta') streamed += streamEvent.delta;
        if (streamEvent?.type === 'transcript.text.done') streamed = streamEvent.text;
        if (streamEvent?.error !== undefined) streamError = streamEvent.error.message;
      }
      ui.result.replaceChildren(
        element('p', { class: 'transcript', 'data-testid': 'result-text' }, streamed),
      );
      ui.output.hidden = false;
    };

    const done = () => {
      request = null;
      ui.submit.disabled = false;
      ui.cancel.hidden = true;
      ui.progress.hidden = true;
    };
    xhr.onload = () => {
      done();
      const body = xhr.responseText;
      if (xhr.status < 200 || xhr.status >= 300) {
        setState('error', errorMessage(xhr.status, xhr.statusText, body));
        return;
      }
      if (isStream) {
        xhr.onprogress();
        ui.raw.textContent = body;
        if (streamError !== undefined) {
          setState('error', `The transcription failed: ${streamError}`);
          return;
        }
        showResult('text', streamed, file);
        ui.raw.textContent = body;
      } else {
        try {
          showResult(format, body, file);
        } catch (error) {
          setState('error', `The answer could not be read: ${error.message}`);
          return;
        }
      }
      setState('done', `Done: ${file.name} as ${isStream ? 'a stream' : format}.`);
    };
    xhr.onerror = () => {
      done();
      setState(
        'error',
        'Network error: the server could not be reached, or it closed the connection.',
      );
    };
    xhr.onabort = () => {
      done();
      setState('idle', 'Cancelled.');
    };
    xhr.send(data);
  });
}
