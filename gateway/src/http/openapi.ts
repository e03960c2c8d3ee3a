/**
 * The OpenAPI 3.1 document of the whole HTTP API, served at `GET /openapi.json` (no auth).
 *
 * Written by hand as a typed object, next to the routes it describes: field caps, enums and
 * ranges are the same constants the parsers enforce, so the document cannot drift from them
 * silently. `test/gateway/http/openapi.test.ts` checks that every express route has a path
 * here, and the e2e schemathesis run checks the real server against the document.
 */
import { Router, type Request, type Response } from 'express';

import {
  MAX_FIELD_CHARS,
  MAX_LANGUAGE_CHARS,
  MAX_MODEL_CHARS,
  MAX_PROMPT_CHARS,
  MAX_URL_CHARS,
} from './form.js';
import { SERVICE_NAME } from './health.js';
import { RESPONSE_FORMATS } from './response_formats.js';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), as far as this document uses it. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly $ref?: string;
  readonly description?: string;
  readonly enum?: readonly (string | number | boolean | null)[];
  readonly const?: string | number | boolean;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly propertyNames?: JsonSchema;
  readonly pattern?: string;
  readonly items?: JsonSchema;
  readonly oneOf?: readonly JsonSchema[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly format?: string;
  readonly contentMediaType?: string;
  readonly contentSchema?: JsonSchema;
  readonly default?: string | number | boolean;
  readonly examples?: readonly unknown[];
}

/** A media type entry of a request body or response. */
export interface MediaTypeObject {
  readonly schema: JsonSchema;
  readonly encoding?: Readonly<Record<string, { readonly contentType?: string }>>;
}

/** A response header. */
export interface HeaderObject {
  readonly description: string;
  readonly schema: JsonSchema;
}

/** A response, or a reference to one in `components.responses`. */
export type ResponseObject =
  | {
      readonly description: string;
      readonly headers?: Readonly<Record<string, HeaderObject>>;
      readonly content?: Readonly<Record<string, MediaTypeObject>>;
    }
  | { readonly $ref: string };

/** A path or query parameter. */
export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required: boolean;
  readonly description: string;
  readonly schema: JsonSchema;
}

/** One operation (method of a path). */
export interface OperationObject {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  readonly parameters?: readonly ParameterObject[];
  readonly requestBody?: {
    readonly required: boolean;
    readonly content: Readonly<Record<string, MediaTypeObject>>;
  };
  readonly responses: Readonly<Record<string, ResponseObject>>;
}

/** The methods this API serves. */
export type HttpMethod = 'get' | 'post' | 'delete';

/** The OpenAPI document. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
  readonly paths: Readonly<Record<string, Partial<Record<HttpMethod, OperationObject>>>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly responses: Readonly<Record<string, ResponseObject>>;
    readonly securitySchemes: Readonly<
      Record<
        string,
        { readonly type: 'http'; readonly scheme: 'bearer'; readonly description: string }
      >
    >;
  };
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string): ResponseObject => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JsonSchema): Readonly<Record<string, MediaTypeObject>> => ({
  'application/json': { schema },
});

/** No authentication, even when API keys are configured. */
const PUBLIC: readonly Readonly<Record<string, readonly string[]>>[] = [];

const RETRY_AFTER_HEADER: HeaderObject = {
  description: 'Seconds to wait before retrying (at least 1).',
  schema: { type: 'integer', minimum: 1 },
};

const RETRY_AFTER: Readonly<Record<string, HeaderObject>> = {
  'Retry-After': RETRY_AFTER_HEADER,
  'retry-after-ms': {
    description: 'The same wait in milliseconds (as the OpenAI SDKs read it).',
    schema: { type: 'integer', minimum: 0 },
  },
};

const MODEL_AND_LANGUAGE = {
  model: {
    type: 'string',
    maxLength: MAX_MODEL_CHARS,
    description:
      "`whisper-1`, a standard Whisper model name or the served model's name; any other " +
      'model is refused with 400. Absent means the served model.',
  },
  language: {
    type: 'string',
    maxLength: MAX_LANGUAGE_CHARS,
    description:
      "ISO-639-1 code (or Whisper's `haw`, `jw`, `yue`), case-insensitive; absent means detect. " +
      'An unknown code, or one the served model lacks, is refused with 400.',
  },
} as const satisfies Record<string, JsonSchema>;

/**
 * Names of form fields: unknown fields are ignored, but a part header with control
 * characters or an empty name is a malformed form (400).
 */
const FIELD_NAME: JsonSchema = { type: 'string', pattern: '^[A-Za-z0-9_.\\[\\]-]{1,64}$' };

const FILE_FIELD: JsonSchema = {
  type: 'string',
  contentMediaType: 'application/octet-stream',
  description:
    'The audio or video file: WAV, MP3, FLAC, M4A, OGG, WEBM, MP4, MPEG or MPGA, recognised ' +
    'by its content. Larger than the configured limit (100 MB by default): 413; not an audio ' +
    'or video container: 415; empty or undecodable: 400.',
};

function transcriptionForm(task: 'transcribe' | 'translate'): JsonSchema {
  return {
    type: 'object',
    required: ['file'],
    propertyNames: FIELD_NAME,
    properties: {
      file: FILE_FIELD,
      // Translations have no `language` (the output is English): OpenAI's fields.
      ...(task === 'translate' ? { model: MODEL_AND_LANGUAGE.model } : MODEL_AND_LANGUAGE),
      prompt: {
        type: 'string',
        maxLength: MAX_PROMPT_CHARS,
        description:
          "Text to guide style and vocabulary (Whisper's initial prompt; Whisper reads at most " +
          '224 tokens of it).',
      },
      response_format: {
        type: 'string',
        enum: RESPONSE_FORMATS,
        default: 'json',
        description:
          '`json` → `{text}`; `verbose_json` → segments (and words); `text`, `srt`, `vtt` → ' +
          '`text/plain`.',
      },
      temperature: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0,
        description: "0 means OpenAI's behaviour: start at 0, fall back to higher on failure.",
      },
      ...(task === 'translate'
        ? {}
        : {
            'timestamp_granularities[]': {
              type: 'array',
              items: { type: 'string', enum: ['segment', 'word'] },
              description: 'Needs `response_format=verbose_json`; `word` adds `words`.',
            },
          }),
      stream: {
        type: 'boolean',
        default: false,
        description:
          '`true` answers Server-Sent Events (`text/event-stream`): `transcript.text.delta` ' +
          'events then one `transcript.text.done`. Only with `json` or `text`.',
      },
    },
  };
}

function transcriptionOperation(task: 'transcribe' | 'translate'): OperationObject {
  const isTranslation = task === 'translate';
  return {
    operationId: isTranslation ? 'createTranslation' : 'createTranscription',
    summary: isTranslation
      ? 'Translates audio into English text (OpenAI-compatible).'
      : 'Transcribes audio (OpenAI-compatible).',
    tags: ['OpenAI'],
    requestBody: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: transcriptionForm(task),
          encoding: { file: { contentType: 'application/octet-stream' } },
        },
      },
    },
    responses: {
      '200': {
        description:
          'The transcript in the asked `response_format`, or an SSE stream when `stream=true`.',
        content: {
          'application/json': {
            schema: { oneOf: [ref('Transcription'), ref('VerboseTranscription')] },
          },
          'text/plain': {
            schema: {
              type: 'string',
              description: '`text`: the transcript and a newline; `srt` and `vtt`: subtitles.',
            },
          },
          // OpenAPI 3.1 has no itemSchema: the schema of an event stream describes one event.
          'text/event-stream': { schema: ref('TranscriptStreamEvent') },
        },
      },
      '400': response('BadRequest'),
      '401': response('Unauthorized'),
      '413': response('PayloadTooLarge'),
      '415': response('UnsupportedMediaType'),
      '429': response('RateLimited'),
      '500': response('InternalError'),
      '503': response('ServiceUnavailable'),
      '504': response('GatewayTimeout'),
    },
  };
}

const LEGACY_FIELDS = {
  ...MODEL_AND_LANGUAGE,
  task: {
    type: 'string',
    enum: ['transcribe', 'translate'],
    default: 'transcribe',
    description: "`translate` is Whisper's X → English task (case-insensitive).",
  },
} as const satisfies Record<string, JsonSchema>;

/** The legacy routes' errors: same statuses, `{success: false, error}` bodies. */
function legacyErrors(statuses: readonly string[]): Record<string, ResponseObject> {
  const descriptions: Record<string, string> = {
    '400': 'A bad field, a bad URL, or an empty or undecodable file.',
    '401': 'Missing or wrong API key (when keys are configured).',
    '413': 'The file or download is over the size limit.',
    '415': 'Not an audio or video container.',
    '422': 'The remote server answered an error status, redirected too often, or is unknown.',
    '429': 'Rate limited; retry after `Retry-After`.',
    '500': 'A fault of the server.',
    '502': 'The remote server could not be reached (refused, reset, timed out).',
    '503': 'No worker can take the work now; retry after `Retry-After`.',
    '504': 'The transcription did not finish in time.',
  };
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: descriptions[status] ?? 'Error.',
        ...(status === '429' || status === '503' ? { headers: RETRY_AFTER } : {}),
        content: json(ref('LegacyError')),
      },
    ]),
  );
}

const LEGACY_ERROR_STATUSES = ['400', '401', '413', '415', '429', '500', '503', '504'] as const;

const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  Error: {
    type: 'object',
    description: "OpenAI's error body.",
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['message', 'type', 'param', 'code'],
        additionalProperties: false,
        properties: {
          message: { type: 'string' },
          type: {
            type: 'string',
            enum: [
              'invalid_request_error',
              'authentication_error',
              'not_found_error',
              'rate_limit_error',
              'server_error',
            ],
          },
          param: { type: ['string', 'null'], description: 'The request field at fault.' },
          code: { type: 'string', description: 'Stable machine-readable code.' },
        },
      },
    },
  },
  LegacyError: {
    type: 'object',
    required: ['success', 'error'],
    additionalProperties: false,
    properties: { success: { const: false }, error: { type: 'string' } },
  },
  Transcription: {
    type: 'object',
    description: '`response_format=json`.',
    required: ['text'],
    additionalProperties: false,
    properties: { text: { type: 'string' } },
  },
  VerboseTranscription: {
    type: 'object',
    description: '`response_format=verbose_json`; `words` only with word granularity.',
    required: ['task', 'language', 'duration', 'text'],
    additionalProperties: false,
    properties: {
      task: { type: 'string', enum: ['transcribe', 'translate'] },
      language: { type: 'string', description: 'English name, e.g. `english`.' },
      duration: { type: 'number', minimum: 0, description: 'Seconds.' },
      text: { type: 'string' },
      segments: { type: 'array', items: ref('Segment') },
      words: { type: 'array', items: ref('Word') },
    },
  },
  Segment: {
    type: 'object',
    required: [
      'id',
      'seek',
      'start',
      'end',
      'text',
      'tokens',
      'temperature',
      'avg_logprob',
      'compression_ratio',
      'no_speech_prob',
    ],
    additionalProperties: false,
    properties: {
      id: { type: 'integer', minimum: 0 },
      seek: { type: 'integer', minimum: 0, description: '30 s window offset in 10 ms frames.' },
      start: { type: 'number', minimum: 0, description: 'Seconds.' },
      end: { type: 'number', minimum: 0, description: 'Seconds.' },
      text: { type: 'string' },
      tokens: { type: 'array', items: { type: 'integer' } },
      temperature: { type: 'number' },
      avg_logprob: { type: 'number' },
      compression_ratio: { type: 'number' },
      no_speech_prob: { type: 'number' },
    },
  },
  Word: {
    type: 'object',
    required: ['word', 'start', 'end'],
    additionalProperties: false,
    properties: {
      word: { type: 'string' },
      start: { type: 'number', minimum: 0 },
      end: { type: 'number', minimum: 0 },
    },
  },
  TranscriptTextDelta: {
    type: 'object',
    description: 'SSE event; the deltas concatenate to the done text.',
    required: ['type', 'delta'],
    properties: { type: { const: 'transcript.text.delta' }, delta: { type: 'string' } },
  },
  TranscriptTextDone: {
    type: 'object',
    description: 'Last SSE event.',
    required: ['type', 'text'],
    properties: { type: { const: 'transcript.text.done' }, text: { type: 'string' } },
  },
  TranscriptStreamEvent: {
    type: 'object',
    description:
      'One Server-Sent Event (`data: <json>`, no `event:` line): `TranscriptTextDelta` events, ' +
      'then one `TranscriptTextDone`, or an `Error` body if the work fails after the start.',
    required: ['data'],
    properties: {
      event: { const: 'message', description: 'The default event type.' },
      data: {
        type: 'string',
        contentMediaType: 'application/json',
        contentSchema: {
          oneOf: [ref('TranscriptTextDelta'), ref('TranscriptTextDone'), ref('Error')],
        },
      },
      id: { type: 'string' },
    },
  },
  LegacyTranscription: {
    type: 'object',
    required: ['success', 'segments', 'info', 'filename'],
    additionalProperties: false,
    properties: {
      success: { const: true },
      segments: {
        type: 'array',
        items: {
          type: 'object',
          required: ['start', 'end', 'text', 'no_speech_prob'],
          additionalProperties: false,
          properties: {
            start: { type: 'number' },
            end: { type: 'number' },
            text: { type: 'string' },
            no_speech_prob: { type: 'number' },
          },
        },
      },
      info: {
        type: 'object',
        description: "faster-whisper's TranscriptionInfo.",
        required: [
          'language',
          'language_probability',
          'duration',
          'duration_after_vad',
          'transcription_options',
        ],
        additionalProperties: false,
        properties: {
          language: { type: 'string' },
          language_probability: { type: 'number' },
          duration: { type: 'number', description: 'Seconds.' },
          duration_after_vad: { type: 'number', description: 'Seconds.' },
          transcription_options: {
            type: 'object',
            description: 'The decoding options used (faster-whisper names).',
          },
        },
      },
      filename: { type: 'string' },
    },
  },
  Model: {
    type: 'object',
    required: ['id', 'object', 'created', 'owned_by'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      object: { const: 'model' },
      created: { type: 'integer', description: 'Unix seconds.' },
      owned_by: { type: 'string' },
    },
  },
  ModelList: {
    type: 'object',
    required: ['object', 'data'],
    additionalProperties: false,
    properties: { object: { const: 'list' }, data: { type: 'array', items: ref('Model') } },
  },
  Load: {
    type: 'object',
    description: "A worker's load (`stt.v1.WorkerLoad`) and the age of the reading.",
    required: [
      'active_streams',
      'max_streams',
      'live_streams',
      'queue_depth',
      'max_queue_depth',
      'real_time_factor',
      'live_cycle_ms',
      'max_live_cycle_ms',
      'file_backlog_ms',
      'mean_batch_size',
      'age_ms',
    ],
    additionalProperties: false,
    properties: {
      active_streams: { type: 'integer', minimum: 0 },
      max_streams: { type: 'integer', minimum: 0 },
      live_streams: { type: 'integer', minimum: 0 },
      queue_depth: { type: 'integer', minimum: 0 },
      max_queue_depth: { type: 'integer', minimum: 0 },
      real_time_factor: { type: 'number', minimum: 0 },
      live_cycle_ms: { type: 'number', minimum: 0 },
      max_live_cycle_ms: { type: 'number', minimum: 0 },
      file_backlog_ms: { type: 'number', minimum: 0 },
      mean_batch_size: { type: 'number', minimum: 0 },
      age_ms: { type: 'number', minimum: 0 },
    },
  },
  Health: {
    type: 'object',
    required: ['status', 'service'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['healthy', 'unhealthy'] },
      service: { const: SERVICE_NAME },
      reason: { type: 'string', description: 'Why unhealthy (503 only).' },
      load: ref('Load'),
      worker_failure: {
        type: 'object',
        description:
          'The local worker failed to start for good (503 only, without `Retry-After`): it is not restarted until its configuration is fixed.',
        required: ['reason', 'message'],
        additionalProperties: false,
        properties: {
          reason: { const: 'configuration' },
          message: {
            type: 'string',
            description: "The worker's message: what is missing or wrong and how to fix it.",
          },
        },
      },
    },
  },
  Readiness: {
    type: 'object',
    required: ['status', 'workers'],
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['ready', 'not_ready'] },
      reason: { type: 'string' },
      workers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'state'],
          additionalProperties: false,
          properties: {
            id: {
              type: 'string',
              description:
                "The worker's name: `local`, or `worker-N` for a remote worker (internal addresses are never shown).",
            },
            state: {
              type: 'string',
              enum: ['connecting', 'serving', 'not_serving', 'unreachable', 'unresponsive'],
            },
            load: ref('Load'),
          },
        },
      },
    },
  },
};

const JOB_STATUS: JsonSchema = {
  type: 'string',
  enum: ['queued', 'running', 'completed', 'failed', 'cancelled'],
};

const JOB_ID_PARAMETER: ParameterObject = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The job id (`job_` and 24 hex digits).',
  schema: { type: 'string' },
};

const JOB_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  Job: {
    type: 'object',
    required: [
      'id',
      'object',
      'status',
      'filename',
      'task',
      'response_format',
      'progress',
      'audio_seconds_done',
      'audio_seconds_total',
      'created_at',
      'started_at',
      'finished_at',
      'error',
    ],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: '^job_[0-9a-f]{24}$' },
      object: { const: 'transcription.job' },
      status: JOB_STATUS,
      filename: { type: 'string' },
      task: { type: 'string', enum: ['transcribe', 'translate'] },
      response_format: { type: 'string', enum: RESPONSE_FORMATS },
      progress: { type: 'number', minimum: 0, maximum: 1, description: 'Audio done / total.' },
      audio_seconds_done: { type: 'number', minimum: 0 },
      audio_seconds_total: { type: ['number', 'null'], description: 'Null until decoded.' },
      created_at: { type: 'integer', description: 'Unix seconds.' },
      started_at: { type: ['integer', 'null'], description: 'Start of the latest run.' },
      finished_at: { type: ['integer', 'null'] },
      error: {
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            required: ['code', 'message'],
            additionalProperties: false,
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
        ],
      },
    },
  },
  JobList: {
    type: 'object',
    required: ['object', 'data', 'has_more'],
    additionalProperties: false,
    properties: {
      object: { const: 'list' },
      data: { type: 'array', items: ref('Job') },
      has_more: { type: 'boolean' },
    },
  },
  JobsCreated: {
    type: 'object',
    required: ['object', 'jobs'],
    additionalProperties: false,
    properties: { object: { const: 'list' }, jobs: { type: 'array', items: ref('Job') } },
  },
  JobDeleted: {
    type: 'object',
    required: ['id', 'object', 'deleted'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      object: { const: 'transcription.job.deleted' },
      deleted: { const: true },
    },
  },
  JobEvent: {
    type: 'object',
    description:
      'One SSE event (`id:` rising per job, `event:` status | progress | segment | done, ' +
      '`data:` JSON). `progress` data: `progress`, `audio_seconds_done`, `audio_seconds_total`; ' +
      '`segment`: `index`, `start`, `end`, `text`; `done`: the final Job. Opened as a ' +
      'WebSocket, the same path sends `{"id", "event", "data"}` messages.',
  },
};

const JOB_PATHS: OpenApiDocument['paths'] = {
  '/v1/jobs': {
    post: {
      operationId: 'createJobs',
      summary: 'Queues one transcription job per file or URL (background, with progress).',
      description:
        'The fields of `/v1/audio/transcriptions` (without `stream`) plus `task`, one or more ' +
        '`file` parts and/or `url` fields (fetched like `/transcribe/url`), and an optional ' +
        '`webhook_url` called with the job when it ends. Everything is checked before a job ' +
        'is stored. A full queue or disk quota answers 503 with `Retry-After`.',
      tags: ['Jobs'],
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              propertyNames: FIELD_NAME,
              properties: {
                file: { type: 'array', items: FILE_FIELD },
                url: {
                  type: 'array',
                  items: { type: 'string', format: 'uri', maxLength: MAX_URL_CHARS },
                },
                task: { type: 'string', enum: ['transcribe', 'translate'], default: 'transcribe' },
                ...MODEL_AND_LANGUAGE,
                prompt: { type: 'string', maxLength: MAX_PROMPT_CHARS },
                response_format: { type: 'string', enum: RESPONSE_FORMATS, default: 'json' },
                temperature: { type: 'number', minimum: 0, maximum: 1, default: 0 },
                'timestamp_granularities[]': {
                  type: 'array',
                  items: { type: 'string', enum: ['segment', 'word'] },
                },
                webhook_url: { type: 'string', format: 'uri', maxLength: MAX_FIELD_CHARS },
              },
            },
            encoding: { file: { contentType: 'application/octet-stream' } },
          },
        },
      },
      responses: {
        '202': { description: 'The queued jobs.', content: json(ref('JobsCreated')) },
        '400': response('BadRequest'),
        '401': response('Unauthorized'),
        '413': response('PayloadTooLarge'),
        '415': response('UnsupportedMediaType'),
        '422': { description: 'A URL could not be fetched.', content: json(ref('Error')) },
        '429': response('RateLimited'),
        '500': response('InternalError'),
        '502': { description: 'A URL could not be reached.', content: json(ref('Error')) },
        '503': response('ServiceUnavailable'),
      },
    },
    get: {
      operationId: 'listJobs',
      summary: 'Jobs, newest first.',
      tags: ['Jobs'],
      parameters: [
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: 'At most this many (1-100, default 20).',
          schema: { type: 'integer', minimum: 1, maximum: 100 },
        },
      ],
      responses: {
        '200': { description: 'The jobs.', content: json(ref('JobList')) },
        '400': response('BadRequest'),
        '401': response('Unauthorized'),
        '429': response('RateLimited'),
      },
    },
  },
  '/v1/jobs/{id}': {
    get: {
      operationId: 'retrieveJob',
      summary: 'A job: status, progress, audio seconds, timestamps, error.',
      tags: ['Jobs'],
      parameters: [JOB_ID_PARAMETER],
      responses: {
        '200': { description: 'The job.', content: json(ref('Job')) },
        '401': response('Unauthorized'),
        '404': { description: 'No such job.', content: json(ref('Error')) },
        '429': response('RateLimited'),
      },
    },
    delete: {
      operationId: 'deleteJob',
      summary:
        'Cancels a queued or running job (answers the cancelled job), or deletes a final one.',
      tags: ['Jobs'],
      parameters: [JOB_ID_PARAMETER],
      responses: {
        '200': {
          description: 'The cancelled job, or the deletion.',
          content: json({ oneOf: [ref('Job'), ref('JobDeleted')] }),
        },
        '401': response('Unauthorized'),
        '404': { description: 'No such job.', content: json(ref('Error')) },
        '429': response('RateLimited'),
      },
    },
  },
  '/v1/jobs/{id}/result': {
    get: {
      operationId: 'retrieveJobResult',
      summary: 'The transcript of a completed job, exactly as `/v1/audio/transcriptions` answers.',
      tags: ['Jobs'],
      parameters: [
        JOB_ID_PARAMETER,
        {
          name: 'response_format',
          in: 'query',
          required: false,
          description: 'Default: the one given when the job was created.',
          schema: { type: 'string', enum: RESPONSE_FORMATS },
        },
      ],
      responses: {
        '200': {
          description: 'The transcript.',
          content: {
            'application/json': {
              schema: { oneOf: [ref('Transcription'), ref('VerboseTranscription')] },
            },
            'text/plain': { schema: { type: 'string' } },
          },
        },
        '400': response('BadRequest'),
        '401': response('Unauthorized'),
        '404': { description: 'No such job.', content: json(ref('Error')) },
        '409': { description: 'The job is not completed.', content: json(ref('Error')) },
        '429': response('RateLimited'),
      },
    },
  },
  '/v1/jobs/{id}/events': {
    get: {
      operationId: 'streamJobEvents',
      summary: 'Progress and segments as Server-Sent Events (also as a WebSocket).',
      description:
        'Replays the events so far after `Last-Event-ID` (header, or `last_event_id` query), ' +
        'then live ones, and ends after `done`.',
      tags: ['Jobs'],
      parameters: [
        JOB_ID_PARAMETER,
        {
          name: 'last_event_id',
          in: 'query',
          required: false,
          description: 'Resume after this event id.',
          schema: { type: 'integer', minimum: 0 },
        },
      ],
      responses: {
        '200': {
          description: 'The event stream.',
          content: { 'text/event-stream': { schema: ref('JobEvent') } },
        },
        '400': response('BadRequest'),
        '401': response('Unauthorized'),
        '404': { description: 'No such job.', content: json(ref('Error')) },
        '429': response('RateLimited'),
        '503': response('ServiceUnavailable'),
      },
    },
  },
};

const ERROR_RESPONSES: Readonly<Record<string, ResponseObject>> = {
  BadRequest: {
    description: 'A bad field (named in `param`), or an empty or undecodable file.',
    content: json(ref('Error')),
  },
  Unauthorized: {
    description: 'Missing or wrong API key (only when keys are configured).',
    content: json(ref('Error')),
  },
  NotFound: { description: 'No such model.', content: json(ref('Error')) },
  PayloadTooLarge: { description: 'The file is over the size limit.', content: json(ref('Error')) },
  UnsupportedMediaType: {
    description: 'The file is not an audio or video container.',
    content: json(ref('Error')),
  },
  RateLimited: {
    description: 'Rate limited; retry after `Retry-After`.',
    headers: RETRY_AFTER,
    content: json(ref('Error')),
  },
  InternalError: { description: 'A fault of the server.', content: json(ref('Error')) },
  ServiceUnavailable: {
    description: 'No worker can take the work now (busy, starting or gone).',
    headers: RETRY_AFTER,
    content: json(ref('Error')),
  },
  GatewayTimeout: {
    description: 'The work did not finish in time.',
    content: json(ref('Error')),
  },
};

/** The document served at `/openapi.json`. */
export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: SERVICE_NAME,
    version: '1',
    description:
      'OpenAI-compatible transcription and translation, background jobs with progress, the legacy `/transcribe` endpoints and ' +
      'health probes and metrics. WhisperLive streaming is a WebSocket protocol on its own port and is not ' +
      "described here; nor are the events of the `/v1/realtime` WebSocket (OpenAI's Realtime API). Text fields are capped: `prompt` " +
      `${MAX_PROMPT_CHARS}, \`language\` ${MAX_LANGUAGE_CHARS}, \`model\` ${MAX_MODEL_CHARS}, ` +
      `\`url\` ${MAX_URL_CHARS}, any other field ${MAX_FIELD_CHARS} characters.`,
  },
  // Authentication is optional: only deployments with API keys ask for the bearer token.
  security: [{ bearerAuth: [] }, {}],
  paths: {
    '/health': {
      get: {
        operationId: 'getHealth',
        summary: 'Whether the server can transcribe (a worker is serving).',
        tags: ['Health'],
        security: PUBLIC,
        responses: {
          '200': { description: 'Healthy.', content: json(ref('Health')) },
          '503': {
            description:
              'Unhealthy, with a `reason` (and `worker_failure` when the local worker cannot start as configured).',
            headers: { 'Retry-After': RETRY_AFTER_HEADER },
            content: json(ref('Health')),
          },
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'getLiveness',
        summary: 'Liveness: the gateway process answers.',
        tags: ['Health'],
        security: PUBLIC,
        responses: {
          '200': {
            description: 'Alive.',
            content: json({
              type: 'object',
              required: ['status'],
              additionalProperties: false,
              properties: { status: { const: 'alive' } },
            }),
          },
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        summary: 'Readiness: at least one worker is serving; each worker with its state.',
        tags: ['Health'],
        security: PUBLIC,
        responses: {
          '200': { description: 'Ready.', content: json(ref('Readiness')) },
          '503': { description: 'Not ready.', content: json(ref('Readiness')) },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document.',
        tags: ['Meta'],
        security: PUBLIC,
        responses: {
          '200': { description: 'The OpenAPI 3.1 document.', content: json({ type: 'object' }) },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'getMetrics',
        summary: "The gateway's Prometheus metrics (text exposition format 0.0.4).",
        tags: ['Meta'],
        security: PUBLIC,
        responses: {
          '200': {
            description: 'The metrics.',
            content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/config.json': {
      get: {
        operationId: 'getWebConfig',
        summary:
          'What the web page at `/` needs: the WhisperLive port or public URL, whether API keys are required, the upload limit.',
        tags: ['Meta'],
        security: PUBLIC,
        responses: {
          '200': {
            description: 'The configuration.',
            content: json({
              type: 'object',
              required: [
                'whisperlive_port',
                'whisperlive_url',
                'api_key_required',
                'max_upload_bytes',
              ],
              additionalProperties: false,
              properties: {
                whisperlive_port: { type: 'integer', minimum: 0, maximum: 65535 },
                whisperlive_url: {
                  type: ['string', 'null'],
                  description:
                    "`GATEWAY_PUBLIC_WS_URL`: a ws:// or wss:// URL, or a path on the page's host.",
                },
                api_key_required: { type: 'boolean' },
                max_upload_bytes: { type: 'integer', minimum: 1 },
              },
            }),
          },
        },
      },
    },
    '/v1/realtime': {
      get: {
        operationId: 'openRealtimeTranscription',
        summary:
          'OpenAI Realtime transcription: a WebSocket (`?intent=transcription`) speaking the Realtime ' +
          'events; see the README. A request without the WebSocket upgrade hears 426.',
        tags: ['OpenAI'],
        parameters: [
          {
            name: 'intent',
            in: 'query',
            required: true,
            description: 'Only transcription sessions are served.',
            schema: { type: 'string', enum: ['transcription'] },
          },
        ],
        responses: {
          '101': { description: 'Switched to the WebSocket protocol.' },
          '401': response('Unauthorized'),
          '426': {
            description: 'A plain HTTP request: connect with a WebSocket client.',
            content: json(ref('Error')),
          },
          '429': response('RateLimited'),
          '503': response('ServiceUnavailable'),
        },
      },
    },
    '/v1/models': {
      get: {
        operationId: 'listModels',
        summary: "The models that can be served (the worker's model and `whisper-1`).",
        tags: ['OpenAI'],
        responses: {
          '200': { description: 'The list.', content: json(ref('ModelList')) },
          '401': response('Unauthorized'),
          '500': response('InternalError'),
          '503': response('ServiceUnavailable'),
          '504': response('GatewayTimeout'),
        },
      },
    },
    '/v1/models/{model}': {
      get: {
        operationId: 'retrieveModel',
        summary: 'One model of the list.',
        tags: ['OpenAI'],
        parameters: [
          {
            name: 'model',
            in: 'path',
            required: true,
            description: 'The model id.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': { description: 'The model.', content: json(ref('Model')) },
          '401': response('Unauthorized'),
          '404': response('NotFound'),
          '500': response('InternalError'),
          '503': response('ServiceUnavailable'),
          '504': response('GatewayTimeout'),
        },
      },
    },
    '/v1/audio/transcriptions': { post: transcriptionOperation('transcribe') },
    '/v1/audio/translations': { post: transcriptionOperation('translate') },
    ...JOB_PATHS,
    '/transcribe': {
      post: {
        operationId: 'transcribeLegacy',
        summary: 'Legacy file transcription: segments and faster-whisper info.',
        tags: ['Legacy'],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                propertyNames: FIELD_NAME,
                properties: { file: FILE_FIELD, ...LEGACY_FIELDS },
              },
              encoding: { file: { contentType: 'application/octet-stream' } },
            },
          },
        },
        responses: {
          '200': { description: 'The transcript.', content: json(ref('LegacyTranscription')) },
          ...legacyErrors(LEGACY_ERROR_STATUSES),
        },
      },
    },
    '/transcribe/url': {
      post: {
        operationId: 'transcribeUrl',
        summary: 'Downloads the audio at `url` (safely) and answers like `/transcribe`.',
        description:
          'Only http and https; loopback, private, link-local and metadata addresses are refused ' +
          'unless allow-listed; redirects are re-checked; size and time limits apply.',
        tags: ['Legacy'],
        requestBody: {
          required: true,
          content: Object.fromEntries(
            ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'].map(
              (type) => [
                type,
                {
                  schema: {
                    type: 'object',
                    required: ['url'],
                    propertyNames: FIELD_NAME,
                    properties: {
                      url: {
                        type: 'string',
                        format: 'uri',
                        maxLength: MAX_URL_CHARS,
                        description: 'An http or https URL of the audio.',
                      },
                      ...LEGACY_FIELDS,
                    },
                  },
                },
              ],
            ),
          ),
        },
        responses: {
          '200': {
            description: "The transcript; `filename` is the URL's last path segment.",
            content: json(ref('LegacyTranscription')),
          },
          ...legacyErrors([...LEGACY_ERROR_STATUSES, '422', '502']),
        },
      },
    },
  },
  components: {
    schemas: { ...SCHEMAS, ...JOB_SCHEMAS },
    responses: ERROR_RESPONSES,
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description: 'One of `GATEWAY_API_KEYS`, when the deployment configures keys.',
      },
    },
  },
};

/** Serialised once: the document is static. */
const DOCUMENT_JSON = JSON.stringify(OPENAPI_DOCUMENT);

/** Creates the router of `GET /openapi.json` (mounted before authentication). */
export function createOpenApiRouter(): Router {
  const router = Router();
  router.get('/openapi.json', (_req: Request, res: Response) => {
    res.status(200).type('application/json; charset=utf-8').send(DOCUMENT_JSON);
  });
  return router;
}
