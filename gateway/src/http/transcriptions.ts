/**
 * `POST /v1/audio/transcriptions` and `POST /v1/audio/translations`, as OpenAI's API: the
 * same fields, formats, SSE stream and error bodies, so the OpenAI SDKs work unchanged.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';

import { InvalidRequestError, type GatewayError } from '../errors.js';
import { transcribeFile, type FileTranscriptionDeps } from '../file_transcription.js';
import { joinSegmentTexts, type FileTranscript, type Segment, type Task } from '../transcript.js';
import { requestContext } from './context.js';
import { openAiErrorBody, toHttpError } from './error_handler.js';
import { formFields } from './form.js';
import {
  isResponseFormat,
  renderTranscript,
  RESPONSE_FORMATS,
  type ResponseFormat,
  type TimestampGranularity,
} from './response_formats.js';
import { withUploadedFile } from './upload.js';

/** The validated fields of a transcription or translation request. */
export interface TranscriptionParams {
  readonly model: string | undefined;
  readonly languageCode: string | undefined;
  readonly prompt: string | undefined;
  readonly responseFormat: ResponseFormat;
  readonly temperature: number;
  readonly granularities: readonly TimestampGranularity[];
  readonly isStream: boolean;
}

function parseBoolean(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  switch (value.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw new InvalidRequestError(`'${name}' must be true or false, not '${value}'.`, name);
  }
}

/**
 * Validates the form fields; throws {@link InvalidRequestError} naming the bad `param`.
 * Translations ignore `language` (the output is English).
 */
export function parseTranscriptionForm(body: unknown, task: Task): TranscriptionParams {
  const fields = formFields(body);
  const responseFormat = fields.string('response_format') ?? 'json';
  if (!isResponseFormat(responseFormat)) {
    throw new InvalidRequestError(
      `'${responseFormat}' is not a valid response_format; use one of ${RESPONSE_FORMATS.join(', ')}.`,
      'response_format',
      'invalid_response_format',
    );
  }
  const rawTemperature = fields.string('temperature');
  const temperature = rawTemperature === undefined ? 0 : Number(rawTemperature);
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 1) {
    throw new InvalidRequestError(
      `temperature must be a number from 0 to 1, not '${rawTemperature ?? ''}'.`,
      'temperature',
      'invalid_temperature',
    );
  }
  const granularities: TimestampGranularity[] = [];
  for (const value of fields.strings('timestamp_granularities')) {
    if (value !== 'segment' && value !== 'word') {
      throw new InvalidRequestError(
        `'${value}' is not a timestamp granularity; use 'segment' and/or 'word'.`,
        'timestamp_granularities',
      );
    }
    if (!granularities.includes(value)) granularities.push(value);
  }
  if (granularities.length > 0 && responseFormat !== 'verbose_json') {
    throw new InvalidRequestError(
      'timestamp_granularities needs response_format verbose_json.',
      'timestamp_granularities',
    );
  }
  const isStream = parseBoolean(fields.string('stream'), 'stream');
  if (isStream && responseFormat !== 'json' && responseFormat !== 'text') {
    throw new InvalidRequestError(
      `stream=true works with response_format json or text, not ${responseFormat}.`,
      'stream',
    );
  }
  const language = task === 'transcribe' ? fields.string('language')?.toLowerCase() : undefined;
  return {
    model: fields.string('model'),
    languageCode: language,
    prompt: fields.string('prompt'),
    responseFormat,
    temperature,
    granularities,
    isStream,
  };
}

/** Server-sent events in OpenAI's shape; headers go out with the first event. */
class SseWriter {
  #isStarted = false;
  readonly #res: Response;

  constructor(res: Response) {
    this.#res = res;
  }

  get isStarted(): boolean {
    return this.#isStarted;
  }

  send(data: object): void {
    if (!this.#isStarted) {
      this.#isStarted = true;
      this.#res.status(200);
      this.#res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      this.#res.setHeader('Cache-Control', 'no-cache');
      this.#res.setHeader('X-Accel-Buffering', 'no');
      this.#res.flushHeaders();
    }
    this.#res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    this.#res.end();
  }
}

function createHandler(task: Task, deps: FileTranscriptionDeps): RequestHandler {
  return async (req: Request, res: Response): Promise<void> => {
    const context = requestContext(res);
    let params: TranscriptionParams | undefined;
    const sse = new SseWriter(res);
    let hasDelta = false;
    const onSegment = (segment: Segment): void => {
      const text = segment.text.trim();
      if (text === '' || params?.isStream !== true) return;
      // Each delta carries the joining space, so the deltas concatenate to the done text.
      sse.send({ type: 'transcript.text.delta', delta: hasDelta ? ` ${text}` : text });
      hasDelta = true;
    };
    let transcript: FileTranscript;
    try {
      transcript = await withUploadedFile(req, async (file) => {
        params = parseTranscriptionForm(req.body, task);
        return transcribeFile(deps, {
          filePath: file.path,
          settings: {
            task,
            languageCode: params.languageCode,
            model: params.model,
            prompt: params.prompt,
            temperature: params.temperature,
            hasWordTimestamps: params.granularities.includes('word'),
            // json and text (also when streamed) carry no segment times.
            hasCoarseSegments: params.responseFormat === 'json' || params.responseFormat === 'text',
          },
          requestId: context.requestId,
          signal: context.signal,
          logger: context.logger,
          onSegment,
        });
      });
    } catch (thrown) {
      if (!sse.isStarted) throw thrown;
      // The status line has gone out: report the failure as an error event, which the
      // OpenAI SDKs raise as an APIError.
      const error: GatewayError = toHttpError(thrown);
      context.errorCode = error.code;
      context.logger.warn('stream failed after it started', { error_code: error.code });
      if (!res.destroyed) {
        sse.send(openAiErrorBody(error));
        sse.end();
      }
      return;
    }
    context.audioMs = transcript.audioMs;
    if (params === undefined) throw new Error('unreachable: params are parsed before transcribing');
    if (params.isStream) {
      sse.send({ type: 'transcript.text.done', text: joinSegmentTexts(transcript.segments) });
      sse.end();
      return;
    }
    const rendered = renderTranscript(params.responseFormat, transcript, params.granularities);
    res.status(200).type(rendered.contentType).send(rendered.body);
  };
}

/** Creates the router of both OpenAI audio endpoints. */
export function createTranscriptionsRouter(
  upload: RequestHandler,
  deps: FileTranscriptionDeps,
): Router {
  const router = Router();
  router.post('/v1/audio/transcriptions', upload, createHandler('transcribe', deps));
  router.post('/v1/audio/translations', upload, createHandler('translate', deps));
  return router;
}
