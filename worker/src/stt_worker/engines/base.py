"""The engine protocol: the narrow waist between the policies and a Whisper backend.

Only the scheduler calls an engine, always from its one engine thread, so
implementations need no locking. Backend knobs (beam size, compute type, threads) come
from the settings at construction; per-request options come in `DecodeOptions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from stt_worker.types import (
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    WindowDecode,
    WindowInput,
)


class Engine(Protocol):
    """A loaded Whisper model that turns 16 kHz float32 audio into segments."""

    @property
    def info(self) -> EngineInfo:
        """What is loaded and where it runs."""
        ...

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        """Prepares a whole recording for decoding.

        The call itself does the up-front work (voice-activity detection, features,
        language detection) and returns at once; each `next()` on the iterator then decodes
        one window of at most 30 s. This lets the scheduler interleave other work between
        windows of a long file.

        Args:
            audio: The complete recording.
            options: Per-request decoding options.

        Returns:
            A lazy iterator of final segments (times in ms of the recording) and what is
            known about the file.

        Raises:
            EngineError: The backend failed.
        """
        ...

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes several windows of at most 30 s in one go (live windows, file chunks).

        The windows of one call share a decoding strategy (beam size, temperatures, token
        limit: the scheduler batches only windows with the same one); language, task,
        prompt and hotwords are each window's own.

        Args:
            windows: The windows and their options.

        Returns:
            One decode per window, in order: every segment (times in ms of the window)
            and the window's language.

        Raises:
            EngineError: The backend failed (the whole batch fails).
        """
        ...

    def close(self) -> None:
        """Releases the model. The engine is not used afterwards."""
        ...
