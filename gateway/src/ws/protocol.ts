/**
 * The WhisperLive WebSocket protocol as pure functions (spec:
 * `shared/specs/whisperlive-protocol.md`): the client's options message narrowed from
 * `unknown`, audio frames checked and converted, and every server message encoded exactly as
 * stock WhisperLive clients expect it. No sockets, timers or gRPC here.
 */
import { LINEAR16_BYTES_PER_SAMPLE, SAMPLE_RATE_HERTZ } from '../audio/pcm.js';
import { isLanguageCode } from '../languages.js';
import type { AudioEncoding, Segment, Task, VadSettings, Word } from '../transcript.js';

/** The end-of-audio marker, sent by clients as a binary (or, by some, a text) frame. */
export const END_OF_AUDIO = 'END_OF_AUDIO';

const END_OF_AUDIO_BYTES = Buffer.from(END_OF_AUDIO, 'ascii');

/**
 * The `backend` of `SERVER_READY`. Always faster-whisper's: it names the segment format we
 * send (timed segments with `completed`), whatever engine the worker runs, and the stock
 * client records its transcript and writes its SRT only for this value (spec §10.3).
 */
export const WHISPERLIVE_BACKEND = 'faster_whisper';

/** Sample formats a client may choose with `audio_format`. */
export const AUDIO_FORMATS = ['float32', 'int16', 'uint8'] as const;

/** A client audio format. */
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

/**
 * Largest options message, in UTF-8 bytes. The stock client's is about 500 bytes; the cap
 * leaves room for the longest prompt and hotwords and refuses anything bigger before parsing.
 */
export const MAX_OPTIONS_MESSAGE_BYTES = 64 * 1024;

/** Longest `uid`, in characters (UTF-16 units); a uuid4 is 36. */
export const MAX_UID_CHARS = 128;

/**
 * Longest `initial_prompt` and `hotwords`, in characters. Whisper reads at most 224 prompt
 * tokens (about 1000 characters of English); the rest would be cut off anyway.
 */
export const MAX_PROMPT_CHARS = 4096;

/** Longest `language` and `target_language`, in characters (codes are 2 or 3 letters). */
export const MAX_LANGUAGE_CHARS = 32;

/** Longest `model`, in characters (a name, a hub repo id or a path). */
export const MAX_MODEL_CHARS = 256;

/** Longest `hf_token`, in characters (accepted and dropped; tokens are about 40). */
export const MAX_HF_TOKEN_CHARS = 256;

/** The client's first message, with WhisperLive's defaults filled in (spec §3). */
export interface ClientOptions {
  /** Client id, echoed in every server message. */
  readonly uid: string;
  /** ISO-639-1 language code, or null to detect it. */
  readonly language: string | null;
  /** Transcribe or translate to English. */
  readonly task: Task;
  /** Model the client asked for, or null for the worker's own. */
  readonly model: string | null;
  /** Voice-activity detection (`use_vad`; missing means off, as in WhisperLive). */
  readonly useVad: boolean;
  /** VAD tuning from `vad_parameters`, or null for the worker's defaults. */
  readonly vadParameters: VadSettings | null;
  /** Completed segments repeated in each segments message. */
  readonly sendLastNSegments: number;
  /** No-speech threshold in [0, 1]. */
  readonly noSpeechThresh: number;
  /** WhisperLive's clip-audio switch (accepted; the worker bounds its buffer itself). */
  readonly clipAudio: boolean;
  /**
   * WhisperLive's repeats of an unchanged partial before it is committed. Accepted, checked
   * and passed on, but it changes nothing: our commit policy (two agreeing decodes, or a
   * pause) commits sooner than any repeat count would.
   */
  readonly sameOutputThreshold: number;
  /** Text that conditions the decoder, or null. */
  readonly initialPrompt: string | null;
  /** Words to bias decoding towards, or null. */
  readonly hotwords: string | null;
  /** Whether segments carry `words`. */
  readonly wordTimestamps: boolean;
  /** WhisperLive's M2M100 translation (accepted, not supported: no translated segments). */
  readonly enableTranslation: boolean;
  /** Target language of that translation. */
  readonly targetLanguage: string;
  /** Speaker diarization (accepted, not supported: no `speaker` fields). */
  readonly enableDiarization: boolean;
  /** Diarization similarity threshold. */
  readonly diarizationThreshold: number;
  /** Most speakers for diarization. */
  readonly maxSpeakers: number;
  /** Sample format of the client's binary frames. */
  readonly audioFormat: AudioFormat;
}

/** The outcome of {@link parseOptionsMessage}. */
export type OptionsParseResult =
  | { readonly isValid: true; readonly options: ClientOptions }
  | {
      readonly isValid: false;
      /** The client's uid when it could be read, else `''`. */
      readonly uid: string;
      /** Why the message was refused, for the client. */
      readonly message: string;
    };

/** Options keys that request features this server does not offer. */
export function unsupportedFeatures(options: ClientOptions): string[] {
  const features: string[] = [];
  if (options.enableTranslation) features.push('enable_translation');
  if (options.enableDiarization) features.push('enable_diarization');
  return features;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly isInteger?: boolean;
  /** The lower bound itself is not allowed. */
  readonly isMinExclusive?: boolean;
  /** The upper bound itself is not allowed. */
  readonly isMaxExclusive?: boolean;
}

/**
 * Reads typed fields from an untrusted object. `null` and missing keys both mean "use the
 * default" (the Python client sends `None` for unset options); every problem is collected.
 */
class FieldReader {
  readonly problems: string[] = [];
  readonly #fields: Record<string, unknown>;
  readonly #prefix: string;

  constructor(fields: Record<string, unknown>, prefix = '') {
    this.#fields = fields;
    this.#prefix = prefix;
  }

  #value(key: string): unknown {
    return Object.hasOwn(this.#fields, key) ? this.#fields[key] : undefined;
  }

  #wrongType(key: string, expected: string, value: unknown): void {
    this.problems.push(`"${this.#prefix}${key}" must be ${expected}, got ${describeType(value)}`);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.#value(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.#wrongType(key, 'a boolean (true or false)', value);
    return fallback;
  }

  /** A string of at most `maxChars` UTF-16 units, or null. */
  string(key: string, maxChars: number): string | null {
    const value = this.#value(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== 'string') {
      this.#wrongType(key, 'a string or null', value);
      return null;
    }
    if (value.length > maxChars) {
      this.problems.push(
        `"${this.#prefix}${key}" must be at most ${maxChars} characters, got ${value.length}`,
      );
      return null;
    }
    return value;
  }

  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.#value(key);
    if (value === undefined || value === null) return fallback;
    const match = choices.find((choice) => choice === value);
    if (match !== undefined) return match;
    const expected = choices.map((choice) => `"${choice}"`).join(', ');
    if (typeof value === 'string') {
      // Echo only the start of a long value: the refusal goes back to the client and the log.
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      this.problems.push(
        `"${this.#prefix}${key}" must be one of ${expected}, got ${JSON.stringify(shown)}`,
      );
    } else {
      this.#wrongType(key, `one of ${expected}`, value);
    }
    return fallback;
  }

  number(key: string, fallback: number, rule: NumberRule): number {
    const value = this.#value(key);
    if (value === undefined || value === null) return fallback;
    const kind = rule.isInteger === true ? 'an integer' : 'a number';
    if (typeof value !== 'number' || Number.isNaN(value)) {
      this.#wrongType(key, kind, value);
      return fallback;
    }
    const isBelow = rule.isMinExclusive === true ? value <= rule.min : value < rule.min;
    const isAbove = rule.isMaxExclusive === true ? value >= rule.max : value > rule.max;
    if ((rule.isInteger === true && !Number.isInteger(value)) || isBelow || isAbove) {
      const low = rule.isMinExclusive === true ? '(' : '[';
      const high = rule.isMaxExclusive === true ? ')' : ']';
      this.problems.push(
        `"${this.#prefix}${key}" must be ${kind} in ${low}${rule.min}, ${rule.max}${high}, ` +
          `got ${String(value)}`,
      );
      return fallback;
    }
    return value;
  }

  /** A nested object, or null. */
  object(key: string): Record<string, unknown> | null {
    const value = this.#value(key);
    if (value === undefined || value === null) return null;
    if (isRecord(value)) return value;
    this.#wrongType(key, 'an object or null', value);
    return null;
  }
}

/** Longest VAD duration we pass on, in ms (one day; the proto field is uint32). */
const MAX_VAD_DURATION_MS = 86_400_000;

function parseVadParameters(reader: FieldReader, fields: Record<string, unknown>): VadSettings {
  const vad = new FieldReader(fields, 'vad_parameters.');
  const threshold = vad.number('threshold', Number.NaN, {
    min: 0,
    max: 1,
    isMinExclusive: true,
    isMaxExclusive: true,
  });
  const ms = (key: string): number | undefined => {
    const value = vad.number(key, Number.NaN, { min: 0, max: MAX_VAD_DURATION_MS });
    return Number.isNaN(value) ? undefined : Math.round(value);
  };
  const minSpeechMs = ms('min_speech_duration_ms');
  const minSilenceMs = ms('min_silence_duration_ms');
  const speechPadMs = ms('speech_pad_ms');
  // faster-whisper's default is infinity ("no limit"), which the proto spells as unset.
  const maxSpeechS = vad.number('max_speech_duration_s', Number.POSITIVE_INFINITY, {
    min: 0,
    max: Number.POSITIVE_INFINITY,
    isMinExclusive: true,
  });
  reader.problems.push(...vad.problems);
  return {
    threshold: Number.isNaN(threshold) ? undefined : threshold,
    minSpeechMs,
    minSilenceMs,
    speechPadMs,
    maxSpeechMs: Number.isFinite(maxSpeechS)
      ? Math.min(Math.round(maxSpeechS * 1000), MAX_VAD_DURATION_MS)
      : undefined,
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LETTER_I = 0x49;
const LETTER_N = 0x4e;

/**
 * Python's `json.dumps` writes `Infinity`, `-Infinity` and `NaN` (e.g. faster-whisper's
 * default `max_speech_duration_s`), which `JSON.parse` rejects. Outside strings they become
 * `1e999` (parsed as Infinity) and `null`; strings are copied untouched.
 *
 * One pass, no regular expression: a regex with alternation over string bodies backtracks
 * quadratically on a long unterminated string of `\"` (issue #9), which froze the event loop.
 */
function toStrictJson(text: string): string {
  const parts: string[] = [];
  let copiedUpTo = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      // Skip the string: an escape hides the next character, a quote ends it.
      i += 1;
      while (i < length) {
        const inner = text.charCodeAt(i);
        if (inner === BACKSLASH) {
          i += 2;
        } else {
          i += 1;
          if (inner === QUOTE) break;
        }
      }
      continue;
    }
    const word = code === LETTER_I ? 'Infinity' : code === LETTER_N ? 'NaN' : undefined;
    if (
      word !== undefined &&
      text.startsWith(word, i) &&
      !isWordChar(text.charCodeAt(i - 1)) &&
      !isWordChar(text.charCodeAt(i + word.length))
    ) {
      parts.push(text.slice(copiedUpTo, i), word === 'NaN' ? 'null' : '1e999');
      i += word.length;
      copiedUpTo = i;
      continue;
    }
    i += 1;
  }
  if (copiedUpTo === 0) return text;
  parts.push(text.slice(copiedUpTo));
  return parts.join('');
}

/** `[A-Za-z0-9_]`, the `\w` of a regex word boundary; NaN (out of range) is not. */
function isWordChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f
  );
}

/** Letters, marks, digits, punctuation, symbols and spaces: no controls, no lone surrogates. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]*$/u;

function uidProblem(uid: unknown): string | undefined {
  if (uid === undefined) return 'the options message needs a "uid" (string)';
  if (typeof uid !== 'string') return `"uid" must be a string, got ${describeType(uid)}`;
  if (uid.length > MAX_UID_CHARS) {
    return `"uid" must be at most ${MAX_UID_CHARS} characters, got ${uid.length}`;
  }
  if (!PRINTABLE.test(uid)) return '"uid" must be printable text (no control characters)';
  return undefined;
}

/**
 * `language`: one of Whisper's codes (any case), or null/empty to detect it. An unknown
 * code is a problem here, at the handshake, rather than a failure of the worker later.
 */
function parseLanguage(reader: FieldReader): string | null {
  const language = reader.string('language', MAX_LANGUAGE_CHARS);
  if (language === null || language === '') return null;
  const code = language.toLowerCase();
  if (isLanguageCode(code)) return code;
  reader.problems.push(
    `"language" must be a Whisper language code such as "en" or "de", got ${JSON.stringify(language)}`,
  );
  return null;
}

/**
 * Parses and checks the client's first (text) message. Missing keys take WhisperLive's
 * defaults; unlike WhisperLive, `language`, `task` and `model` may be missing too. Unknown
 * keys (and legacy ones such as `max_clients`) are ignored.
 */
export function parseOptionsMessage(text: string): OptionsParseResult {
  // UTF-16 units never outnumber UTF-8 bytes, so the cheap length test goes first.
  if (
    text.length > MAX_OPTIONS_MESSAGE_BYTES ||
    Buffer.byteLength(text, 'utf8') > MAX_OPTIONS_MESSAGE_BYTES
  ) {
    return {
      isValid: false,
      uid: '',
      message: `the options message must be at most ${MAX_OPTIONS_MESSAGE_BYTES} bytes`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(toStrictJson(text));
  } catch {
    return { isValid: false, uid: '', message: 'the first message must be the options JSON' };
  }
  if (!isRecord(parsed)) {
    return {
      isValid: false,
      uid: '',
      message: `the options message must be a JSON object, got ${describeType(parsed)}`,
    };
  }
  const uid = parsed.uid;
  const badUid = uidProblem(uid);
  // A refused uid is not echoed: it may be huge or hold control characters.
  if (badUid !== undefined || typeof uid !== 'string') {
    return { isValid: false, uid: '', message: badUid ?? '"uid" must be a string' };
  }

  const reader = new FieldReader(parsed);
  const language = parseLanguage(reader);
  const model = reader.string('model', MAX_MODEL_CHARS);
  const vadFields = reader.object('vad_parameters');
  const options: ClientOptions = {
    uid,
    language,
    task: reader.choice('task', ['transcribe', 'translate'] as const, 'transcribe'),
    model: model === '' ? null : model,
    useVad: reader.boolean('use_vad', false),
    vadParameters: vadFields === null ? null : parseVadParameters(reader, vadFields),
    sendLastNSegments: reader.number('send_last_n_segments', 10, {
      min: 1,
      max: 1000,
      isInteger: true,
    }),
    noSpeechThresh: reader.number('no_speech_thresh', 0.45, { min: 0, max: 1 }),
    clipAudio: reader.boolean('clip_audio', false),
    sameOutputThreshold: reader.number('same_output_threshold', 10, {
      min: 0,
      max: 1000,
      isInteger: true,
    }),
    initialPrompt: reader.string('initial_prompt', MAX_PROMPT_CHARS),
    hotwords: reader.string('hotwords', MAX_PROMPT_CHARS),
    wordTimestamps: reader.boolean('word_timestamps', false),
    enableTranslation: reader.boolean('enable_translation', false),
    targetLanguage: reader.string('target_language', MAX_LANGUAGE_CHARS) ?? 'fr',
    enableDiarization: reader.boolean('enable_diarization', false),
    diarizationThreshold: reader.number('diarization_threshold', 0.55, { min: 0, max: 1 }),
    maxSpeakers: reader.number('max_speakers', 10, { min: 1, max: 1000, isInteger: true }),
    audioFormat: reader.choice('audio_format', AUDIO_FORMATS, 'float32'),
  };
  // hf_token is only type-checked: a secret we have no use for is not kept.
  reader.string('hf_token', MAX_HF_TOKEN_CHARS);
  if (reader.problems.length > 0) {
    return { isValid: false, uid, message: `invalid options: ${reader.problems.join('; ')}` };
  }
  return { isValid: true, options };
}

// -- audio ------------------------------------------------------------------------------

/** Bytes per sample of a client audio format. */
export function sampleWidthBytes(format: AudioFormat): number {
  switch (format) {
    case 'float32':
      return 4;
    case 'int16':
      return 2;
    case 'uint8':
      return 1;
  }
}

/**
 * The encoding the worker receives for a client format: float32 and int16 pass through
 * unchanged (WhisperLive's float32 is little-endian), uint8 is widened to LINEAR16.
 */
export function workerEncodingFor(format: AudioFormat): AudioEncoding {
  return format === 'float32' ? 'float32' : 'linear16';
}

/** Bytes per sample of a worker encoding. */
export function encodingWidthBytes(encoding: AudioEncoding): number {
  return encoding === 'float32' ? 4 : LINEAR16_BYTES_PER_SAMPLE;
}

/** Duration of `byteCount` bytes of 16 kHz audio in `encoding`, in whole ms. */
export function audioBytesToMs(byteCount: number, encoding: AudioEncoding): number {
  return Math.floor((byteCount / encodingWidthBytes(encoding) / SAMPLE_RATE_HERTZ) * 1000);
}

/** Whether a frame is the end-of-audio marker (binary: exact bytes; text: trimmed). */
export function isEndOfAudio(frame: Buffer, isBinary: boolean): boolean {
  if (isBinary) return frame.equals(END_OF_AUDIO_BYTES);
  return frame.toString('utf8').trim() === END_OF_AUDIO;
}

/** The outcome of {@link decodeAudioFrame}. */
export type AudioFrameResult =
  | {
      readonly isValid: true;
      /** Audio in the worker encoding of {@link workerEncodingFor}. */
      readonly pcm: Buffer;
    }
  | { readonly isValid: false; readonly message: string };

/** uint8 (x − 128) / 128 as LINEAR16: (x − 128) · 256, exact. */
function uint8ToLinear16(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length * LINEAR16_BYTES_PER_SAMPLE);
  for (let i = 0; i < frame.length; i += 1) {
    out.writeInt16LE(((frame[i] ?? 128) - 128) * 256, i * LINEAR16_BYTES_PER_SAMPLE);
  }
  return out;
}

/**
 * Checks a binary audio frame (any size that is a whole number of samples) and converts it
 * to the worker's encoding.
 */
export function decodeAudioFrame(frame: Buffer, format: AudioFormat): AudioFrameResult {
  if (frame.length % sampleWidthBytes(format) !== 0) {
    return {
      isValid: false,
      message: `frame of ${frame.length} bytes is not a whole number of ${format} samples`,
    };
  }
  return { isValid: true, pcm: format === 'uint8' ? uint8ToLinear16(frame) : frame };
}

// -- server messages --------------------------------------------------------------------

/** A word of a segment on the wire. */
export interface WireWord {
  readonly word: string;
  readonly start: string;
  readonly end: string;
  readonly probability: number;
}

/** A segment on the wire (faster_whisper backend format). */
export interface WireSegment {
  readonly start: string;
  readonly end: string;
  readonly text: string;
  readonly completed: boolean;
  readonly words?: readonly WireWord[];
}

/** Milliseconds as seconds with exactly three decimals (`"{:.3f}"`), e.g. `"12.480"`. */
export function formatSeconds(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  return `${Math.floor(total / 1000)}.${String(total % 1000).padStart(3, '0')}`;
}

function toWireWord(word: Word): WireWord {
  return {
    word: word.word,
    start: formatSeconds(word.startMs),
    end: formatSeconds(word.endMs),
    probability: Math.round(word.probability * 10_000) / 10_000,
  };
}

/** A segment as WhisperLive writes it; `words` only when word timestamps were asked for. */
export function toWireSegment(
  segment: Segment,
  isCompleted: boolean,
  hasWords: boolean,
): WireSegment {
  const wire: WireSegment = {
    start: formatSeconds(segment.startMs),
    end: formatSeconds(segment.endMs),
    text: segment.text,
    completed: isCompleted,
  };
  return hasWords ? { ...wire, words: segment.words.map(toWireWord) } : wire;
}

/**
 * The segment list of one segments message: the last `count` completed segments (oldest
 * first), then the partial if there is one.
 */
export function selectSegments(
  completed: readonly Segment[],
  partial: Segment | undefined,
  count: number,
  hasWords: boolean,
): WireSegment[] {
  const recent = count > 0 ? completed.slice(-count) : [];
  const segments = recent.map((segment) => toWireSegment(segment, true, hasWords));
  if (partial !== undefined) segments.push(toWireSegment(partial, false, hasWords));
  return segments;
}

/** `{"uid","message":"SERVER_READY","backend":"faster_whisper"}`. */
export function encodeServerReady(uid: string): string {
  return JSON.stringify({ uid, message: 'SERVER_READY', backend: WHISPERLIVE_BACKEND });
}

/** `{"uid","status":"WAIT","message":<minutes>}`: the server is full. */
export function encodeWait(uid: string, waitMinutes: number): string {
  return JSON.stringify({ uid, status: 'WAIT', message: waitMinutes });
}

/** `{"uid","status":"ERROR","message":<reason>}`. */
export function encodeError(uid: string, message: string): string {
  return JSON.stringify({ uid, status: 'ERROR', message });
}

/** `{"uid","message":"DISCONNECT"}`: the session is over (time limit or shutdown). */
export function encodeDisconnect(uid: string): string {
  return JSON.stringify({ uid, message: 'DISCONNECT' });
}

/** `{"uid","language","language_prob"}`: the detected language, sent once. */
export function encodeLanguage(uid: string, language: string, probability: number): string {
  return JSON.stringify({ uid, language, language_prob: probability });
}

/** `{"uid","segments":[...]}`. */
export function encodeSegments(uid: string, segments: readonly WireSegment[]): string {
  return JSON.stringify({ uid, segments });
}
