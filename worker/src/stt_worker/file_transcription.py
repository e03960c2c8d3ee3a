"""The file policy: a complete recording, decoded once, one window per scheduler job.

Preparing the file (voice-activity detection, features, language detection) is one
scheduler job; every window after that is another, so live sessions get the engine
between the windows of a long file. Results stream out as soon as each is decoded.
A caller that stops iterating (client cancel) submits no further jobs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from stt_worker.engines.base import Engine
from stt_worker.scheduler import Priority, Scheduler
from stt_worker.types import DecodeOptions, FileInfo, FloatArray, Segment

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileResult:
    """One final segment of a file, numbered in the order it is sent."""

    index: int
    segment: Segment
    processed_ms: int
    """Audio decoded so far (the segment's end), never decreasing."""


class FileTranscription:
    """The decode of one prepared file; iterate it to get the results.

    Use `start_file_transcription` to create one.

    Args:
        scheduler: Runs every decode step.
        segments: The engine's lazy segments.
        info: What the engine knows about the file.
        options: The options it was prepared with.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        segments: Iterator[Segment],
        info: FileInfo,
        options: DecodeOptions,
    ) -> None:
        self._scheduler = scheduler
        self._segments: Iterator[Segment] | None = segments
        self.info = info
        self.options = options
        self.processed_ms = 0
        self.results_sent = 0

    async def __aiter__(self) -> AsyncIterator[FileResult]:
        """Decodes window after window, yielding each kept segment.

        Silence is judged by Whisper's own rule inside the engine (a window is skipped
        when its no-speech probability is above the threshold *and* its average
        log-probability is low); dropping on the no-speech probability alone would throw
        away real, quiet speech.

        Yields:
            The results in order.
        """
        while self._segments is not None:
            segment = await self._scheduler.submit(
                _NextSegment(self._segments), priority=Priority.FILE, continuation=True
            )
            if segment is None:
                # The rest (trailing non-speech) counts as processed too.
                self._scheduler.record_audio(self.info.duration_ms - self.processed_ms)
                self.processed_ms = self.info.duration_ms
                break
            processed = min(self.info.duration_ms, max(self.processed_ms, segment.end_ms))
            self._scheduler.record_audio(processed - self.processed_ms)
            self.processed_ms = processed
            yield FileResult(index=self.results_sent, segment=segment, processed_ms=processed)
            self.results_sent += 1
        self.close()

    def close(self) -> None:
        """Stops decoding: no further jobs. The engine's iterator is released (a step
        that is running finishes on the engine thread first)."""
        self._segments = None


class _NextSegment:
    """A scheduler job that decodes the next window: `next(segments)` or None at the end."""

    __slots__ = ("_segments",)

    def __init__(self, segments: Iterator[Segment]) -> None:
        self._segments = segments

    def __call__(self, engine: Engine) -> Segment | None:
        del engine  # the iterator is already bound to it
        return next(self._segments, None)


async def start_file_transcription(
    scheduler: Scheduler, audio: FloatArray, options: DecodeOptions
) -> FileTranscription:
    """Prepares a file on the engine (one scheduler job) and returns its decode.

    Args:
        scheduler: The worker's scheduler.
        audio: The complete recording.
        options: Decoding options.

    Returns:
        The transcription; iterate it for results.

    Raises:
        CapacityError: The scheduler's queue is full.
        EngineError: The engine failed.
    """

    def prepare(engine: Engine) -> tuple[Iterator[Segment], FileInfo]:
        return engine.transcribe_file(audio, options)

    segments, info = await scheduler.submit(prepare, priority=Priority.FILE)
    return FileTranscription(scheduler, segments, info, options)
