/**
 * Uploads: multer streams the `file` part to a temp file (never to memory), enforces the
 * size limit while receiving, and removes partial files itself when a request fails. The
 * handlers remove the finished file before they answer ({@link withUploadedFile}), and a
 * `close` hook catches every remaining path (client abort, thrown errors).
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import multer from 'multer';

import { GatewayError, InvalidRequestError, PayloadTooLargeError } from '../errors.js';

/** Options of {@link createUploadMiddleware}. */
export interface UploadOptions {
  /** Directory of temp files. */
  readonly tmpDir: string;
  /** Largest accepted file, in bytes. */
  readonly maxUploadBytes: number;
}

/** A received upload. */
export interface UploadedFile {
  /** Temp file path. */
  readonly path: string;
  /** Name the client gave the file. */
  readonly originalName: string;
  /** Size in bytes. */
  readonly size: number;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${bytes} bytes`;
}

/** Maps multer's and busboy's errors to a {@link GatewayError} (400, or 413 for the size limit). */
export function multerToGatewayError(error: unknown, maxUploadBytes: number): GatewayError {
  if (error instanceof multer.MulterError) {
    switch (error.code) {
      case 'LIMIT_FILE_SIZE':
        return new PayloadTooLargeError(
          `The file is larger than the maximum upload size of ${formatBytes(maxUploadBytes)}.`,
        );
      case 'LIMIT_FILE_COUNT':
        return new InvalidRequestError(
          "More than one file: send exactly one file, in the 'file' field.",
          'file',
        );
      case 'LIMIT_UNEXPECTED_FILE':
        return new InvalidRequestError(
          `Unexpected file field '${error.field ?? ''}': send exactly one file, in the 'file' field.`,
          'file',
        );
      default:
        break;
    }
    return new InvalidRequestError(
      `Invalid multipart form: ${error.message}.`,
      error.field ?? null,
    );
  }
  if (error instanceof GatewayError) return error;
  // busboy's parse errors (malformed form, truncated body) and aborted requests.
  const reason = error instanceof Error ? error.message : 'unreadable body';
  return new InvalidRequestError(`Invalid multipart form: ${reason}.`, null, 'invalid_multipart');
}

/** Removes a temp file; a file that is already gone is fine. */
export async function removeTempFile(filePath: string): Promise<void> {
  await rm(filePath, { force: true });
}

/**
 * Creates the middleware that receives `file` into `tmpDir` (at most one file, at most
 * `maxUploadBytes`) and parses the text fields into `req.body`.
 */
export function createUploadMiddleware(options: UploadOptions): RequestHandler {
  const upload = multer({
    storage: multer.diskStorage({
      destination: options.tmpDir,
      filename: (_req, _file, callback) => {
        callback(null, `upload-${randomUUID()}`);
      },
    }),
    limits: {
      fileSize: options.maxUploadBytes,
      files: 1,
      fields: 50,
      fieldSize: 1024 * 1024,
      parts: 60,
    },
  }).single('file');
  return (req: Request, res: Response, next: NextFunction): void => {
    upload(req, res, (error: unknown) => {
      const file = req.file;
      // multer leaves a file without a path when it stopped the form early (a second file).
      if (file !== undefined && typeof file.path === 'string') {
        // Safety net for every path that does not remove the file itself.
        res.once('close', () => {
          void removeTempFile(file.path);
        });
      }
      next(
        error === undefined || error === null
          ? undefined
          : multerToGatewayError(error, options.maxUploadBytes),
      );
    });
  };
}

/** The upload of a request, or undefined when the form had no file. */
export function uploadedFile(req: Request): UploadedFile | undefined {
  const file = req.file;
  if (file === undefined) return undefined;
  return { path: file.path, originalName: file.originalname, size: file.size };
}

/**
 * Runs `work` with the uploaded file and removes the file before returning or throwing, so
 * the temp directory is clean by the time the client has its answer.
 *
 * @throws InvalidRequestError (param `file`) when the form carried no file.
 */
export async function withUploadedFile<T>(
  req: Request,
  work: (file: UploadedFile) => Promise<T>,
): Promise<T> {
  const file = uploadedFile(req);
  if (file === undefined) {
    throw new InvalidRequestError(
      "No file was uploaded: send the audio as multipart/form-data in the 'file' field.",
      'file',
      'missing_file',
    );
  }
  try {
    return await work(file);
  } finally {
    await removeTempFile(file.path);
  }
}
