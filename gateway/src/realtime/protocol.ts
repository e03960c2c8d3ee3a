/**
 * OpenAI's Realtime API in transcription mode, as pure functions: client events narrowed
 * from `unknown` (with OpenAI's error codes for what is wrong), the session configuration
 * and its updates, and every server event. The one place that knows the event names and
 * field shapes, in both dialects: the GA one (`session.update` with `session.type:
 * "transcription"`, `session.created/updated`) and the beta one (`transcription_session.update`,
 * `transcription_session.created/updated`, header `OpenAI-Beta: realtime=v1`). The item
 * events (`input_audio_buffer.*`, `conversation.item.input_audio_transcription.*`) are the
 * same in both. No sockets, timers or gRPC here.
 */
import { randomBytes } from 'node:crypto';

/** A client audio format (`session.audio.input.format`). */
export type AudioFormat =
  | { readonly type: 'audio/pcm'; readonly rate: 24_000 }
  | { readonly type: 'audio/pcmu' }
  | { readonly type: 'audio/pcma' };

/** The beta dialect's names of the formats. */
const BETA_FORMAT_NAMES = {
  'audio/pcm': 'pcm16',
  'audio/pcmu': 'g711_ulaw',
  'audio/pcma': 'g711_alaw',
} as const;

/** Sample rate of `audio/pcm`, the only one OpenAI accepts, in Hz. */
export const PCM_RATE_HERTZ = 24_000;

/** Transcription settings (`session.audio.input.transcription`). */
export interface TranscriptionConfig {
  readonly model: string;
  /** ISO-639-1 code, or null: detect. */
  readonly language: string | null;
  readonly prompt: string;
}

/** Server VAD turn detection (`session.audio.input.turn_detection`). */
export interface TurnDetectionConfig {
  readonly type: 'server_vad';
  readonly threshold: number;
  readonly prefix_padding_ms: number;
  readonly silence_duration_ms: number;
}

/** Noise reduction: accepted and reported, not applied (Whisper is trained on noisy audio). */
export interface NoiseReductionConfig {
  readonly type: 'near_field' | 'far_field';
}

/** The effective configuration of a transcription session. */
export interface SessionConfig {
  readonly format: AudioFormat;
  readonly transcription: TranscriptionConfig;
  /** Null: turns end only on `input_audio_buffer.commit`. */
  readonly turnDetection: TurnDetectionConfig | null;
  readonly noiseReduction: NoiseReductionConfig | null;
  readonly include: readonly string[] | null;
}

/** OpenAI's server VAD defaults. */
export const DEFAULT_TURN_DETECTION: TurnDetectionConfig = Object.freeze({
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
});

/** The configuration of a new session: OpenAI's defaults, on the served model. */
export function defaultSessionConfig(model: string): SessionConfig {
  return {
    format: { type: 'audio/pcm', rate: PCM_RATE_HERTZ },
    transcription: { model, language: null, prompt: '' },
    turnDetection: DEFAULT_TURN_DETECTION,
    noiseReduction: null,
    include: null,
  };
}

/**
 * A change to the configuration: only present fields change; `null` clears (transcription
 * back to the defaults, turn detection off, noise reduction off, include none).
 */
export interface SessionPatch {
  readonly format?: AudioFormat;
  readonly transcription?: Partial<TranscriptionConfig> | null;
  readonly turnDetection?: Partial<TurnDetectionConfig> | null;
  readonly noiseReduction?: NoiseReductionConfig | null;
  readonly include?: readonly string[] | null;
}

/** Applies a patch; `defaults` supplies what a cleared transcription goes back to. */
export function applySessionPatch(
  config: SessionConfig,
  patch: SessionPatch,
  defaults: SessionConfig,
): SessionConfig {
  const { transcription, turnDetection } = patch;
  return {
    format: patch.format ?? config.format,
    transcription:
      transcription === null
        ? defaults.transcription
        : { ...config.transcription, ...transcription },
    turnDetection:
      turnDetection === null
        ? null
        : turnDetection === undefined
          ? config.turnDetection
          : { ...(config.turnDetection ?? DEFAULT_TURN_DETECTION), ...turnDetection },
    noiseReduction:
      patch.noiseReduction === undefined ? config.noiseReduction : patch.noiseReduction,
    include: patch.include === undefined ? config.include : patch.include,
  };
}

// -- ids ------------------------------------------------------------------------------

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** An id as OpenAI writes them: a prefix and 21 random letters and digits. */
export function newId(prefix: 'event' | 'item' | 'sess'): string {
  const bytes = randomBytes(21);
  let id = `${prefix}_`;
  for (const byte of bytes) id += ID_ALPHABET[byte % ID_ALPHABET.length] ?? 'A';
  return id;
}

// -- errors ---------------------------------------------------------------------------

/** The `error` object of an `error` event (and of a `.failed` item). */
export interface ErrorDetail {
  /** `invalid_request_error`, `server_error`, ... (OpenAI's error types). */
  readonly type: string;
  readonly code: string | null;
  readonly message: string;
  readonly param: string | null;
  /** The client event the error is about, or null. */
  readonly event_id: string | null;
}

/** A client event that cannot be served: the error event it is answered with. */
class ClientEventError extends Error {
  readonly code: string;
  readonly param: string | null;

  constructor(code: string, message: string, param: string | null = null) {
    super(message);
    this.code = code;
    this.param = param;
  }
}

function invalidRequest(
  code: string,
  message: string,
  param: string | null,
  eventId: string | null,
): ErrorDetail {
  return { type: 'invalid_request_error', code, message, param, event_id: eventId };
}

/** The error of `input_audio_buffer.commit` on (nearly) empty audio, as OpenAI words it. */
export function commitEmptyError(bufferedMs: number, eventId: string | null): ErrorDetail {
  return invalidRequest(
    'input_audio_buffer_commit_empty',
    `Error committing input audio buffer: buffer too small. Expected at least ` +
      `${MIN_COMMIT_MS}ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.`,
    null,
    eventId,
  );
}

/** Least audio a commit needs, in ms (OpenAI's rule). */
export const MIN_COMMIT_MS = 100;

/** An error about a client event that has no more specific code. */
export function invalidEventError(
  code: string,
  message: string,
  param: string | null,
  eventId: string | null,
): ErrorDetail {
  return invalidRequest(code, message, param, eventId);
}

// -- client events --------------------------------------------------------------------

/** The protocol dialect of a session or an update. */
export type Dialect = 'ga' | 'beta';

/** A client event the session serves. */
export type ClientEvent =
  | {
      readonly type: 'session.update';
      readonly eventId: string | null;
      readonly dialect: Dialect;
      readonly patch: SessionPatch;
    }
  | {
      readonly type: 'input_audio_buffer.append';
      readonly eventId: string | null;
      readonly audio: Buffer;
    }
  | { readonly type: 'input_audio_buffer.commit'; readonly eventId: string | null }
  | { readonly type: 'input_audio_buffer.clear'; readonly eventId: string | null };

/** What {@link parseClientEvent} made of a message. */
export type ParsedClientEvent =
  | { readonly isValid: true; readonly event: ClientEvent }
  | { readonly isValid: false; readonly error: ErrorDetail };

/** Client event types this server serves. */
export const CLIENT_EVENT_TYPES = [
  'session.update',
  'transcription_session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
] as const;

/** Client events of conversation sessions, which a transcription session has no use for. */
const CONVERSATION_EVENT_TYPES = new Set([
  'conversation.item.create',
  'conversation.item.delete',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A client's value as it appears in a message. */
function shown(value: unknown): string {
  if (typeof value === 'string') return value;
  // Parsed JSON holds no functions; undefined is a missing field.
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/** JSON's name of a value's type, for "expected X, but got Y" messages. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a decimal';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

function invalidType(param: string, expected: string, value: unknown): ClientEventError {
  return new ClientEventError(
    'invalid_type',
    `Invalid type for '${param}': expected ${expected}, but got ${jsonType(value)} instead.`,
    param,
  );
}

function invalidValue(
  param: string,
  value: unknown,
  supported: readonly unknown[],
): ClientEventError {
  const list = supported.map((item) => `'${shown(item)}'`).join(', ');
  return new ClientEventError(
    'invalid_value',
    `Invalid value: '${shown(value)}'. Supported values are: ${list}.`,
    param,
  );
}

/** Refuses keys of `object` outside `known` (OpenAI's `unknown_parameter`). */
function checkKeys(object: Json, known: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      const param = path === '' ? key : `${path}.${key}`;
      throw new ClientEventError('unknown_parameter', `Unknown parameter: '${param}'.`, param);
    }
  }
}

function objectAt(parent: Json, key: string, path: string): Json | null | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return value;
  if (!isObject(value)) throw invalidType(`${path}.${key}`, 'an object', value);
  return value;
}

function stringAt(parent: Json, key: string, path: string): string | null | undefined {
  const value = parent[key];
  if (value === undefined || value === null || typeof value === 'string') return value;
  throw invalidType(`${path}.${key}`, 'a string', value);
}

function numberAt(
  parent: Json,
  key: string,
  path: string,
  range: {
    readonly min: number;
    readonly max: number;
    readonly isInteger: boolean;
    /** The bounds themselves are out (a probability threshold of 0 or 1 means nothing). */
    readonly isOpen?: boolean;
  },
): number | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  const param = `${path}.${key}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidType(param, range.isInteger ? 'an integer' : 'a number', value);
  }
  if (range.isInteger && !Number.isInteger(value)) throw invalidType(param, 'an integer', value);
  const isOut =
    range.isOpen === true
      ? value <= range.min || value >= range.max
      : value < range.min || value > range.max;
  if (isOut) {
    const bounds = range.isOpen === true ? 'strictly between' : 'from';
    const joiner = range.isOpen === true ? 'and' : 'to';
    throw new ClientEventError(
      'invalid_value',
      `Invalid '${param}': expected a number ${bounds} ${range.min} ${joiner} ${range.max}, got ${value}.`,
      param,
    );
  }
  return value;
}

/** The GA format object. */
function parseFormat(value: Json, path: string): AudioFormat {
  checkKeys(value, ['type', 'rate'], path);
  const type = value.type;
  if (type === 'audio/pcm') {
    const rate = value.rate;
    if (rate !== undefined && rate !== PCM_RATE_HERTZ) {
      throw invalidValue(`${path}.rate`, rate, [PCM_RATE_HERTZ]);
    }
    return { type: 'audio/pcm', rate: PCM_RATE_HERTZ };
  }
  if (type === 'audio/pcmu' || type === 'audio/pcma') return { type };
  throw invalidValue(`${path}.type`, type, ['audio/pcm', 'audio/pcmu', 'audio/pcma']);
}

/** `transcription` (GA) or `input_audio_transcription` (beta). */
function parseTranscription(value: Json, path: string): Partial<TranscriptionConfig> {
  checkKeys(value, ['model', 'language', 'prompt'], path);
  const patch: { model?: string; language?: string | null; prompt?: string } = {};
  const model = stringAt(value, 'model', path);
  if (model !== undefined && model !== null && model !== '') patch.model = model;
  const language = stringAt(value, 'language', path);
  if (language !== undefined) patch.language = language === '' ? null : language;
  const prompt = stringAt(value, 'prompt', path);
  if (prompt !== undefined) patch.prompt = prompt ?? '';
  return patch;
}

/** `turn_detection` of either dialect (server VAD only). */
function parseTurnDetection(value: Json, path: string): Partial<TurnDetectionConfig> {
  checkKeys(
    value,
    [
      'type',
      'threshold',
      'prefix_padding_ms',
      'silence_duration_ms',
      'create_response',
      'interrupt_response',
    ],
    path,
  );
  const type = value.type ?? 'server_vad';
  if (type !== 'server_vad') throw invalidValue(`${path}.type`, type, ['server_vad']);
  const patch: {
    type: 'server_vad';
    threshold?: number;
    prefix_padding_ms?: number;
    silence_duration_ms?: number;
  } = { type: 'server_vad' };
  const threshold = numberAt(value, 'threshold', path, {
    min: 0,
    max: 1,
    isInteger: false,
    isOpen: true,
  });
  if (threshold !== undefined) patch.threshold = threshold;
  const padding = numberAt(value, 'prefix_padding_ms', path, {
    min: 0,
    max: 10_000,
    isInteger: true,
  });
  if (padding !== undefined) patch.prefix_padding_ms = padding;
  // At least 1 ms: the worker reads 0 as "turns end only when the client commits".
  const silence = numberAt(value, 'silence_duration_ms', path, {
    min: 1,
    max: 10_000,
    isInteger: true,
  });
  if (silence !== undefined) patch.silence_duration_ms = silence;
  return patch;
}

function parseNoiseReduction(value: Json, path: string): NoiseReductionConfig {
  checkKeys(value, ['type', 'strength'], path);
  const type = value.type ?? 'near_field';
  if (type !== 'near_field' && type !== 'far_field') {
    throw invalidValue(`${path}.type`, type, ['near_field', 'far_field']);
  }
  return { type };
}

function parseInclude(value: unknown, param: string): readonly string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidType(param, 'an array of strings', value);
  }
  return value;
}

/** The GA `session.update`'s `session` (a transcription session's fields only). */
function parseGaSession(session: Json): SessionPatch {
  checkKeys(session, ['type', 'audio', 'include'], 'session');
  if (session.type === undefined) {
    throw new ClientEventError(
      'missing_required_parameter',
      "Missing required parameter: 'session.type'.",
      'session.type',
    );
  }
  if (session.type !== 'transcription') {
    throw new ClientEventError(
      'invalid_value',
      `Invalid value: '${shown(session.type)}'. This is a transcription session ` +
        `(intent=transcription): 'session.type' must be 'transcription'.`,
      'session.type',
    );
  }
  const patch: {
    -readonly [K in keyof SessionPatch]: SessionPatch[K];
  } = {};
  if (session.include !== undefined)
    patch.include = parseInclude(session.include, 'session.include');
  const audio = objectAt(session, 'audio', 'session');
  if (audio === undefined || audio === null) return patch;
  checkKeys(audio, ['input'], 'session.audio');
  const input = objectAt(audio, 'input', 'session.audio');
  if (input === undefined || input === null) return patch;
  const path = 'session.audio.input';
  checkKeys(input, ['format', 'transcription', 'turn_detection', 'noise_reduction'], path);
  const format = objectAt(input, 'format', path);
  if (format !== undefined && format !== null) patch.format = parseFormat(format, `${path}.format`);
  const transcription = objectAt(input, 'transcription', path);
  if (transcription !== undefined) {
    patch.transcription =
      transcription === null ? null : parseTranscription(transcription, `${path}.transcription`);
  }
  const turnDetection = objectAt(input, 'turn_detection', path);
  if (turnDetection !== undefined) {
    patch.turnDetection =
      turnDetection === null ? null : parseTurnDetection(turnDetection, `${path}.turn_detection`);
  }
  const noiseReduction = objectAt(input, 'noise_reduction', path);
  if (noiseReduction !== undefined) {
    patch.noiseReduction =
      noiseReduction === null
        ? null
        : parseNoiseReduction(noiseReduction, `${path}.noise_reduction`);
  }
  return patch;
}

/** The beta `transcription_session.update`'s `session`. */
function parseBetaSession(session: Json): SessionPatch {
  checkKeys(
    session,
    [
      'input_audio_format',
      'input_audio_transcription',
      'turn_detection',
      'input_audio_noise_reduction',
      'include',
      'modalities',
      'client_secret',
    ],
    'session',
  );
  const patch: {
    -readonly [K in keyof SessionPatch]: SessionPatch[K];
  } = {};
  const format = session.input_audio_format;
  if (format !== undefined && format !== null) {
    const entry = Object.entries(BETA_FORMAT_NAMES).find(([, name]) => name === format);
    if (entry === undefined) {
      throw invalidValue('session.input_audio_format', format, Object.values(BETA_FORMAT_NAMES));
    }
    const type = entry[0] as AudioFormat['type'];
    patch.format = type === 'audio/pcm' ? { type, rate: PCM_RATE_HERTZ } : { type };
  }
  const transcription = objectAt(session, 'input_audio_transcription', 'session');
  if (transcription !== undefined) {
    patch.transcription =
      transcription === null
        ? null
        : parseTranscription(transcription, 'session.input_audio_transcription');
  }
  const turnDetection = objectAt(session, 'turn_detection', 'session');
  if (turnDetection !== undefined) {
    patch.turnDetection =
      turnDetection === null ? null : parseTurnDetection(turnDetection, 'session.turn_detection');
  }
  const noiseReduction = objectAt(session, 'input_audio_noise_reduction', 'session');
  if (noiseReduction !== undefined) {
    patch.noiseReduction =
      noiseReduction === null
        ? null
        : parseNoiseReduction(noiseReduction, 'session.input_audio_noise_reduction');
  }
  if (session.include !== undefined)
    patch.include = parseInclude(session.include, 'session.include');
  return patch;
}

/** Standard base64 (padding required), as OpenAI's SDKs send it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseAudio(event: Json): Buffer {
  const audio = event.audio;
  if (audio === undefined) {
    throw new ClientEventError(
      'missing_required_parameter',
      "Missing required parameter: 'audio'.",
      'audio',
    );
  }
  if (typeof audio !== 'string') throw invalidType('audio', 'a string', audio);
  if (!BASE64.test(audio)) {
    throw new ClientEventError(
      'invalid_value',
      "Invalid 'audio'. Expected base64-encoded audio bytes but got a value that could not be decoded.",
      'audio',
    );
  }
  return Buffer.from(audio, 'base64');
}

function parseEvent(event: Json, eventId: string | null): ClientEvent {
  const type = event.type;
  if (type === undefined) {
    throw new ClientEventError(
      'missing_required_parameter',
      "Missing required parameter: 'type'.",
      'type',
    );
  }
  if (typeof type !== 'string') throw invalidType('type', 'a string', type);
  switch (type) {
    case 'session.update':
    case 'transcription_session.update': {
      checkKeys(event, ['type', 'event_id', 'session'], '');
      const session = event.session;
      if (session === undefined) {
        throw new ClientEventError(
          'missing_required_parameter',
          "Missing required parameter: 'session'.",
          'session',
        );
      }
      if (!isObject(session)) throw invalidType('session', 'an object', session);
      const dialect: Dialect = type === 'session.update' ? 'ga' : 'beta';
      const patch = dialect === 'ga' ? parseGaSession(session) : parseBetaSession(session);
      return { type: 'session.update', eventId, dialect, patch };
    }
    case 'input_audio_buffer.append':
      checkKeys(event, ['type', 'event_id', 'audio'], '');
      return { type, eventId, audio: parseAudio(event) };
    case 'input_audio_buffer.commit':
    case 'input_audio_buffer.clear':
      checkKeys(event, ['type', 'event_id'], '');
      return { type, eventId };
    default:
      if (CONVERSATION_EVENT_TYPES.has(type)) {
        throw new ClientEventError(
          'invalid_value',
          `Invalid value: '${type}'. This is a transcription session; it serves ` +
            `${CLIENT_EVENT_TYPES.map((name) => `'${name}'`).join(', ')}.`,
          'type',
        );
      }
      throw invalidValue('type', type, CLIENT_EVENT_TYPES);
  }
}

/** Parses one text message from the client. */
export function parseClientEvent(text: string): ParsedClientEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : 'not JSON';
    return {
      isValid: false,
      error: invalidRequest(
        'invalid_json',
        `The server had trouble parsing your JSON: ${detail}`,
        null,
        null,
      ),
    };
  }
  if (!isObject(parsed)) {
    return {
      isValid: false,
      error: invalidRequest(
        'invalid_type',
        `Invalid type for event: expected an object, but got ${jsonType(parsed)} instead.`,
        null,
        null,
      ),
    };
  }
  const rawId = parsed.event_id;
  const eventId = typeof rawId === 'string' ? rawId : null;
  try {
    if (rawId !== undefined && rawId !== null && typeof rawId !== 'string') {
      throw invalidType('event_id', 'a string', rawId);
    }
    return { isValid: true, event: parseEvent(parsed, eventId) };
  } catch (error) {
    if (!(error instanceof ClientEventError)) throw error;
    return {
      isValid: false,
      error: invalidRequest(error.code, error.message, error.param, eventId),
    };
  }
}

// -- server events --------------------------------------------------------------------

/** A server event before its `event_id` is added. */
export type ServerEvent = { readonly type: string } & Readonly<Record<string, unknown>>;

/** Identity of a session, for the session objects. */
export interface SessionIdentity {
  readonly id: string;
  /** When the session ends at the latest (its time limit), in Unix seconds. */
  readonly expiresAtS: number;
}

/** The GA session object of a transcription session. */
function gaSession(config: SessionConfig, identity: SessionIdentity): Json {
  return {
    type: 'transcription',
    object: 'realtime.transcription_session',
    id: identity.id,
    expires_at: identity.expiresAtS,
    audio: {
      input: {
        format: config.format,
        transcription: config.transcription,
        turn_detection: config.turnDetection,
        noise_reduction: config.noiseReduction,
      },
    },
    include: config.include,
  };
}

/** The beta transcription session object. */
function betaSession(config: SessionConfig, identity: SessionIdentity): Json {
  return {
    id: identity.id,
    object: 'realtime.transcription_session',
    expires_at: identity.expiresAtS,
    input_audio_format: BETA_FORMAT_NAMES[config.format.type],
    input_audio_transcription: config.transcription,
    turn_detection: config.turnDetection,
    input_audio_noise_reduction: config.noiseReduction,
    include: config.include,
  };
}

/** `session.created` / `transcription_session.created`: the first server event. */
export function sessionCreated(
  dialect: Dialect,
  config: SessionConfig,
  identity: SessionIdentity,
): ServerEvent {
  return dialect === 'ga'
    ? { type: 'session.created', session: gaSession(config, identity) }
    : { type: 'transcription_session.created', session: betaSession(config, identity) };
}

/** `session.updated` / `transcription_session.updated`: the full effective configuration. */
export function sessionUpdated(
  dialect: Dialect,
  config: SessionConfig,
  identity: SessionIdentity,
): ServerEvent {
  return dialect === 'ga'
    ? { type: 'session.updated', session: gaSession(config, identity) }
    : { type: 'transcription_session.updated', session: betaSession(config, identity) };
}

/** `error`. */
export function errorEvent(error: ErrorDetail): ServerEvent {
  return { type: 'error', error };
}

export function speechStarted(itemId: string, audioStartMs: number): ServerEvent {
  return {
    type: 'input_audio_buffer.speech_started',
    audio_start_ms: audioStartMs,
    item_id: itemId,
  };
}

export function speechStopped(itemId: string, audioEndMs: number): ServerEvent {
  return { type: 'input_audio_buffer.speech_stopped', audio_end_ms: audioEndMs, item_id: itemId };
}

export function committed(itemId: string, previousItemId: string | null): ServerEvent {
  return {
    type: 'input_audio_buffer.committed',
    item_id: itemId,
    previous_item_id: previousItemId,
  };
}

export function cleared(): ServerEvent {
  return { type: 'input_audio_buffer.cleared' };
}

export function transcriptionDelta(itemId: string, delta: string): ServerEvent {
  return {
    type: 'conversation.item.input_audio_transcription.delta',
    item_id: itemId,
    content_index: 0,
    delta,
  };
}

export function transcriptionCompleted(
  itemId: string,
  transcript: string,
  audioSeconds: number,
): ServerEvent {
  return {
    type: 'conversation.item.input_audio_transcription.completed',
    item_id: itemId,
    content_index: 0,
    transcript,
    usage: { type: 'duration', seconds: audioSeconds },
  };
}

export function transcriptionFailed(
  itemId: string,
  error: Omit<ErrorDetail, 'event_id'>,
): ServerEvent {
  return {
    type: 'conversation.item.input_audio_transcription.failed',
    item_id: itemId,
    content_index: 0,
    error,
  };
}

/** The JSON text of a server event, with its own new `event_id` first. */
export function encodeServerEvent(event: ServerEvent, eventId: string = newId('event')): string {
  return JSON.stringify({ event_id: eventId, ...event });
}
