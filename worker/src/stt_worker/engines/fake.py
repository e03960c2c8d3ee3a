"""A deterministic engine for tests: no model, no weights, instant.

It "hears" speech wherever the signal is loud. The audio is cut into windows of
`window_ms`; each window whose peak amplitude reaches `speech_level` becomes one segment
whose text names the window (" speech 1.0 to 2.0"), with one word per token of the text
spread evenly over the window. Silence yields nothing, so a stream of zeros has no
results. Hooks let tests block the engine thread (`gate`) or make it fail (`fail_with`, or
`fails_on` for a batch holding one bad window).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from stt_worker.audio import samples_to_ms
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
    Word,
)

FAKE_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "ja", "zh")


class FakeEngine:
    """A deterministic stand-in for a Whisper engine.

    Args:
        model_name: Name the fake model is served under.
        is_multilingual: Whether it pretends to know languages other than English.
        window_ms: Length of the windows audio is cut into.
        speech_level: Peak amplitude from which a window counts as speech.
        gate: If set, every decode waits until it is set (tests use it to hold the engine).
        fail_with: If set, every decode raises this exception.
        fails_on: If set, a `decode_batch` call raises when this is true of any of its
            windows (a window that breaks the engine, taking its batch down with it).
    """

    def __init__(
        self,
        *,
        model_name: str = "fake",
        is_multilingual: bool = True,
        window_ms: int = 1000,
        speech_level: float = 0.01,
        gate: threading.Event | None = None,
        fail_with: Exception | None = None,
        fails_on: Callable[[WindowInput], bool] | None = None,
    ) -> None:
        self._info = EngineInfo(
            model_name=model_name,
            backend="fake",
            device="cpu",
            compute_type="float32",
            cpu_threads=1,
            is_multilingual=is_multilingual,
            languages=FAKE_LANGUAGES if is_multilingual else ("en",),
        )
        self._window = window_ms * SAMPLE_RATE_HERTZ // 1000
        self._speech_level = speech_level
        self.gate = gate
        self.fail_with = fail_with
        self.fails_on = fails_on
        self.closed = False
        self.decode_threads: list[str] = []
        """Name of the thread of every decode step, in order."""
        self.batch_sizes: list[int] = []
        """Windows of every `decode_batch` call, in order."""

    @property
    def info(self) -> EngineInfo:
        """What is loaded and where it runs."""
        return self._info

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        """Prepares `audio`; the iterator yields one segment per loud window.

        Args:
            audio: The recording.
            options: Decoding options; language, temperature and word timings are honoured.

        Returns:
            The lazy segments and the file's info.
        """
        self._step()
        starts = [s for s in range(0, audio.size, self._window) if self._is_speech(audio, s)]
        voiced = sum(min(self._window, audio.size - s) for s in starts)
        language = options.language or "en"
        info = FileInfo(
            language=language,
            language_probability=1.0 if options.language else 0.9,
            duration_ms=samples_to_ms(audio.size),
            duration_after_vad_ms=samples_to_ms(voiced if options.vad_filter else audio.size),
            options=AppliedOptions(
                beam_size=5,
                best_of=5,
                temperatures=options.temperatures,
                condition_on_previous_text=options.condition_on_previous_text,
                initial_prompt=options.initial_prompt or "",
                hotwords=options.hotwords or "",
                word_timestamps=options.word_timestamps,
                vad_filter=options.vad_filter,
                no_speech_threshold=options.no_speech_threshold,
                compression_ratio_threshold=2.4,
                log_prob_threshold=-1.0,
                task=options.task,
            ),
        )
        return self._segments(audio.size, starts, options), info

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes each window as `transcribe_file` would, in one engine step.

        Args:
            windows: The windows and their options.

        Returns:
            Every segment of each window, in order.
        """
        self.batch_sizes.append(len(windows))
        self._step()
        if self.fails_on is not None and any(self.fails_on(w) for w in windows):
            raise RuntimeError("the engine failed on a window of this batch")
        out = []
        for window in windows:
            starts = [
                s
                for s in range(0, window.audio.size, self._window)
                if self._is_speech(window.audio, s)
            ]
            segments = self._segments(window.audio.size, starts, window.options, each_a_step=False)
            language = window.options.language or "en"
            out.append(
                WindowDecode(tuple(segments), language, 1.0 if window.options.language else 0.9)
            )
        return out

    def close(self) -> None:
        """Marks the engine closed."""
        self.closed = True

    def _is_speech(self, audio: FloatArray, start: int) -> bool:
        window = audio[start : start + self._window]
        return bool(window.size) and float(np.max(np.abs(window))) >= self._speech_level

    def _step(self) -> None:
        self.decode_threads.append(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.fail_with is not None:
            raise self.fail_with

    def _segments(
        self, size: int, starts: list[int], options: DecodeOptions, *, each_a_step: bool = True
    ) -> Iterator[Segment]:
        for start in starts:
            if each_a_step:
                self._step()
            start_ms = samples_to_ms(start)
            end_ms = samples_to_ms(min(size, start + self._window))
            text = f" speech {start_ms / 1000:.1f} to {end_ms / 1000:.1f}"
            tokens = text.split()
            step = (end_ms - start_ms) // len(tokens)
            words = tuple(
                Word(f" {token}", start_ms + i * step, start_ms + (i + 1) * step, 0.9)
                for i, token in enumerate(tokens)
            )
            yield Segment(
                text=text,
                start_ms=start_ms,
                end_ms=end_ms,
                words=words if options.word_timestamps else (),
                token_ids=tuple(range(1, len(tokens) + 1)),
                temperature=options.temperatures[0],
                avg_logprob=-0.2,
                compression_ratio=1.2,
                no_speech_probability=0.01,
                window_offset_ms=start_ms,
            )
