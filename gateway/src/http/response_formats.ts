/**
 * Renderers of OpenAI's response formats (pure functions): `json`, `text`, `srt`,
 * `verbose_json`, `vtt`; plus the legacy `/transcribe` body.
 */
import { languageName } from '../languages.js';
import { joinSegmentTexts, type FileTranscript, type Segment } from '../transcript.js';

/** The formats `response_format` accepts. */
export const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'] as const;

/** One of {@link RESPONSE_FORMATS}. */
export type ResponseFormat = (typeof RESPONSE_FORMATS)[number];

/** Whether a string is a {@link ResponseFormat}. */
export function isResponseFormat(value: string): value is ResponseFormat {
  return (RESPONSE_FORMATS as readonly string[]).includes(value);
}

/** `timestamp_granularities[]` values. */
export type TimestampGranularity = 'segment' | 'word';

/** A rendered body and its content type. */
export interface RenderedResponse {
  /** `application/json` or `text/plain` (with charset). */
  readonly contentType: string;
  /** The body. */
  readonly body: string;
}

/** `HH:MM:SS<sep>mmm` for a time in ms (`,` for SRT, `.` for WebVTT). */
export function formatTimestamp(ms: number, separator: ',' | '.'): string {
  const total = Math.max(0, Math.round(ms));
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = Math.floor((total % 60_000) / 1000);
  const millis = total % 1000;
  const pad = (value: number, width: number): string => String(value).padStart(width, '0');
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(seconds, 2)}${separator}${pad(millis, 3)}`;
}

/** Segment text for a subtitle cue: stripped, and no `-->` that would break the cue line. */
function cueText(segment: Segment): string {
  return segment.text.trim().replaceAll('-->', '->');
}

function cueSegments(segments: readonly Segment[]): Segment[] {
  return segments.filter((segment) => segment.text.trim() !== '');
}

/** SubRip: numbered cues from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, a blank line after each. */
export function renderSrt(segments: readonly Segment[]): string {
  return cueSegments(segments)
    .map(
      (segment, i) =>
        `${i + 1}\n${formatTimestamp(segment.startMs, ',')} --> ` +
        `${formatTimestamp(segment.endMs, ',')}\n${cueText(segment)}\n\n`,
    )
    .join('');
}

/** WebVTT: `WEBVTT`, a blank line, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`. */
export function renderVtt(segments: readonly Segment[]): string {
  const cues = cueSegments(segments)
    .map(
      (segment) =>
        `${formatTimestamp(segment.startMs, '.')} --> ${formatTimestamp(segment.endMs, '.')}\n` +
        `${cueText(segment)}\n\n`,
    )
    .join('');
  return `WEBVTT\n\n${cues}`;
}

/** `text`: the transcript and a newline, as OpenAI answers. */
export function renderText(segments: readonly Segment[]): string {
  return `${joinSegmentTexts(segments)}\n`;
}

/** `json`: `{text}`. */
export function renderJson(segments: readonly Segment[]): { text: string } {
  return { text: joinSegmentTexts(segments) };
}

const seconds = (ms: number): number => ms / 1000;

/** `verbose_json` body. */
export interface VerboseJson {
  task: 'transcribe' | 'translate';
  language: string;
  duration: number;
  text: string;
  segments?: {
    id: number;
    seek: number;
    start: number;
    end: number;
    text: string;
    tokens: number[];
    temperature: number;
    avg_logprob: number;
    compression_ratio: number;
    no_speech_prob: number;
  }[];
  words?: { word: string; start: number; end: number }[];
}

/**
 * `verbose_json`: task, language as its English name, duration in seconds, text, segments
 * (unless only `word` granularity was asked) and words (only when asked). `seek` is the
 * segment's 30 s window offset in 10 ms frames, as Whisper counts it.
 */
export function renderVerboseJson(
  transcript: FileTranscript,
  granularities: readonly TimestampGranularity[],
): VerboseJson {
  const { summary, segments } = transcript;
  const hasWords = granularities.includes('word');
  const hasSegments = granularities.length === 0 || granularities.includes('segment');
  const durationMs = summary.durationMs > 0 ? summary.durationMs : transcript.audioMs;
  const language =
    transcript.task === 'translate'
      ? 'english'
      : languageName(summary.languageCode || (segments[0]?.languageCode ?? ''));
  const body: VerboseJson = {
    task: transcript.task,
    language,
    duration: seconds(durationMs),
    text: joinSegmentTexts(segments),
  };
  if (hasSegments) {
    body.segments = segments.map((segment, id) => ({
      id,
      seek: Math.round(segment.windowOffsetMs / 10),
      start: seconds(segment.startMs),
      end: seconds(segment.endMs),
      text: segment.text,
      tokens: [...segment.tokenIds],
      temperature: segment.temperature,
      avg_logprob: segment.avgLogprob,
      compression_ratio: segment.compressionRatio,
      no_speech_prob: segment.noSpeechProbability,
    }));
  }
  if (hasWords) {
    body.words = segments.flatMap((segment) =>
      segment.words
        .map((word) => ({
          word: word.word.trim(),
          start: seconds(word.startMs),
          end: seconds(word.endMs),
        }))
        .filter((word) => word.word !== ''),
    );
  }
  return body;
}

/** Renders a transcript in `format`. */
export function renderTranscript(
  format: ResponseFormat,
  transcript: FileTranscript,
  granularities: readonly TimestampGranularity[],
): RenderedResponse {
  const json = 'application/json; charset=utf-8';
  const text = 'text/plain; charset=utf-8';
  switch (format) {
    case 'json':
      return { contentType: json, body: JSON.stringify(renderJson(transcript.segments)) };
    case 'verbose_json':
      return {
        contentType: json,
        body: JSON.stringify(renderVerboseJson(transcript, granularities)),
      };
    case 'text':
      return { contentType: text, body: renderText(transcript.segments) };
    case 'srt':
      return { contentType: text, body: renderSrt(transcript.segments) };
    case 'vtt':
      return { contentType: text, body: renderVtt(transcript.segments) };
  }
}

/** The legacy `/transcribe` success body (exactly these keys). */
export interface LegacyTranscription {
  success: true;
  segments: { start: number; end: number; text: string; no_speech_prob: number }[];
  info: {
    language: string;
    language_probability: number;
    duration: number;
    duration_after_vad: number;
    transcription_options: Record<string, unknown>;
  };
  filename: string;
}

/** Renders the legacy `/transcribe` body; `info` mirrors faster-whisper's TranscriptionInfo. */
export function renderLegacy(transcript: FileTranscript, filename: string): LegacyTranscription {
  const { summary } = transcript;
  const durationMs = summary.durationMs > 0 ? summary.durationMs : transcript.audioMs;
  return {
    success: true,
    segments: transcript.segments
      .filter((segment) => segment.text.trim() !== '')
      .map((segment) => ({
        start: seconds(segment.startMs),
        end: seconds(segment.endMs),
        text: segment.text.trim(),
        no_speech_prob: segment.noSpeechProbability,
      })),
    info: {
      language: summary.languageCode,
      language_probability: summary.languageProbability,
      duration: seconds(durationMs),
      duration_after_vad: seconds(summary.durationMs > 0 ? summary.durationAfterVadMs : durationMs),
      transcription_options: summary.options === undefined ? {} : { ...summary.options },
    },
    filename,
  };
}
