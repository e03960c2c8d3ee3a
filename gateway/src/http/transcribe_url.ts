/**
 * `POST /transcribe/url` (JSON, urlencoded or multipart fields: `url`, `language`, `task`,
 * `model`): the gateway downloads the audio itself, safely (see `net/download.ts`), and
 * answers like `/transcribe` with `filename` = the URL's last path segment.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';

import express, {
  Router,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import multer from 'multer';

import { InvalidRequestError } from '../errors.js';
import { transcribeFile, type FileTranscriptionDeps } from '../file_transcription.js';
import type { AddressPolicy } from '../net/address_policy.js';
import { downloadToFile, filenameFromUrl, parseHttpUrl } from '../net/download.js';
import type { Resolver } from '../net/resolve.js';
import { requestContext } from './context.js';
import { formFields } from './form.js';
import { renderLegacy } from './response_formats.js';
import { legacySettings, parseLegacyFields } from './transcribe_legacy.js';
import { multerToGatewayError, removeTempFile } from './upload.js';

/** What `/transcribe/url` needs besides the transcription collaborators. */
export interface UrlTranscriptionDeps extends FileTranscriptionDeps {
  /** Temp directory for downloads. */
  readonly tmpDir: string;
  /** Largest download, in bytes. */
  readonly maxBytes: number;
  /** Redirects followed at most. */
  readonly maxRedirects: number;
  /** Download time limit, in ms. */
  readonly timeoutMs: number;
  /** Which addresses may be fetched. */
  readonly policy: AddressPolicy;
  /** DNS resolver override (tests). */
  readonly resolve?: Resolver;
}

function createHandler(deps: UrlTranscriptionDeps): RequestHandler {
  return async (req: Request, res: Response): Promise<void> => {
    const context = requestContext(res);
    const fields = formFields(req.body);
    const rawUrl = fields.string('url');
    if (rawUrl === undefined) {
      throw new InvalidRequestError("The 'url' field is required.", 'url', 'missing_url');
    }
    const params = parseLegacyFields(fields);
    const url = parseHttpUrl(rawUrl);
    const destinationPath = path.join(deps.tmpDir, `download-${randomUUID()}`);
    let transcript;
    try {
      await downloadToFile({
        url: url.href,
        destinationPath,
        maxBytes: deps.maxBytes,
        maxRedirects: deps.maxRedirects,
        timeoutMs: deps.timeoutMs,
        policy: deps.policy,
        signal: context.signal,
        ...(deps.resolve === undefined ? {} : { resolve: deps.resolve }),
      });
      transcript = await transcribeFile(deps, {
        filePath: destinationPath,
        settings: legacySettings(params),
        requestId: context.requestId,
        signal: context.signal,
        logger: context.logger,
      });
    } finally {
      await removeTempFile(destinationPath);
    }
    context.audioMs = transcript.audioMs;
    res.status(200).json(renderLegacy(transcript, filenameFromUrl(url)));
  };
}

/**
 * Multipart fields without files. busboy's parse errors (a malformed part header, a truncated
 * body) are plain `Error`s; they are the client's fault, so they become 400 here rather than
 * reaching the error handler as unknown errors (500).
 */
function createFieldsMiddleware(): RequestHandler {
  const fields = multer({ limits: { fields: 20, fieldSize: 64 * 1024, files: 0 } }).none();
  return (req: Request, res: Response, next: NextFunction): void => {
    fields(req, res, (error: unknown) => {
      next(error === undefined || error === null ? undefined : multerToGatewayError(error, 0));
    });
  };
}

/** Creates the router of `POST /transcribe/url` (mounted where legacy errors are on). */
export function createUrlRouter(deps: UrlTranscriptionDeps): Router {
  const router = Router();
  router.post(
    '/transcribe/url',
    express.json({ limit: '64kb' }),
    express.urlencoded({ extended: false, limit: '64kb' }),
    createFieldsMiddleware(),
    createHandler(deps),
  );
  return router;
}
