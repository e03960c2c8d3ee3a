"""The file policy: a complete recording, decoded once.

Two ways, both as scheduler work so live sessions get the engine between a file's steps:

- **Chunked** (the default, with voice-activity detection on): voice-activity detection
  scores the recording in pieces of 60 s, one job each (its state carried from piece to
  piece, so the regions are those of one pass, and a live window waits behind at most
  one piece); the recording is cut into chunks of at most `max_chunk_s` at pauses; the chunks are
  then decoded as batchable windows, several in flight at once, so the scheduler decodes
  them together (and in small batches while live sessions are active). Results stream out
  in order as chunks finish. Each chunk is decoded on its own (no previous-text
  conditioning, which would serialise them), with Whisper's temperature fallback.
- **Sequential** (VAD off): faster-whisper's own loop over 30 s windows with
  previous-text conditioning, one window per scheduler job.

A caller that stops iterating (client cancel) submits no further jobs, and its queued
chunks leave the queue at once. The recording stays in its compact wire format (an
`AudioSource`); each job converts only its own stretch to float32.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stt_worker.audio import ArraySource, AudioSource, samples_to_ms
from stt_worker.engines.base import Engine
from stt_worker.scheduler import Priority, Scheduler
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    AppliedOptions,
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    VadParameters,
    WindowDecode,
    WindowInput,
    Word,
)
from stt_worker.vad import PIECE_SAMPLES, SpeechPass, group_spans

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileResult:
    """One final segment of a file, numbered in the order it is sent."""

    index: int
    segment: Segment
    processed_ms: int
    """Audio decoded so far (the segment's end), never decreasing."""


class FileTranscription(Protocol):
    """The decode of one prepared file; iterate it to get the results."""

    info: FileInfo
    options: DecodeOptions
    processed_ms: int
    results_sent: int

    def __aiter__(self) -> AsyncIterator[FileResult]:
        """Decodes the file, yielding each kept segment in order."""
        ...

    def close(self) -> None:
        """Stops decoding: no further jobs."""
        ...


class SequentialFileTranscription:
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


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """How a file is cut for the chunked decode."""

    max_chunk_s: float = 29.0
    """Longest chunk; a little under Whisper's 30 s so its last timestamps stay in range."""
    max_gap_s: float = 3.0
    """Longest pause kept inside a chunk; a longer one starts the next chunk."""
    in_flight: int = 8
    """Chunks queued at once (the scheduler batches them)."""


# A chunk at most this long may be a single segment, seconds.
_ONE_SEGMENT_S = 12.0


class _Chunk:
    """A scheduler window job: one chunk of a file.

    A chunk is decoded without Whisper's timestamp tokens: with them, a window full of
    speech up to its end is often closed early at a timestamp and its last sentence
    lost (a sequential decoder would decode again from there; a chunk has no "again").
    Segment and word times come from word alignment instead (words the client did not
    ask for are dropped afterwards); a short chunk the client wants no words of, or any
    chunk of a client that needs only the text (`coarse_segments`), is one segment, timed
    by the chunk, and needs no alignment.
    """

    __slots__ = ("_end", "_keep_words", "_options", "_source", "_start")

    def __init__(self, source: AudioSource, start: int, end: int, options: DecodeOptions) -> None:
        align = options.word_timestamps or (
            not options.coarse_segments and end - start > _ONE_SEGMENT_S * SAMPLE_RATE_HERTZ
        )
        self._source = source
        self._start = start
        self._end = end
        self._options = dataclasses.replace(options, timestamps=False, word_timestamps=align)
        self._keep_words = options.word_timestamps

    @staticmethod
    def batch_key(options: DecodeOptions) -> tuple[object, ...]:
        """Chunks with the same decoding strategy may share an engine call."""
        return ("file", options.beam_size, options.temperatures, options.max_new_tokens)

    def prepare(self) -> WindowInput:
        # Converted here, on the engine thread, so a queued chunk holds no float copy.
        return WindowInput(self._source.samples(self._start, self._end), self._options)

    def finish(self, decoded: WindowDecode | None) -> WindowDecode | None:
        if decoded is None or self._keep_words:
            return decoded
        segments = tuple(dataclasses.replace(s, words=()) for s in decoded.segments)
        return dataclasses.replace(decoded, segments=segments)


class ChunkedFileTranscription:
    """A file cut at pauses into chunks decoded in batches; iterate it for results.

    Use `start_file_transcription` to create one.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        audio: AudioSource,
        chunks: list[tuple[int, int]],
        info: FileInfo,
        options: DecodeOptions,
        plan: ChunkPlan,
        first: WindowDecode | None,
    ) -> None:
        self._scheduler = scheduler
        self._audio: AudioSource | None = audio
        self._chunks = chunks
        self._first = first
        self._plan = plan
        self.info = info
        self.options = options
        self.processed_ms = 0
        self.results_sent = 0

    async def __aiter__(self) -> AsyncIterator[FileResult]:
        """Decodes the chunks, several in flight, and yields their segments in order.

        Yields:
            The results in order.
        """
        in_flight: deque[asyncio.Task[WindowDecode | None]] = deque()
        next_chunk = 0
        try:
            for index, (start, end) in enumerate(self._chunks):
                if index == 0 and self._first is not None:
                    decoded: WindowDecode | None = self._first
                    next_chunk = 1
                else:
                    while next_chunk < len(self._chunks) and (
                        len(in_flight) < self._plan.in_flight
                    ):
                        in_flight.append(asyncio.create_task(self._decode(next_chunk)))
                        next_chunk += 1
                    decoded = await in_flight.popleft()
                for segment in _in_recording(decoded, start, end):
                    yield FileResult(self.results_sent, segment, self._advance(segment.end_ms))
                    self.results_sent += 1
                self._advance(samples_to_ms(end))
        finally:
            for task in in_flight:
                task.cancel()
            for task in in_flight:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._scheduler.record_audio(self.info.duration_ms - self.processed_ms)
        self.processed_ms = self.info.duration_ms
        self.close()

    def _advance(self, end_ms: int) -> int:
        self.processed_ms = min(self.info.duration_ms, max(self.processed_ms, end_ms))
        return self.processed_ms

    async def _decode(self, index: int) -> WindowDecode | None:
        if self._audio is None:
            return None
        start, end = self._chunks[index]
        return await self._scheduler.submit_window(
            _Chunk(self._audio, start, end, self.options),
            key=_Chunk.batch_key(self.options),
            priority=Priority.FILE,
            audio_ms=samples_to_ms(end - start),
            continuation=True,
        )

    def close(self) -> None:
        """Stops decoding: no further chunks are queued."""
        self._audio = None


def _in_recording(decoded: WindowDecode | None, start: int, end: int) -> Iterator[Segment]:
    """A chunk's segments with times moved from the chunk to the recording."""
    if decoded is None:
        return
    offset = samples_to_ms(start)
    limit = samples_to_ms(end)
    for segment in decoded.segments:
        if not segment.text.strip():
            continue
        yield dataclasses.replace(
            segment,
            start_ms=min(limit, segment.start_ms + offset),
            end_ms=min(limit, segment.end_ms + offset),
            words=tuple(
                Word(
                    w.text,
                    min(limit, w.start_ms + offset),
                    min(limit, w.end_ms + offset),
                    w.probability,
                )
                for w in segment.words
            ),
            window_offset_ms=offset,
        )


async def start_file_transcription(
    scheduler: Scheduler,
    audio: FloatArray | AudioSource,
    options: DecodeOptions,
    engine: EngineInfo | None = None,
    plan: ChunkPlan | None = None,
) -> FileTranscription:
    """Prepares a file (scheduler jobs) and returns its decode.

    Chunked when voice-activity detection is on and `engine` and `plan` are given, else
    sequential.

    Args:
        scheduler: The worker's scheduler.
        audio: The complete recording (float32 samples, or a source read in stretches).
        options: Decoding options.
        engine: The loaded model (its languages and beam size).
        plan: How to cut the file into chunks; None decodes sequentially.

    Returns:
        The transcription; iterate it for results.

    Raises:
        CapacityError: The scheduler's queue is full.
        EngineError: The engine failed.
    """
    source = ArraySource(audio) if isinstance(audio, np.ndarray) else audio
    if engine is None or plan is None or not options.vad_filter:
        return await _start_sequential(scheduler, source, options)
    spans = await find_speech(scheduler, source, _chunking_vad(options.vad, plan))
    chunks = group_spans(
        spans,
        max_samples=round(plan.max_chunk_s * SAMPLE_RATE_HERTZ),
        max_gap_samples=round(plan.max_gap_s * SAMPLE_RATE_HERTZ),
    )
    language, probability = options.language, 1.0
    if not engine.is_multilingual:
        language = "en"
    first = None
    if chunks and language is None and engine.is_multilingual:
        # The first chunk is decoded alone to learn the language; the rest use it.
        start, end = chunks[0]
        first = await scheduler.submit_window(
            _Chunk(source, start, end, options),
            key=_Chunk.batch_key(options),
            priority=Priority.FILE,
            audio_ms=samples_to_ms(end - start),
            continuation=True,
        )
        if first is not None:
            language, probability = first.language, first.language_probability
            options = dataclasses.replace(options, language=language)
    info = FileInfo(
        language=language or "",
        language_probability=probability if language else 0.0,
        duration_ms=samples_to_ms(source.num_samples),
        duration_after_vad_ms=samples_to_ms(sum(end - start for start, end in spans)),
        options=AppliedOptions(
            beam_size=options.beam_size or engine.beam_size,
            best_of=engine.best_of,
            temperatures=options.temperatures,
            condition_on_previous_text=False,
            initial_prompt=options.initial_prompt or "",
            hotwords=options.hotwords or "",
            word_timestamps=options.word_timestamps,
            vad_filter=True,
            no_speech_threshold=options.no_speech_threshold,
            compression_ratio_threshold=2.4,
            log_prob_threshold=-1.0,
            task=options.task,
        ),
    )
    return ChunkedFileTranscription(scheduler, source, chunks, info, options, plan, first)


async def find_speech(
    scheduler: Scheduler, source: AudioSource, vad: VadParameters
) -> list[tuple[int, int]]:
    """The speech regions of a recording, found by one scheduler job per 60 s piece.

    Args:
        scheduler: Runs the pieces (file priority; the first one is new work, the rest
            continue it).
        source: The recording.
        vad: The tuning.

    Returns:
        The regions as (start, end) sample indices.
    """
    speech = SpeechPass(vad)

    def score(start: int) -> Callable[[Engine], None]:
        def run(engine: Engine) -> None:
            del engine  # VAD runs on the engine thread but does not need the model
            speech.feed(source.samples(start, start + PIECE_SAMPLES))

        return run

    for index, start in enumerate(range(0, source.num_samples, PIECE_SAMPLES)):
        await scheduler.submit(score(start), priority=Priority.FILE, continuation=index > 0)
    return speech.finish()


def _chunking_vad(vad: VadParameters, plan: ChunkPlan) -> VadParameters:
    """The file's VAD tuning, with speech regions split at pauses to fit in a chunk."""
    longest_ms = round(plan.max_chunk_s * 1000)
    if vad.max_speech_ms is not None and vad.max_speech_ms <= longest_ms:
        return vad
    return dataclasses.replace(vad, max_speech_ms=longest_ms)


async def _start_sequential(
    scheduler: Scheduler, source: AudioSource, options: DecodeOptions
) -> SequentialFileTranscription:
    def prepare(engine: Engine) -> tuple[Iterator[Segment], FileInfo]:
        # faster-whisper's own loop needs the whole recording as float32.
        return engine.transcribe_file(source.samples(0, source.num_samples), options)

    segments, info = await scheduler.submit(prepare, priority=Priority.FILE)
    return SequentialFileTranscription(scheduler, segments, info, options)
