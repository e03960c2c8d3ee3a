"""The TensorRT-LLM engine (NVIDIA GPUs): Whisper from a prebuilt engine directory.

`scripts/build_tensorrt_engines.py` turns an OpenAI Whisper checkpoint into the directory
this backend loads (`WORKER_ENGINE__MODEL`):

    encoder/config.json, encoder/rank0.engine   the audio encoder (TensorRT engine)
    decoder/config.json, decoder/rank0.engine   the text decoder (TensorRT engine)
    tokenizer.json                              Whisper's tokenizer (Hugging Face format)
    whisper_trt.json                            what was built (see `EngineManifest`)

The Whisper logic lives here and runs on the CPU: log-mel features (faster-whisper's
extractor), prompts (previous text, initial prompt, hotwords, `<|startoftranscript|>`,
language, task, `<|notimestamps|>`), language detection, Whisper's temperature fallback,
segments cut at timestamp tokens. The GPU work goes through a `WhisperRuntime`, which
`stt_worker.engines.tensorrt_runtime` implements on TensorRT-LLM's executor: a batch of
windows is enqueued at once and decoded with in-flight batching, each window with its own
prompt.

What TensorRT-LLM's runtime does not give, and how this backend stands in:
- No word times (no cross-attention alignment): words share their segment's span by
  length (`text_timing.interpolate_words`), probability 1.0.
- No Whisper timestamp rules (paired timestamps, monotonic, first one within 1 s), which
  CTranslate2 applies while decoding: the timestamps the model writes are taken as they
  come, clamped to be monotonic and within the window.
- The no-speech probability is read from the first decoder step, which this backend only
  runs for language detection (multilingual models, language not given); other windows
  report 0.0, so Whisper's silence rule (skip a window that is likely silence and
  improbable text) applies only to them. Live windows and file chunks pass voice-activity
  detection first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from stt_worker.config import EngineSettings, resolve_cpu_threads, served_model_name
from stt_worker.engines.file_windows import WINDOW_SAMPLES, moved, speech_windows
from stt_worker.engines.text_timing import interpolate_words
from stt_worker.engines.whisper_batch import encoder_frames
from stt_worker.engines.whisper_rules import (
    COMPRESSION_RATIO_THRESHOLD,
    LOG_PROB_THRESHOLD,
    compression_ratio,
    is_silence,
    needs_fallback,
)
from stt_worker.errors import EngineError, EngineUnavailableError, ModelLoadError
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    AppliedOptions,
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    WindowDecode,
    WindowInput,
)

if TYPE_CHECKING:
    import tokenizers
    from faster_whisper.feature_extractor import FeatureExtractor
    from faster_whisper.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

BUILD_SCRIPT = "scripts/build_tensorrt_engines.py"
MANIFEST_NAME = "whisper_trt.json"
MANIFEST_FORMAT = "whisperlive-hybrid/tensorrt-whisper"
TENSORRT_LLM_VERSION = "1.2.1"
"""The TensorRT-LLM release the image installs and the build script expects."""
ENGINE_FILES = (
    "encoder/config.json",
    "encoder/rank0.engine",
    "decoder/config.json",
    "decoder/rank0.engine",
    "tokenizer.json",
    MANIFEST_NAME,
)

# Whisper's input: 10 ms mel frames, at most 30 s; timestamp tokens step by 20 ms.
_HOP_SAMPLES = 160
_SECONDS_PER_TIMESTAMP = 0.02
# Whisper's decoder context is 448 tokens; a prompt takes at most half.
_TEXT_CONTEXT = 448
_MAX_CONTEXT_TOKENS = _TEXT_CONTEXT // 2 - 1
_DEFAULT_MAX_NEW_TOKENS = _TEXT_CONTEXT // 2
# Prompt and hotword texts whose tokens are kept (they repeat for every window of a stream).
_PROMPT_CACHE_SIZE = 256
# Files without voice-activity detection: a later window starts at the end of the last
# complete segment when the model left the window's last one open.
_MIN_SEEK_S = 1.0
# Files with voice-activity detection: a pause longer than this starts the next window.
_FILE_MAX_GAP_S = 3.0
# A window decoded without timestamps is cut into sentence-like segments once its words
# are timed: after a sentence end, and before a segment grows past a subtitle's length.
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")
_MIN_SENTENCE_S = 1.0
_MAX_SEGMENT_S = 12.0


@dataclass(frozen=True, slots=True)
class EngineManifest:
    """What `scripts/build_tensorrt_engines.py` built (`whisper_trt.json`)."""

    model: str
    """The Whisper checkpoint the engines come from (e.g. large-v3-turbo)."""
    n_mels: int
    """Mel bins the encoder takes: 80, or 128 for large-v3 and its turbo."""
    multilingual: bool
    dtype: str
    """Precision the engines compute in (float16 or bfloat16)."""
    max_batch_size: int
    """Most windows the engines decode at once."""
    max_beam_width: int
    max_prompt_tokens: int
    """Longest decoder prompt (previous text, start of transcript, language, task)."""
    max_seq_len: int
    """Longest decoder sequence, prompt and new tokens together."""
    tensorrt_llm: str
    """The TensorRT-LLM version that built the engines (the runtime must be the same)."""

    @classmethod
    def parse(cls, raw: object, source: Path) -> EngineManifest:
        """Reads a manifest's JSON object.

        Raises:
            ModelLoadError: A field is missing or of the wrong type.
        """
        if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
            raise ModelLoadError(
                f"{source} is not a manifest written by {BUILD_SCRIPT} "
                f'(expected "format": "{MANIFEST_FORMAT}")'
            )
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            kind = {"str": str, "int": int, "bool": bool}[str(item.type)]
            value = raw.get(item.name)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ModelLoadError(
                    f"{source}: {item.name!r} must be a {kind.__name__}, found {value!r}"
                )
            values[item.name] = value
        manifest = cls(**values)
        if manifest.n_mels not in (80, 128):
            raise ModelLoadError(f"{source}: n_mels must be 80 or 128, found {manifest.n_mels}")
        return manifest


def inspect_engine_dir(model: str) -> tuple[Path, EngineManifest]:
    """Checks that `model` is an engine directory as the build script writes it.

    Args:
        model: The configured model (`WORKER_ENGINE__MODEL`).

    Returns:
        The directory and its manifest.

    Raises:
        ModelLoadError: Not a directory, another backend's model, or files missing.
    """
    path = Path(model).expanduser()
    expected = (
        "the tensorrt backend loads a TensorRT-LLM Whisper engine directory "
        f"({', '.join(ENGINE_FILES)}), built from a Whisper checkpoint with {BUILD_SCRIPT}"
    )
    if not path.is_dir():
        raise ModelLoadError(f"model {model!r} is not a directory; {expected}")
    missing = [name for name in ENGINE_FILES if not (path / name).is_file()]
    if missing:
        if (path / "model.bin").is_file():
            found = "a CTranslate2 (faster-whisper) model (model.bin)"
        elif any(path.glob("openvino_*.xml")):
            found = "an OpenVINO model (openvino_*.xml)"
        else:
            found = f"no {', '.join(missing)}"
        raise ModelLoadError(f"{path} holds {found}; {expected}")
    manifest_path = path / MANIFEST_NAME
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {manifest_path}: {exc}") from exc
    return path, EngineManifest.parse(raw, manifest_path)


# -- the runtime seam -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecoderRequest:
    """One window for the runtime: encoder features and a decoder prompt."""

    features: FloatArray
    """Log-mel features, shape (n_mels, frames); frames is even."""
    prompt: tuple[int, ...]
    max_new_tokens: int
    beam_width: int
    temperature: float
    """0: beam search (or greedy at width 1); above: sampling."""
    num_sequences: int
    """Sampled candidates (best-of); 1 for beam search, which returns its beams."""
    suppressed: tuple[int, ...]
    """Tokens the decoder may never produce."""
    first_step_logits: bool = False
    """Return the logits of the first decoded step (language detection)."""


@dataclass(frozen=True, slots=True)
class DecoderOutput:
    """What the runtime decoded for one request."""

    sequences: tuple[tuple[tuple[int, ...], float], ...]
    """Each candidate's new tokens (no prompt; stops before end-of-text) and its summed
    log-probability."""
    first_step_logits: FloatArray | None = None
    """Logits over the vocabulary at the first step, when asked for."""


class WhisperRuntime(Protocol):
    """Runs Whisper's encoder and decoder on the accelerator."""

    def generate(self, requests: Sequence[DecoderRequest]) -> list[DecoderOutput]:
        """Decodes every request (the runtime batches them); results in request order.

        Raises:
            Exception: The runtime failed (the engine reports an `EngineError`).
        """
        ...

    def close(self) -> None:
        """Releases the GPU memory."""
        ...


# -- the engine -----------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    tokens: tuple[int, ...]
    avg_logprob: float
    temperature: float
    text: str
    compression: float


@dataclass(slots=True)
class _Window:
    """One window in flight through `decode_batch`."""

    audio: FloatArray
    options: DecodeOptions
    features: FloatArray
    language: str = "en"
    language_probability: float = 1.0
    no_speech_prob: float = 0.0
    tokenizer: Tokenizer | None = None
    prompt: tuple[int, ...] = ()
    result: _Candidate | None = None
    segments: list[Segment] = field(default_factory=list)


class TensorRTEngine:
    """Whisper on TensorRT-LLM engines. Use `load(settings)`; the constructor takes a
    ready runtime (tests hand in a fake one).

    Args:
        runtime: Runs the encoder and decoder.
        tokenizer: The engine directory's `tokenizers.Tokenizer`.
        manifest: What was built.
        info: The description of the loaded engine (its languages are replaced by those
            the tokenizer has language tokens for).
    """

    def __init__(
        self,
        runtime: WhisperRuntime,
        tokenizer: tokenizers.Tokenizer,
        manifest: EngineManifest,
        info: EngineInfo,
    ) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        self._runtime = runtime
        self._hf_tokenizer = tokenizer
        self._manifest = manifest
        self._extractor: FeatureExtractor = FeatureExtractor(feature_size=manifest.n_mels)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._prompt_tokens: dict[str, tuple[int, ...]] = {}
        # Language tokens the checkpoint has (large-v3 added Cantonese).
        self._language_tokens: dict[int, str] = {}
        if manifest.multilingual:
            for code in _LANGUAGE_CODES:
                token = tokenizer.token_to_id(f"<|{code}|>")
                if token is not None:
                    self._language_tokens[int(token)] = code
        self._info = dataclasses.replace(
            info, languages=tuple(self._language_tokens.values()) or ("en",)
        )
        base = self._tokenizer("transcribe", "en")
        # Whisper's default suppression ("-1": symbols that are not speech) and the
        # special tokens that must not appear in a transcript.
        self._suppressed = tuple(
            sorted(
                {
                    *base.non_speech_tokens,
                    base.transcribe,
                    base.translate,
                    base.sot,
                    base.sot_prev,
                    base.sot_lm,
                    base.no_speech,
                }
                - {None}
            )
        )

    @property
    def info(self) -> EngineInfo:
        """What is loaded and where it runs."""
        return self._info

    # -- windows ----------------------------------------------------------------------

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes several windows in one runtime call per step.

        All windows share the decoding strategy of the first one (beam size, temperature
        schedule, token limit); language, task, prompt and hotwords are each window's own.
        Windows that fail Whisper's quality checks are decoded again, together, at the
        next temperature.

        Args:
            windows: Windows of at most 30 s and their options.

        Returns:
            One decode per window, in order; times in ms of the window.

        Raises:
            EngineError: The runtime failed.
        """
        if not windows:
            return []
        items = [
            _Window(
                w.audio,
                w.options,
                self._features(w.audio, encoder_frames(w.audio.size, w.options.padding_s)),
            )
            for w in windows
        ]
        self._resolve_languages(items)
        strategy = items[0].options
        pending = items
        for temperature in strategy.temperatures:
            self._generate(pending, temperature, strategy)
            pending = [w for w in pending if self._needs_fallback(w)]
            if not pending:
                break
        return [self._finish(w) for w in items]

    def _features(self, audio: FloatArray, frames: int) -> FloatArray:
        """Log-mel features of `audio` padded with silence to exactly `frames` frames."""
        padding = max(0, frames * _HOP_SAMPLES - audio.size) + _HOP_SAMPLES
        mel = self._extractor(audio, padding=padding)
        return np.ascontiguousarray(mel[:, :frames], dtype=np.float32)

    def _tokenizer(self, task: str, language: str) -> Tokenizer:
        from faster_whisper.tokenizer import Tokenizer

        multilingual = self._manifest.multilingual
        key = (task, language if multilingual else "en")
        tokenizer = self._tokenizers.get(key)
        if tokenizer is None:
            tokenizer = Tokenizer(self._hf_tokenizer, multilingual, task=key[0], language=key[1])
            self._tokenizers[key] = tokenizer
        return tokenizer

    def _resolve_languages(self, windows: list[_Window]) -> None:
        """Detects the language of windows that need it (one decoder step over the
        language tokens), then builds every window's prompt."""
        detect = [w for w in windows if self._language_tokens and w.options.language is None]
        if detect:
            for window, (language, probability, no_speech) in zip(
                detect, self._detect([w.features for w in detect]), strict=True
            ):
                window.language = language
                window.language_probability = probability
                window.no_speech_prob = no_speech
        for window in windows:
            if window.options.language is not None and self._manifest.multilingual:
                window.language = window.options.language
            tokenizer = self._tokenizer(window.options.task, window.language)
            window.tokenizer = tokenizer
            window.prompt = self._prompt(tokenizer, window.options)

    def _detect(self, features: list[FloatArray]) -> list[tuple[str, float, float]]:
        """Language, its probability and the no-speech probability of each window."""
        base = self._tokenizer("transcribe", "en")
        requests = [
            DecoderRequest(
                features=f,
                prompt=(base.sot,),
                max_new_tokens=1,
                beam_width=1,
                temperature=0.0,
                num_sequences=1,
                suppressed=(),
                first_step_logits=True,
            )
            for f in features
        ]
        detected = []
        ids = np.fromiter(self._language_tokens, dtype=np.int64)
        for output in self._run(requests):
            if output.first_step_logits is None:
                raise EngineError("the runtime returned no logits for language detection")
            logits = np.asarray(output.first_step_logits, dtype=np.float64)
            languages = _softmax(logits[ids])
            best = int(np.argmax(languages))
            no_speech = float(_softmax(logits)[base.no_speech]) if base.no_speech else 0.0
            detected.append(
                (self._language_tokens[int(ids[best])], float(languages[best]), no_speech)
            )
        return detected

    def _prompt(self, tokenizer: Tokenizer, options: DecodeOptions) -> tuple[int, ...]:
        """Whisper's prompt: previous text (hotwords first, then the initial prompt and
        the stream's committed text, most recent kept), then the start of transcript."""
        hotwords = self._encode(tokenizer, options.hotwords)
        previous = list(self._encode(tokenizer, options.initial_prompt))
        if options.previous_text and options.previous_text.strip():
            previous += tokenizer.encode(" " + options.previous_text.strip())
        tail: list[int] = list(tokenizer.sot_sequence)
        if not options.timestamps:
            tail.append(tokenizer.no_timestamps)
        budget = min(_MAX_CONTEXT_TOKENS, self._manifest.max_prompt_tokens - len(tail) - 1)
        context: list[int] = []
        if (hotwords or previous) and budget > 0:
            kept_hotwords = list(hotwords[:budget])
            room = budget - len(kept_hotwords)
            kept_previous = previous[len(previous) - room :] if room > 0 else []
            context = [tokenizer.sot_prev, *kept_hotwords, *kept_previous]
        return (*context, *tail)

    def _encode(self, tokenizer: Tokenizer, text: str | None) -> tuple[int, ...]:
        """Tokens of a stream's prompt or hotwords, cached (the same for every window)."""
        if not text or not text.strip():
            return ()
        tokens = self._prompt_tokens.get(text)
        if tokens is None:
            tokens = tuple(tokenizer.encode(" " + text.strip()))
            if len(self._prompt_tokens) >= _PROMPT_CACHE_SIZE:
                self._prompt_tokens.pop(next(iter(self._prompt_tokens)))
            self._prompt_tokens[text] = tokens
        return tokens

    def _generate(
        self, windows: list[_Window], temperature: float, strategy: DecodeOptions
    ) -> None:
        sampling = temperature > 0
        beam = min(strategy.beam_size or self._info.beam_size, self._manifest.max_beam_width)
        wanted = strategy.max_new_tokens or _DEFAULT_MAX_NEW_TOKENS
        requests = [
            DecoderRequest(
                features=w.features,
                prompt=w.prompt,
                max_new_tokens=max(1, min(wanted, self._manifest.max_seq_len - len(w.prompt))),
                beam_width=1 if sampling else beam,
                temperature=temperature,
                num_sequences=self._info.best_of if sampling else 1,
                suppressed=self._suppressed,
            )
            for w in windows
        ]
        for window, output in zip(windows, self._run(requests), strict=True):
            window.result = self._best(window, output, temperature)

    def _run(self, requests: list[DecoderRequest]) -> list[DecoderOutput]:
        try:
            outputs = self._runtime.generate(requests)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"TensorRT-LLM failed to decode: {exc}") from exc
        if len(outputs) != len(requests):
            raise EngineError(
                f"TensorRT-LLM returned {len(outputs)} results for {len(requests)} windows"
            )
        return outputs

    @staticmethod
    def _best(window: _Window, output: DecoderOutput, temperature: float) -> _Candidate:
        """The candidate with the best average log-probability (Whisper's ranking)."""
        tokenizer = window.tokenizer
        assert tokenizer is not None
        best: _Candidate | None = None
        for tokens, logprob in output.sequences:
            # Whisper's average counts the end-of-text token too.
            average = logprob / (len(tokens) + 1)
            if best is None or average > best.avg_logprob:
                text = tokenizer.decode(list(tokens))
                best = _Candidate(tokens, average, temperature, text, compression_ratio(text))
        if best is None:
            return _Candidate((), 0.0, temperature, "", 0.0)
        return best

    @staticmethod
    def _is_silence(window: _Window) -> bool:
        result = window.result
        assert result is not None
        return is_silence(
            window.no_speech_prob, result.avg_logprob, window.options.no_speech_threshold
        )

    def _needs_fallback(self, window: _Window) -> bool:
        result = window.result
        assert result is not None
        return needs_fallback(
            result.compression, result.avg_logprob, silence=self._is_silence(window)
        )

    def _finish(self, window: _Window) -> WindowDecode:
        result = window.result
        tokenizer = window.tokenizer
        assert result is not None
        assert tokenizer is not None
        segments: list[Segment] = []
        if not self._is_silence(window):
            duration = window.audio.size / SAMPLE_RATE_HERTZ
            for start, end, tokens, _closed in split_at_timestamps(
                result.tokens, tokenizer, duration
            ):
                segments.extend(self._segments(window, start, end, tokens))
        return WindowDecode(tuple(segments), window.language, window.language_probability)

    def _segments(
        self, window: _Window, start: float, end: float, tokens: tuple[int, ...]
    ) -> list[Segment]:
        tokenizer = window.tokenizer
        result = window.result
        assert tokenizer is not None
        assert result is not None
        text = tokenizer.decode(list(tokens))
        if not text.strip():
            return []
        segment = Segment(
            text=text,
            start_ms=_ms(start),
            end_ms=_ms(end),
            token_ids=tokens,
            temperature=result.temperature,
            avg_logprob=result.avg_logprob,
            compression_ratio=compression_ratio(text),
            no_speech_probability=window.no_speech_prob,
        )
        if not window.options.word_timestamps:
            return [segment]
        segment = dataclasses.replace(
            segment, words=interpolate_words(text, segment.start_ms, segment.end_ms)
        )
        if window.options.timestamps:
            return [segment]
        return _sentences(segment, tokenizer)

    # -- files ------------------------------------------------------------------------

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        """Finds the windows (voice-activity detection when asked) and the language now;
        each `next()` then decodes one window of at most 30 s.

        With voice-activity detection, a window is a stretch of speech regions (pauses
        kept inside, at most 30 s); without, windows follow each other through the
        recording, the next starting where the last complete segment ended. With
        `condition_on_previous_text` each window is prompted with the text before it.

        Args:
            audio: The recording (16 kHz mono float32).
            options: Per-request options.

        Returns:
            Lazy segments (times in ms of the recording) and the file's info.
        """
        if options.vad_filter:
            spans = speech_windows(audio, options.vad, max_gap_s=_FILE_MAX_GAP_S)
            after_vad = sum(end - start for start, end in spans)
        else:
            spans = None
            after_vad = audio.size
        language, probability = options.language, 1.0
        if not self._manifest.multilingual:
            language = "en"
        elif language is None:
            first = audio[spans[0][0] : spans[0][1]] if spans else audio[:WINDOW_SAMPLES]
            if first.size:
                frames = encoder_frames(first.size, None)
                language, probability, _ = self._detect([self._features(first, frames)])[0]
            else:
                language, probability = "en", 0.0
        fixed = dataclasses.replace(options, language=language)
        info = FileInfo(
            language=language or "en",
            language_probability=probability,
            duration_ms=_samples_ms(audio.size),
            duration_after_vad_ms=_samples_ms(after_vad),
            options=AppliedOptions(
                beam_size=min(
                    options.beam_size or self._info.beam_size, self._manifest.max_beam_width
                ),
                best_of=self._info.best_of,
                temperatures=options.temperatures,
                condition_on_previous_text=options.condition_on_previous_text,
                initial_prompt=options.initial_prompt or "",
                hotwords=options.hotwords or "",
                word_timestamps=options.word_timestamps,
                vad_filter=options.vad_filter,
                no_speech_threshold=options.no_speech_threshold,
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                log_prob_threshold=LOG_PROB_THRESHOLD,
                task=options.task,
            ),
        )
        return self._file_segments(audio, fixed, spans), info

    def _file_segments(
        self, audio: FloatArray, options: DecodeOptions, spans: list[tuple[int, int]] | None
    ) -> Iterator[Segment]:
        previous: list[str] = []
        seek = 0
        index = 0
        while True:
            if spans is not None:
                if index >= len(spans):
                    return
                start, end = spans[index]
                index += 1
            else:
                if seek >= audio.size:
                    return
                start, end = seek, min(audio.size, seek + WINDOW_SAMPLES)
            window_options = dataclasses.replace(
                options,
                previous_text=" ".join(previous)[-2000:] if previous else None,
            )
            item = _Window(
                audio[start:end],
                window_options,
                self._features(audio[start:end], encoder_frames(end - start, None)),
                language=options.language or "en",
            )
            self._resolve_languages([item])
            for temperature in options.temperatures:
                self._generate([item], temperature, options)
                if not self._needs_fallback(item):
                    break
            result = item.result
            assert result is not None
            assert item.tokenizer is not None
            duration = (end - start) / SAMPLE_RATE_HERTZ
            pieces = (
                []
                if self._is_silence(item)
                else list(split_at_timestamps(result.tokens, item.tokenizer, duration))
            )
            next_seek = end
            if spans is None and end < audio.size and len(pieces) > 1 and not pieces[-1][3]:
                # The last segment runs into the window's end: decode it again in the
                # next window, from the end of the last complete one.
                resume = pieces[-2][1]
                if resume >= _MIN_SEEK_S:
                    pieces.pop()
                    next_seek = start + round(resume * SAMPLE_RATE_HERTZ)
            offset_ms = _samples_ms(start)
            for piece_start, piece_end, tokens, _closed in pieces:
                for segment in self._segments(item, piece_start, piece_end, tokens):
                    yield moved(segment, offset_ms)
                    if options.condition_on_previous_text and result.temperature <= 0.5:
                        previous.append(segment.text.strip())
            if not options.condition_on_previous_text or result.temperature > 0.5:
                previous.clear()
            seek = next_seek

    def close(self) -> None:
        """Releases the engines' GPU memory; the engine is not used afterwards."""
        self._runtime.close()


def split_at_timestamps(
    tokens: Sequence[int], tokenizer: Tokenizer, duration: float
) -> Iterator[tuple[float, float, tuple[int, ...], bool]]:
    """Cuts a decode into segments at its timestamp tokens.

    The runtime applies none of Whisper's timestamp rules, so times are made monotonic
    and kept within the window. Text after the last timestamp (speech still going on at
    the window's end) ends with the window and is marked open.

    Args:
        tokens: The decoded tokens (no prompt).
        tokenizer: The window's tokenizer.
        duration: The window's length in seconds.

    Yields:
        (start_s, end_s, text tokens, closed by a timestamp) per segment.
    """
    begin = tokenizer.timestamp_begin
    start: float | None = None
    text: list[int] = []
    last_end = 0.0
    for token in tokens:
        if token >= begin:
            moment = min(duration, max(last_end, (token - begin) * _SECONDS_PER_TIMESTAMP))
            if text:
                yield (last_end if start is None else start), moment, tuple(text), True
                last_end, start, text = moment, None, []
            else:
                start = moment
        elif token < tokenizer.eot:
            text.append(token)
    if text:
        opened = last_end if start is None else start
        yield opened, max(opened, duration), tuple(text), False


def _sentences(segment: Segment, tokenizer: Tokenizer) -> list[Segment]:
    """Cuts a segment with timed words into sentence-like segments."""
    words = segment.words
    if len(words) < 2:
        return [segment]
    groups = [[words[0]]]
    for word in words[1:]:
        group = groups[-1]
        length_s = (group[-1].end_ms - group[0].start_ms) / 1000
        if (group[-1].text.rstrip().endswith(_SENTENCE_END) and length_s >= _MIN_SENTENCE_S) or (
            word.end_ms - group[0].start_ms
        ) / 1000 > _MAX_SEGMENT_S:
            groups.append([word])
        else:
            group.append(word)
    if len(groups) == 1:
        return [segment]
    pieces = []
    for group in groups:
        text = "".join(w.text for w in group)
        pieces.append(
            dataclasses.replace(
                segment,
                text=text,
                start_ms=group[0].start_ms,
                end_ms=group[-1].end_ms,
                words=tuple(group),
                token_ids=tuple(tokenizer.encode(text)),
                compression_ratio=compression_ratio(text),
            )
        )
    return pieces


def _softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(logits - np.max(logits))
    result: npt.NDArray[np.float64] = shifted / shifted.sum()
    return result


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _samples_ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE_HERTZ


# -- loading --------------------------------------------------------------------------


def load(settings: EngineSettings) -> TensorRTEngine:
    """Loads the TensorRT-LLM engines of `settings.model` onto the GPU.

    Args:
        settings: The engine section of the worker settings (`model`: the engine
            directory; `device`: auto or cuda; `compute_type`: auto, fixed at build time).

    Returns:
        The engine, ready to decode.

    Raises:
        EngineUnavailableError: TensorRT-LLM is not installed in this worker.
        ModelLoadError: Not an engine directory, no CUDA GPU, or the engines do not load.
    """
    try:
        import tensorrt_llm
    except (ImportError, OSError) as exc:
        raise EngineUnavailableError(
            f"the tensorrt backend needs TensorRT-LLM (tensorrt-llm=={TENSORRT_LLM_VERSION}), "
            f"which this worker cannot import ({exc}); build the worker image with "
            "BACKEND=tensorrt (docker/worker-tensorrt.Dockerfile) or use "
            "WORKER_ENGINE__BACKEND=faster_whisper"
        ) from exc
    import tokenizers
    import torch

    path, manifest = inspect_engine_dir(settings.model)
    if not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {settings.device!r}: the tensorrt backend runs on an NVIDIA GPU and "
            "CUDA sees none"
        )
    if settings.compute_type not in ("auto", manifest.dtype):
        raise ModelLoadError(
            f"compute_type {settings.compute_type!r}: the engines in {path} were built for "
            f"{manifest.dtype} (the precision is fixed when they are built; use auto)"
        )
    from stt_worker.engines.tensorrt_runtime import TensorRTLLMRuntime

    installed = str(getattr(tensorrt_llm, "__version__", "unknown"))
    started = time.perf_counter()
    try:
        runtime = TensorRTLLMRuntime(path, manifest)
    except Exception as exc:
        hint = ""
        if installed != manifest.tensorrt_llm:
            hint = (
                f" (the engines were built with TensorRT-LLM {manifest.tensorrt_llm}, this "
                f"worker has {installed}: rebuild them with {BUILD_SCRIPT})"
            )
        raise ModelLoadError(
            f"cannot load the TensorRT-LLM engines in {path}: {exc}{hint}"
        ) from exc
    beam_size = settings.beam_size
    if beam_size > manifest.max_beam_width:
        logger.warning(
            "beam size above the engines' limit",
            extra={"beam_size": beam_size, "max_beam_width": manifest.max_beam_width},
        )
        beam_size = manifest.max_beam_width
    engine = TensorRTEngine(
        runtime,
        tokenizers.Tokenizer.from_file(str(path / "tokenizer.json")),
        manifest,
        EngineInfo(
            model_name=served_model_name(settings.model),
            backend="tensorrt",
            device="cuda",
            compute_type=manifest.dtype,
            cpu_threads=resolve_cpu_threads(settings.cpu_threads),
            is_multilingual=manifest.multilingual,
            languages=(),  # the engine lists the language tokens its tokenizer has
            beam_size=beam_size,
            best_of=settings.best_of,
        ),
    )
    logger.info(
        "model loaded",
        extra={
            "model": engine.info.model_name,
            "path": str(path),
            "checkpoint": manifest.model,
            "device": "cuda",
            "compute_type": manifest.dtype,
            "tensorrt_llm": installed,
            "load_s": round(time.perf_counter() - started, 3),
            "is_multilingual": manifest.multilingual,
            "max_batch_size": manifest.max_batch_size,
        },
    )
    return engine
