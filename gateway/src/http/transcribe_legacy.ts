/**
 * Legacy `POST /transcribe` (multipart: `file`, `language`, `task`, `model`), answered with
 * exactly the legacy keys (`success`, `segments`, `info`, `filename`); errors are
 * `{success: false, error}` with the same status codes as the OpenAI endpoints.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';

import { InvalidRequestError } from '../errors.js';
import { transcribeFile, type FileTranscriptionDeps } from '../file_transcription.js';
import type { Task } from '../transcript.js';
import { requestContext } from './context.js';
import { formFields, type FormFields } from './form.js';
import { renderLegacy } from './response_formats.js';
import { withUploadedFile } from './upload.js';

/** The legacy request fields shared by `/transcribe` and `/transcribe/url`. */
export interface LegacyParams {
  readonly languageCode: string | undefined;
  readonly task: Task;
  readonly model: string | undefined;
}

/** Validates `language`, `task` (`transcribe` default, or `translate`) and `model`. */
export function parseLegacyFields(fields: FormFields): LegacyParams {
  const task = (fields.string('task') ?? 'transcribe').toLowerCase();
  if (task !== 'transcribe' && task !== 'translate') {
    throw new InvalidRequestError(
      `task must be 'transcribe' or 'translate', not '${task}'.`,
      'task',
    );
  }
  return {
    languageCode: fields.string('language')?.toLowerCase(),
    task,
    model: fields.string('model'),
  };
}

/** The settings a legacy request transcribes with. */
export function legacySettings(
  params: LegacyParams,
): Parameters<typeof transcribeFile>[1]['settings'] {
  return {
    task: params.task,
    languageCode: params.languageCode,
    model: params.model,
    prompt: undefined,
    temperature: 0,
    hasWordTimestamps: false,
  };
}

function createHandler(deps: FileTranscriptionDeps): RequestHandler {
  return async (req: Request, res: Response): Promise<void> => {
    const context = requestContext(res);
    const { transcript, filename } = await withUploadedFile(req, async (file) => {
      const params = parseLegacyFields(formFields(req.body));
      const result = await transcribeFile(deps, {
        filePath: file.path,
        settings: legacySettings(params),
        requestId: context.requestId,
        signal: context.signal,
        logger: context.logger,
      });
      return { transcript: result, filename: file.originalName };
    });
    context.audioMs = transcript.audioMs;
    res.status(200).json(renderLegacy(transcript, filename));
  };
}

/** Creates the router of `POST /transcribe` (mounted where legacy errors are on). */
export function createLegacyRouter(upload: RequestHandler, deps: FileTranscriptionDeps): Router {
  const router = Router();
  router.post('/transcribe', upload, createHandler(deps));
  return router;
}
