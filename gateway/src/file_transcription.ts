/**
 * Transcribing one file end to end: sniff the container, pick a worker, check the request
 * against what the worker serves, decode with ffmpeg and stream the PCM to the worker while
 * reading its results. Shared by the OpenAI, legacy and URL endpoints.
 */
import type { Decoder } from './audio/decode.js';
import { linear16BytesToMs } from './audio/pcm.js';
import { sniffFile } from './audio/sniff.js';
import {
  InternalError,
  InvalidAudioError,
  InvalidRequestError,
  RequestCancelledError,
  UnsupportedMediaTypeError,
  WorkerUnavailableError,
} from './errors.js';
import type { WorkerPool } from './grpc/pool.js';
import type { RecognizeStream } from './grpc/recognize_stream.js';
import { isLanguageCode } from './languages.js';
import type { Logger } from './logger.js';
import type {
  FileTranscript,
  Segment,
  StreamSettings,
  TranscriptionSummary,
  WorkerInfo,
} from './transcript.js';

/** Collaborators of {@link transcribeFile}. */
export interface FileTranscriptionDeps {
  /** Workers. */
  readonly pool: WorkerPool;
  /** ffmpeg decoder. */
  readonly decoder: Decoder;
  /** Deadline of the worker call, in ms. */
  readonly requestTimeoutMs: number;
}

/** One file to transcribe. */
export interface FileTranscriptionRequest {
  /** The temp file. */
  readonly filePath: string;
  /** Recognition settings (mode is always `'file'`). */
  readonly settings: Omit<StreamSettings, 'mode' | 'hasInterimResults'>;
  /** Correlation id. */
  readonly requestId: string;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** Request logger. */
  readonly logger: Logger;
  /** Called with each final segment as it arrives (for SSE streaming). */
  readonly onSegment?: (segment: Segment) => void;
  /** Called with the worker's progress: audio done and audio in all, in ms (for jobs). */
  readonly onProgress?: (processedMs: number, totalMs: number) => void;
}

/**
 * Whisper's standard model names; the proto says each of these, `whisper-1`, an empty name
 * and the worker's own model name are all served by the worker's one model. Same list as
 * the worker's `options.STANDARD_MODEL_NAMES`, compared case-insensitively as there.
 */
export const STANDARD_MODEL_NAMES: readonly string[] = [
  'tiny',
  'tiny.en',
  'base',
  'base.en',
  'small',
  'small.en',
  'medium',
  'medium.en',
  'large',
  'large-v1',
  'large-v2',
  'large-v3',
  'large-v3-turbo',
  'turbo',
];

/** Distilled Whisper models (`distil-large-v3`, ...) are matched by this prefix. */
const DISTIL_PREFIX = 'distil-';

/** Alias every OpenAI client sends. */
export const OPENAI_MODEL_ALIAS = 'whisper-1';

/** Rejects a model the worker would not serve (400, param `model`). */
export function checkModel(model: string | undefined, info: WorkerInfo | undefined): void {
  if (model === undefined || model === '') return;
  const name = model.toLowerCase();
  if (name === OPENAI_MODEL_ALIAS || STANDARD_MODEL_NAMES.includes(name)) return;
  if (name.startsWith(DISTIL_PREFIX)) return;
  if (info === undefined || model === info.modelName) return;
  throw new InvalidRequestError(
    `The model '${model}' does not exist. This server serves '${info.modelName}' ` +
      `(also accepted: '${OPENAI_MODEL_ALIAS}' and the standard Whisper model names).`,
    'model',
    'model_not_found',
  );
}

/** Rejects a language or task the worker's model cannot do (400). */
export function checkLanguageAndTask(
  settings: FileTranscriptionRequest['settings'],
  info: WorkerInfo | undefined,
): void {
  const { languageCode, task } = settings;
  if (languageCode !== undefined) {
    if (!isLanguageCode(languageCode)) {
      throw new InvalidRequestError(
        `Unsupported language '${languageCode}': use an ISO-639-1 code Whisper knows ('en', 'de', ...).`,
        'language',
        'unsupported_language',
      );
    }
    if (info !== undefined && info.languages.length > 0 && !info.languages.includes(languageCode)) {
      throw new InvalidRequestError(
        `The model '${info.modelName}' cannot transcribe '${languageCode}'.`,
        'language',
        'unsupported_language',
      );
    }
  }
  if (task === 'translate' && info !== undefined && !info.isMultilingual) {
    throw new InvalidRequestError(
      `The model '${info.modelName}' is English-only and cannot translate.`,
      'model',
      'translation_unsupported',
    );
  }
}

/** Rejects an empty file (400) or one that is not audio or video (415), by its content. */
export async function checkContainer(filePath: string): Promise<void> {
  const sniffed = await sniffFile(filePath);
  switch (sniffed.kind) {
    case 'empty':
      throw new InvalidAudioError('The uploaded file is empty.', 'empty_file');
    case 'not_media':
      throw new UnsupportedMediaTypeError(
        `The file is a ${sniffed.format.toUpperCase()} file, not audio. Supported formats: ` +
          'flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm.',
      );
    case 'unknown':
      throw new UnsupportedMediaTypeError(
        'The file is not in a recognised audio or video format. Supported formats: ' +
          'flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm.',
      );
    case 'media':
      return;
  }
}

function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new InternalError(undefined, thrown);
}

function fallbackSummary(segments: readonly Segment[], audioMs: number): TranscriptionSummary {
  const first = segments[0];
  return {
    durationMs: audioMs,
    durationAfterVadMs: audioMs,
    languageCode: first?.languageCode ?? '',
    languageProbability: first?.languageProbability ?? 0,
    options: undefined,
    model: '',
  };
}

/**
 * Transcribes a file on disk. Throws a `GatewayError`: 400/415 for bad files, 503 when
 * no worker can take it or the worker goes away, 504 past the deadline, and
 * {@link RequestCancelledError} when `signal` aborts.
 */
export async function transcribeFile(
  deps: FileTranscriptionDeps,
  request: FileTranscriptionRequest,
): Promise<FileTranscript> {
  await checkContainer(request.filePath);
  const worker = deps.pool.acquire();
  checkModel(request.settings.model, worker.info);
  checkLanguageAndTask(request.settings, worker.info);

  const stop = new AbortController();
  let stream: RecognizeStream | undefined;
  const onAbort = (): void => {
    stop.abort();
    stream?.cancel();
  };
  request.signal.addEventListener('abort', onAbort, { once: true });
  if (request.signal.aborted) stop.abort();
  const decoded = deps.decoder.decode(request.filePath, stop.signal);
  const chunks = decoded[Symbol.asyncIterator]();
  try {
    // Decode the first chunk before opening the call: a file ffmpeg rejects never reaches
    // the worker. By then the decoder has read the duration from the file's header.
    const first = await chunks.next();
    if (first.done === true)
      throw new InvalidAudioError('The file contains no audio samples.', 'no_audio');
    const audioDurationMs = await decoded.durationMs;

    if (stop.signal.aborted) throw new RequestCancelledError();
    request.logger.debug('file audio', { audio_duration_ms: audioDurationMs });
    const call = worker.startStream(
      { ...request.settings, mode: 'file', hasInterimResults: false, audioDurationMs },
      { requestId: request.requestId, timeoutMs: deps.requestTimeoutMs },
    );
    stream = call;
    let audioBytes = 0;
    let pumpError: unknown;
    const pump = (async (): Promise<void> => {
      let chunk: Buffer = first.value;
      for (;;) {
        audioBytes += chunk.length;
        await call.write(chunk);
        const next = await chunks.next();
        if (next.done === true) break;
        chunk = next.value;
      }
      call.end();
    })().catch((error: unknown) => {
      pumpError = error;
      call.cancel();
    });

    const segments: Segment[] = [];
    let summary: TranscriptionSummary | undefined;
    try {
      for await (const event of call) {
        if (event.type === 'segment' && event.segment.isFinal) {
          segments.push(event.segment);
          request.logger.debug('segment', {
            segment_index: event.segment.index,
            text: event.segment.text,
          });
          request.onSegment?.(event.segment);
        } else if (event.type === 'summary') {
          summary = event.summary;
        } else if (event.type === 'progress') {
          request.onProgress?.(event.processedAudioMs, event.totalAudioMs);
        }
      }
    } catch (error) {
      stop.abort();
      await pump;
      if (request.signal.aborted) throw new RequestCancelledError(undefined, error);
      // A decode failure cancels the call; report the cause, not the cancellation.
      if (pumpError !== undefined && !(pumpError instanceof RequestCancelledError)) {
        throw asError(pumpError);
      }
      if (error instanceof RequestCancelledError) {
        // Neither the client nor we cancelled: the worker dropped the call (shutting down).
        throw new WorkerUnavailableError(
          'The transcription worker cancelled the request (restarting or shutting down); retry shortly.',
          1000,
          error,
        );
      }
      throw error;
    }
    await pump;
    if (pumpError !== undefined) throw asError(pumpError);

    const audioMs = linear16BytesToMs(audioBytes);
    return {
      task: request.settings.task,
      segments,
      summary: summary ?? fallbackSummary(segments, audioMs),
      audioMs,
    };
  } finally {
    request.signal.removeEventListener('abort', onAbort);
    stop.abort();
    await chunks.return?.();
  }
}
