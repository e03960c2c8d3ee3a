"""Batched decoding of short windows on one CTranslate2 Whisper model.

Several windows (live sessions' windows, a file's voice-activity chunks) go through the
encoder and the decoder together: one `encode`, one `generate` (each window with its own
prompt, language and task), one `align` for word timings. On a GPU this is where the
throughput comes from; on a CPU the decoder steps, which are too small to keep the cores
busy one window at a time, are shared.

Each window is decoded in a single pass, which is what a window of at most 30 s needs;
text after the last timestamp token (speech still going on at the window's end) is kept
as a segment that ends with the window, rather than decoded again from there. Windows
that fail Whisper's quality checks (a repetitive or improbable text) are decoded again,
together, at the next temperature of their schedule, as faster-whisper does one by one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from stt_worker.engines.whisper_rules import (
    compression_ratio,
    is_silence,
    needs_fallback,
)
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    DecodeOptions,
    FloatArray,
    Segment,
    WindowDecode,
    WindowInput,
    Word,
)

if TYPE_CHECKING:
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

# Whisper's input: 30 s of 10 ms mel frames; its timestamp tokens step by 20 ms.
_FULL_FRAMES = 3000
_HOP_SAMPLES = 160
_SECONDS_PER_TIMESTAMP = 0.02
# Whisper's limit on the first timestamp (the reference implementation's default).
_MAX_INITIAL_TIMESTAMP_S = 1.0
# Punctuation merged into the neighbouring word (Whisper's lists, full-width forms too).
_PREPEND_PUNCTUATION = "\"'\u201c\u00bf([{-"
_APPEND_PUNCTUATION = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001"


# Encoder inputs are rounded up to whole seconds. Every distinct input length makes the
# CPU backend (oneDNN) build and cache new kernels: live windows of any length grew the
# worker's memory without bound in a soak (+120 % in 10 minutes), and each new shape costs
# a kernel build. 30 lengths at most keep the cache small and warm, for at most 1 s more
# padding per window.
_FRAMES_STEP = 100


def encoder_frames(samples: int, padding_s: float | None) -> int:
    """Mel frames the encoder sees for a window: its content plus padding, rounded up to a
    whole second, at most 30 s."""
    if padding_s is None:
        return _FULL_FRAMES
    content = math.ceil(samples / _HOP_SAMPLES)
    frames = content + math.ceil(padding_s * SAMPLE_RATE_HERTZ / _HOP_SAMPLES)
    return min(_FULL_FRAMES, math.ceil(frames / _FRAMES_STEP) * _FRAMES_STEP)


# Prompt lengths (tokens before the start of transcript) that windows are cut to when a
# batch's prompts differ; the longest is Whisper's limit for previous text.
_CONTEXT_BUCKETS = (0, 8, 16, 32, 64, 128, 224)
# Whisper takes at most this many prompt tokens (half its 448-token context).
_MAX_PROMPT_TOKENS = 224
# Streams' prompts and hotwords whose tokens are kept.
_PROMPT_CACHE_SIZE = 256


def _cut_to_bucket(context: list[int]) -> list[int]:
    """Cuts a prompt's previous text to the longest bucket length it reaches.

    The first token (start-of-previous) stays; the most recent tokens are kept.
    """
    if not context:
        return context
    length = max(b for b in _CONTEXT_BUCKETS if b <= len(context))
    if length < 2:
        return []
    return [context[0], *context[len(context) - (length - 1) :]]


@dataclass(slots=True)
class _Hypothesis:
    """The accepted (or last tried) decode of one window."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    temperature: float
    text: str = ""
    compression: float = 0.0


@dataclass(slots=True)
class _Window:
    """One window in flight through the batch."""

    index: int
    audio: FloatArray
    options: DecodeOptions
    frames: int
    language: str = "en"
    language_probability: float = 1.0
    tokenizer: Tokenizer | None = None
    context: list[int] = field(default_factory=list)
    prompt: list[int] = field(default_factory=list)
    result: _Hypothesis | None = None


class WindowBatchDecoder:
    """Decodes batches of windows on a loaded faster-whisper model.

    Args:
        model: The loaded model (its CTranslate2 model, tokenizer and feature extractor
            are used).
        beam_size: Beam width when a window's options do not set one.
        best_of: Candidates sampled at non-zero temperature.
    """

    def __init__(self, model: WhisperModel, *, beam_size: int, best_of: int) -> None:
        self._model = model
        self._beam_size = beam_size
        self._best_of = best_of
        self._prompt_tokens: dict[str, tuple[int, ...]] = {}

    def decode(self, inputs: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes every window; results are in the order of `inputs`.

        All windows of one call share the decoding strategy (beam size and temperature
        schedule of the first window); language, task, prompt and hotwords are per window.

        CTranslate2 decodes a batch only when every prompt has the same length. When the
        windows' prompts (previous text and hotwords) differ in length, each is cut to
        the longest of a few fixed lengths it reaches (keeping its most recent tokens), and
        windows with equal lengths are decoded together.

        Args:
            inputs: Windows of at most 30 s each.

        Returns:
            One decode per window, segment and word times in ms of the window.
        """
        windows = [
            _Window(i, w.audio, w.options, encoder_frames(w.audio.size, w.options.padding_s))
            for i, w in enumerate(inputs)
        ]
        contexts = [self._context(w) for w in windows]
        if len({len(c) for c in contexts}) > 1:
            contexts = [_cut_to_bucket(c) for c in contexts]
        groups: dict[int, list[_Window]] = {}
        for window, context in zip(windows, contexts, strict=True):
            window.context = context
            groups.setdefault(len(context), []).append(window)
        decoded: dict[int, WindowDecode] = {}
        for group in groups.values():
            for window, result in zip(group, self._decode_group(group), strict=True):
                decoded[window.index] = result
        return [decoded[i] for i in range(len(windows))]

    # -- steps ----------------------------------------------------------------------

    def _context(self, window: _Window) -> list[int]:
        """The prompt's part before the start-of-transcript token (Whisper's layout)."""
        tokenizer = self._tokenizer(window.options.task, window.options.language or "en")
        options = window.options
        previous = list(self._encode(tokenizer, options.initial_prompt))
        if options.previous_text:
            previous += tokenizer.encode(" " + options.previous_text.strip())
        prompt = self._model.get_prompt(tokenizer, previous)
        if options.hotwords:
            # get_prompt would tokenize the hotwords again for every window: put the
            # stream's cached tokens where it puts them (after start-of-previous, first).
            hotwords = list(self._encode(tokenizer, options.hotwords))[: _MAX_PROMPT_TOKENS - 1]
            if previous:
                prompt = prompt[:1] + hotwords + prompt[1:]
            else:
                prompt = [tokenizer.sot_prev, *hotwords, *prompt]
        context: list[int] = prompt[: len(prompt) - len(tokenizer.sot_sequence)]
        return context

    def _encode(self, tokenizer: Tokenizer, text: str | None) -> tuple[int, ...]:
        """Tokens of a stream's prompt or hotwords, cached: they are the same for every
        window of a stream, so each is tokenized once, not per window."""
        if not text:
            return ()
        tokens = self._prompt_tokens.get(text)
        if tokens is None:
            tokens = tuple(tokenizer.encode(" " + text.strip()))
            if len(self._prompt_tokens) >= _PROMPT_CACHE_SIZE:
                self._prompt_tokens.pop(next(iter(self._prompt_tokens)))
            self._prompt_tokens[text] = tokens
        return tokens

    def _tokenizer(self, task: str, language: str) -> Tokenizer:
        from faster_whisper.tokenizer import Tokenizer

        ct2 = self._model.model
        return Tokenizer(
            self._model.hf_tokenizer,
            ct2.is_multilingual,
            task=task,
            language=language if ct2.is_multilingual else "en",
        )

    def _decode_group(self, windows: list[_Window]) -> list[WindowDecode]:
        """Decodes windows whose prompts have the same length, all together."""
        frames = max(w.frames for w in windows)
        features = np.stack([self._features(w.audio, frames) for w in windows])
        encoded = self._model.encode(features)
        self._resolve_languages(windows, encoded)
        pending = list(range(len(windows)))
        strategy = windows[0].options
        for attempt, temperature in enumerate(strategy.temperatures):
            # Only windows that failed a check are decoded again, together.
            rows = encoded if attempt == 0 else self._model.encode(features[pending])
            self._generate([windows[i] for i in pending], rows, temperature, strategy)
            pending = [i for i in pending if self._needs_fallback(windows[i])]
            if not pending:
                break
        return self._finish(windows, features, encoded)

    def _features(self, audio: FloatArray, frames: int) -> FloatArray:
        """Log-mel features of `audio` padded with silence to exactly `frames` frames."""
        extractor = self._model.feature_extractor
        padding = max(0, frames * _HOP_SAMPLES - audio.size) + _HOP_SAMPLES
        mel = extractor(audio, padding=padding)
        return np.ascontiguousarray(mel[:, :frames], dtype=np.float32)

    def _resolve_languages(self, windows: list[_Window], encoded: ctranslate2.StorageView) -> None:
        ct2 = self._model.model
        if ct2.is_multilingual and any(w.options.language is None for w in windows):
            detected = ct2.detect_language(encoded)
            for window, ranking in zip(windows, detected, strict=True):
                if window.options.language is None:
                    token, probability = ranking[0]
                    window.language = token[2:-2]
                    window.language_probability = float(probability)
        for window in windows:
            if window.options.language is not None:
                window.language = window.options.language
            if not ct2.is_multilingual:
                window.language = "en"
            window.tokenizer = self._tokenizer(window.options.task, window.language)
            window.prompt = window.context + list(window.tokenizer.sot_sequence)
            if not window.options.timestamps:
                window.prompt.append(window.tokenizer.no_timestamps)

    def _generate(
        self,
        windows: list[_Window],
        encoded: ctranslate2.StorageView,
        temperature: float,
        strategy: DecodeOptions,
    ) -> None:
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer = windows[0].tokenizer
        assert tokenizer is not None
        beam_size = strategy.beam_size or self._beam_size
        if temperature > 0:
            search: dict[str, Any] = {
                "beam_size": 1,
                "num_hypotheses": self._best_of,
                "sampling_topk": 0,
                "sampling_temperature": temperature,
            }
        else:
            search = {"beam_size": beam_size, "patience": 1.0, "length_penalty": 1.0}
        longest_prompt = max(len(w.prompt) for w in windows)
        max_new = strategy.max_new_tokens or self._model.max_length // 2
        results = self._model.model.generate(
            encoded,
            [w.prompt for w in windows],
            max_length=min(self._model.max_length, longest_prompt + max_new),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=round(_MAX_INITIAL_TIMESTAMP_S / _SECONDS_PER_TIMESTAMP),
            **search,
        )
        for window, result in zip(windows, results, strict=True):
            candidates = []
            for tokens, score in zip(result.sequences_ids, result.scores, strict=True):
                # Scores are length-normalised log-probabilities; Whisper's check wants the
                # sum over the tokens and the end token.
                candidates.append((score * len(tokens) / (len(tokens) + 1), list(tokens)))
            avg_logprob, tokens = max(candidates, key=lambda c: c[0])
            assert window.tokenizer is not None
            text = window.tokenizer.decode([t for t in tokens if t < window.tokenizer.eot])
            window.result = _Hypothesis(
                tokens=tokens,
                avg_logprob=float(avg_logprob),
                no_speech_prob=float(result.no_speech_prob),
                temperature=temperature,
                text=text,
                compression=compression_ratio(text),
            )

    @staticmethod
    def _is_silence(window: _Window) -> bool:
        result = window.result
        assert result is not None
        return is_silence(
            result.no_speech_prob, result.avg_logprob, window.options.no_speech_threshold
        )

    def _needs_fallback(self, window: _Window) -> bool:
        result = window.result
        assert result is not None
        return needs_fallback(
            result.compression, result.avg_logprob, silence=self._is_silence(window)
        )

    def _finish(
        self,
        windows: list[_Window],
        features: FloatArray,
        encoded: ctranslate2.StorageView,
    ) -> list[WindowDecode]:
        pieces = [[] if self._is_silence(w) else self._split(w) for w in windows]
        wanted = [i for i, w in enumerate(windows) if w.options.word_timestamps and pieces[i]]
        if wanted:
            self._add_words(windows, pieces, wanted, features, encoded)
            for i in wanted:
                if not windows[i].options.timestamps:
                    tokenizer = windows[i].tokenizer
                    assert tokenizer is not None
                    pieces[i] = [p for piece in pieces[i] for p in _sentences(piece, tokenizer)]
        return [self._decode_of(w, p) for w, p in zip(windows, pieces, strict=True)]

    def _split(self, window: _Window) -> list[dict[str, Any]]:
        """Cuts a decode into segments at its timestamp tokens (times in s of the window)."""
        tokenizer = window.tokenizer
        result = window.result
        assert tokenizer is not None
        assert result is not None
        duration = window.audio.size / SAMPLE_RATE_HERTZ
        begin = tokenizer.timestamp_begin
        segments: list[dict[str, Any]] = []
        start: float | None = None
        text: list[int] = []
        last_end = 0.0
        for token in result.tokens:
            if token >= begin:
                moment = min(duration, (token - begin) * _SECONDS_PER_TIMESTAMP)
                if text:
                    segments.append(self._piece(start or last_end, moment, text))
                    last_end, start, text = moment, None, []
                else:
                    start = moment
            elif token < tokenizer.eot:
                text.append(token)
        if text:  # speech still going on at the window's end
            segments.append(self._piece(start or last_end, duration, text))
        return segments

    @staticmethod
    def _piece(start: float, end: float, tokens: list[int]) -> dict[str, Any]:
        # The shape faster-whisper's word alignment reads and fills in.
        return {"seek": 0, "start": start, "end": max(start, end), "tokens": tokens}

    def _add_words(
        self,
        windows: list[_Window],
        pieces: list[list[dict[str, Any]]],
        wanted: list[int],
        features: FloatArray,
        encoded: ctranslate2.StorageView,
    ) -> None:
        """Word timings by cross-attention alignment, one `align` per language and task."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for index in wanted:
            tokenizer = windows[index].tokenizer
            assert tokenizer is not None
            groups.setdefault(tuple(tokenizer.sot_sequence), []).append(index)
        for rows in groups.values():
            if len(rows) == len(windows):
                group_encoded = encoded
            else:
                group_encoded = self._model.encode(features[rows])
            tokenizer = windows[rows[0]].tokenizer
            assert tokenizer is not None
            self._model.add_word_timestamps(
                [pieces[i] for i in rows],
                tokenizer,
                group_encoded,
                [
                    min(windows[i].frames, math.ceil(windows[i].audio.size / _HOP_SAMPLES))
                    for i in rows
                ],
                _PREPEND_PUNCTUATION,
                _APPEND_PUNCTUATION,
                0.0,
            )

    @staticmethod
    def _decode_of(window: _Window, pieces: list[dict[str, Any]]) -> WindowDecode:
        result = window.result
        tokenizer = window.tokenizer
        assert result is not None
        assert tokenizer is not None
        segments = []
        for piece in pieces:
            text = tokenizer.decode(piece["tokens"])
            words = tuple(
                Word(str(w["word"]), _ms(w["start"]), _ms(w["end"]), float(w["probability"]))
                for w in piece.get("words", ())
            )
            segments.append(
                Segment(
                    text=text,
                    start_ms=_ms(piece["start"]),
                    end_ms=_ms(piece["end"]),
                    words=words,
                    token_ids=tuple(int(t) for t in piece["tokens"]),
                    temperature=result.temperature,
                    avg_logprob=result.avg_logprob,
                    compression_ratio=compression_ratio(text),
                    no_speech_probability=result.no_speech_prob,
                )
            )
        return WindowDecode(tuple(segments), window.language, window.language_probability)


# Segments cut from a window decoded without timestamps, by its word timings: after a
# sentence ends, at a pause, and before they grow too long for a subtitle line.
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")
_MIN_SENTENCE_S = 1.0
_PAUSE_S = 0.8
_MAX_SEGMENT_S = 12.0


def _sentences(piece: dict[str, Any], tokenizer: Tokenizer) -> list[dict[str, Any]]:
    """Cuts one piece with word timings into sentence-like segments (tokens re-encoded
    per word, which is how Whisper's tokenizer splits them in practice)."""
    words = piece.get("words") or []
    if len(words) < 2:
        return [piece]
    groups: list[list[dict[str, Any]]] = [[words[0]]]
    for word in words[1:]:
        group = groups[-1]
        previous = group[-1]
        length = previous["end"] - group[0]["start"]
        if (
            (previous["word"].rstrip().endswith(_SENTENCE_END) and length >= _MIN_SENTENCE_S)
            or word["start"] - previous["end"] >= _PAUSE_S
            or word["end"] - group[0]["start"] > _MAX_SEGMENT_S
        ):
            groups.append([word])
        else:
            group.append(word)
    if len(groups) == 1:
        return [piece]
    return [
        {
            "seek": piece["seek"],
            "start": group[0]["start"],
            "end": group[-1]["end"],
            "tokens": [t for w in group for t in tokenizer.encode(w["word"])],
            "words": group,
        }
        for group in groups
    ]


def _ms(seconds: float) -> int:
    return max(0, round(float(seconds) * 1000))
