import { describe, expect, it } from 'vitest';

import {
  importPageModule,
  type LiveModule,
  type LiveTranscriptModule,
  type SseModule,
  type UploadModule,
} from './page_modules.js';

const { LiveTranscript } = await importPageModule<LiveTranscriptModule>('live_transcript.js');
const { SseReader } = await importPageModule<SseModule>('sse.js');
const { defaultWebSocketUrl } = await importPageModule<LiveModule>('live.js');
const { errorMessage } = await importPageModule<UploadModule>('upload.js');

describe('LiveTranscript', () => {
  it('keeps the partial apart from committed text, and repeats once', () => {
    const transcript = new LiveTranscript();
    transcript.apply([{ start: '0.000', end: '1.500', text: ' And so my', completed: false }]);
    expect(transcript.committed).toBe('');
    expect(transcript.partial).toBe('And so my');
    transcript.apply([
      { start: '0.000', end: '2.000', text: ' And so my fellow Americans,', completed: true },
      { start: '2.000', end: '3.000', text: ' ask not', completed: false },
    ]);
    // The last completed segments come again with every message.
    transcript.apply([
      { start: '0.000', end: '2.000', text: ' And so my fellow Americans,', completed: true },
      { start: '2.000', end: '4.100', text: ' ask not what your country', completed: true },
    ]);
    expect(transcript.committed).toBe('And so my fellow Americans, ask not what your country');
    expect(transcript.partial).toBe('');
    expect(transcript.text).toBe(transcript.committed);
  });

  it('orders committed segments by time and drops empty ones', () => {
    const transcript = new LiveTranscript();
    transcript.apply([
      { start: '5.000', end: '6.000', text: ' second', completed: true },
      { start: '1.000', end: '2.000', text: ' first', completed: true },
      { start: '3.000', end: '4.000', text: ' ', completed: true },
      { start: '6.000', end: '7.000', text: ' third?', completed: false },
    ]);
    expect(transcript.committed).toBe('first second');
    expect(transcript.text).toBe('first second third?');
  });

  it('keeps two committed segments that start at the same instant', () => {
    // The policy squeezes a word heard early to an instant at the previous segment's end;
    // the next segment then starts there too. Kept by start time alone, the first was lost.
    const transcript = new LiveTranscript();
    const first = { start: '7.860', end: '7.860', text: ' ask', completed: true };
    const second = { start: '7.860', end: '9.200', text: ' what you can do', completed: true };
    transcript.apply([first]);
    transcript.apply([first, second]);
    transcript.apply([first, second]);
    expect(transcript.committed).toBe('ask what you can do');
  });
});

describe('SseReader', () => {
  it('returns each event once it is complete, across chunk borders', () => {
    const reader = new SseReader();
    expect(reader.push('data: {"type":"transcript.text.delta","del')).toEqual([]);
    expect(
      reader.push('ta":"Hello"}\n\ndata: {"type":"transcript.text.done","text":"Hello"}\r\n\r\n'),
    ).toEqual([
      { type: 'transcript.text.delta', delta: 'Hello' },
      { type: 'transcript.text.done', text: 'Hello' },
    ]);
    expect(reader.push(': comment\n\ndata: [DONE]\n\n')).toEqual(['[DONE]']);
  });
});

describe('defaultWebSocketUrl', () => {
  const page = { protocol: 'http:', host: 'stt.example.com:8080', hostname: 'stt.example.com' };

  it('uses the page host at the WhisperLive port, wss under https', () => {
    expect(defaultWebSocketUrl({ whisperlive_port: 5050, whisperlive_url: null }, page)).toBe(
      'ws://stt.example.com:5050/',
    );
    expect(
      defaultWebSocketUrl(
        { whisperlive_port: 5050, whisperlive_url: null },
        { protocol: 'https:', host: '[::1]:8443', hostname: '[::1]' },
      ),
    ).toBe('wss://[::1]:5050/');
  });

  it('takes a configured URL as it is, and a configured path on the page host', () => {
    const url = 'wss://live.example.com/ws';
    expect(defaultWebSocketUrl({ whisperlive_port: 5050, whisperlive_url: url }, page)).toBe(url);
    expect(defaultWebSocketUrl({ whisperlive_port: 5050, whisperlive_url: '/ws' }, page)).toBe(
      'ws://stt.example.com:8080/ws',
    );
  });
});

describe('errorMessage', () => {
  it("shows the server's OpenAI-shaped message, the legacy one, or the body", () => {
    const openAi = JSON.stringify({ error: { message: 'Incorrect API key provided.', code: 'x' } });
    expect(errorMessage(401, 'Unauthorized', openAi)).toBe(
      'Error 401 Unauthorized: Incorrect API key provided.',
    );
    expect(errorMessage(400, '', JSON.stringify({ success: false, error: 'bad file' }))).toBe(
      'Error 400: bad file',
    );
    expect(errorMessage(502, 'Bad Gateway', '<html>proxy</html>')).toBe(
      'Error 502 Bad Gateway: <html>proxy</html>',
    );
    expect(errorMessage(500, '', '')).toBe('Error 500');
  });
});
