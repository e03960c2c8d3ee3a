"""The file policy over the scheduler, with the fake engine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from stt_worker.engines.fake import FakeEngine
from stt_worker.file_transcription import (
    ChunkedFileTranscription,
    ChunkPlan,
    start_file_transcription,
)
from stt_worker.scheduler import Priority, Scheduler
from stt_worker.types import DecodeOptions, FileInfo, FloatArray, Segment
from stt_worker.vad import group_spans
from worker_testing import load_audio, tone


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def scheduler(engine: FakeEngine) -> AsyncIterator[Scheduler]:
    sched = Scheduler(engine, max_queue=8)
    yield sched
    await sched.close()


def speech_and_silence() -> FloatArray:
    """2 s of 'speech', 2 s of silence, 1 s of 'speech'."""
    silence = np.zeros(32_000, dtype=np.float32)
    return np.concatenate([tone(2.0), silence, tone(1.0)])


async def test_file_transcription_yields_each_segment_in_order(
    scheduler: Scheduler, engine: FakeEngine
) -> None:
    transcription = await start_file_transcription(
        scheduler, speech_and_silence(), DecodeOptions(word_timestamps=True)
    )
    assert transcription.info.duration_ms == 5000
    results = [result async for result in transcription]
    assert [r.index for r in results] == [0, 1, 2]
    assert [(r.segment.start_ms, r.segment.end_ms) for r in results] == [
        (0, 1000),
        (1000, 2000),
        (4000, 5000),
    ]
    assert [r.processed_ms for r in results] == [1000, 2000, 5000]
    assert all(r.segment.words for r in results)
    # One job to prepare, one per segment; the end is found by one more step.
    assert len(engine.decode_threads) == 1 + 3
    assert transcription.processed_ms == 5000


async def test_file_transcription_stops_pulling_when_the_caller_stops(
    scheduler: Scheduler, engine: FakeEngine
) -> None:
    transcription = await start_file_transcription(
        scheduler, tone(5.0), DecodeOptions(vad_filter=False)
    )
    async for result in transcription:
        assert result.index == 0
        break
    transcription.close()
    assert len(engine.decode_threads) == 2  # prepare + one window, nothing more
    assert [r async for r in transcription] == []


class NoisyEngine(FakeEngine):
    """Marks every other segment as probably not speech."""

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        segments, info = super().transcribe_file(audio, options)

        def marked() -> Iterator[Segment]:
            for i, segment in enumerate(segments):
                probability = 0.9 if i % 2 else 0.1
                yield Segment(
                    text=segment.text,
                    start_ms=segment.start_ms,
                    end_ms=segment.end_ms,
                    no_speech_probability=probability,
                )

        return marked(), info


async def test_file_transcription_keeps_segments_whatever_their_no_speech_probability() -> None:
    # Silence is the engine's call (Whisper's rule needs a low log-probability too, and
    # VAD removes it first); quiet real speech can score 0.87 on tiny.en and must stay.
    sched = Scheduler(NoisyEngine(), max_queue=8)
    try:
        transcription = await start_file_transcription(
            sched, tone(4.0), DecodeOptions(no_speech_threshold=0.6)
        )
        results = [result async for result in transcription]
    finally:
        await sched.close()
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [round(r.segment.no_speech_probability, 1) for r in results] == [0.1, 0.9, 0.1, 0.9]


def test_group_spans_joins_neighbours_up_to_the_longest_chunk() -> None:
    second = 16_000
    spans = [(0, 5 * second), (6 * second, 12 * second), (20 * second, 22 * second)]
    # The 8 s pause before the third region starts a new chunk.
    assert group_spans(spans, max_samples=30 * second, max_gap_samples=3 * second) == [
        (0, 12 * second),
        (20 * second, 22 * second),
    ]
    # A chunk never grows past the limit.
    assert group_spans(spans, max_samples=10 * second, max_gap_samples=3 * second) == [
        (0, 5 * second),
        (6 * second, 12 * second),
        (20 * second, 22 * second),
    ]
    # A region longer than a chunk is cut into equal parts.
    assert group_spans([(0, 25 * second)], max_samples=10 * second, max_gap_samples=0) == [
        (0, 25 * second // 3 + 1),
        (25 * second // 3 + 1, 2 * (25 * second // 3 + 1)),
        (2 * (25 * second // 3 + 1), 25 * second),
    ]
    assert group_spans([], max_samples=10, max_gap_samples=0) == []


def real_speech_with_pauses() -> FloatArray:
    """jfk.wav (11 s), 5 s of silence, jfk.wav again: two chunks apart."""
    jfk = load_audio("jfk.wav")
    return np.concatenate([jfk, np.zeros(5 * 16_000, np.float32), jfk])


async def test_chunked_file_decodes_chunks_together_with_times_in_the_recording() -> None:
    engine = FakeEngine(window_ms=4000)
    sched = Scheduler(engine, max_queue=8, max_batch=4, batch_wait_s=0.05)
    audio = real_speech_with_pauses()
    transcription = await start_file_transcription(
        sched, audio, DecodeOptions(language="en", word_timestamps=True), engine.info, ChunkPlan()
    )
    assert isinstance(transcription, ChunkedFileTranscription)
    assert transcription.info.duration_ms == 27_000
    assert 18_000 <= transcription.info.duration_after_vad_ms <= 24_000
    assert transcription.info.options.condition_on_previous_text is False
    results = [r async for r in transcription]
    spans = [(r.segment.start_ms, r.segment.end_ms) for r in results]
    # Two chunks (the 5 s pause splits them), decoded in one engine call, in order.
    assert engine.batch_sizes == [2]
    assert spans == sorted(spans)
    offsets = sorted({r.segment.window_offset_ms for r in results})
    assert len(offsets) == 2 and 15_000 <= offsets[1] <= 16_500
    assert spans[-1][1] <= 27_000
    assert all(
        r.segment.start_ms <= w.start_ms <= w.end_ms <= r.segment.end_ms
        for r in results
        for w in r.segment.words
    )
    processed = [r.processed_ms for r in results]
    assert processed == sorted(processed)
    assert transcription.processed_ms == 27_000
    await sched.close()


async def test_chunked_file_stopped_early_takes_its_chunks_off_the_queue() -> None:
    gate = threading.Event()
    engine = FakeEngine(window_ms=4000)
    sched = Scheduler(engine, max_queue=8, max_batch=1)
    audio = np.concatenate([real_speech_with_pauses()] * 3)
    transcription = await start_file_transcription(
        sched, audio, DecodeOptions(language="en"), engine.info, ChunkPlan(in_flight=4)
    )
    engine.gate = gate
    results = aiter(transcription)
    first = asyncio.create_task(anext(results))
    await asyncio.sleep(0.05)
    assert sched.queue_depth == 3  # one chunk on the engine, three waiting
    gate.set()
    await first
    await results.aclose()  # the client went away
    assert sched.queue_depth == 0
    await sched.close()


class LoggedSource:
    """An `AudioSource` over samples that logs each read; the first read waits for
    `release`, so a test can queue work while the first piece is on the engine."""

    def __init__(self, audio: FloatArray, log: list[str]) -> None:
        self._audio = audio
        self._log = log
        self.started = threading.Event()
        self.release = threading.Event()

    @property
    def num_samples(self) -> int:
        return int(self._audio.size)

    def samples(self, start: int, end: int) -> FloatArray:
        self._log.append(f"file {start // 16_000}-{min(end, self._audio.size) // 16_000} s")
        self.started.set()
        self.release.wait(10)
        return self._audio[start:end]


class LoggedWindow:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    def prepare(self) -> None:
        self._log.append("live")

    def finish(self, decoded: object) -> str:
        return "done"


async def test_a_long_files_speech_is_found_in_bounded_jobs_with_live_windows_between() -> None:
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=8)
    log: list[str] = []
    source = LoggedSource(np.zeros(150 * 16_000, np.float32), log)
    started = asyncio.create_task(
        start_file_transcription(
            sched, source, DecodeOptions(language="en"), engine.info, ChunkPlan()
        )
    )
    await asyncio.to_thread(source.started.wait, 10)
    # A live window asks while the first piece is on the engine.
    live = asyncio.create_task(
        sched.submit_window(LoggedWindow(log), key="live", priority=Priority.LIVE)
    )
    await asyncio.sleep(0)
    source.release.set()
    assert await live == "done"
    transcription = await started
    assert [r async for r in transcription] == []  # silence: nothing to decode
    await sched.close()
    # 150 s in three jobs of at most 60 s; the live window waited for one of them only.
    assert log == ["file 0-60 s", "live", "file 60-120 s", "file 120-150 s"]
    assert transcription.info.duration_ms == 150_000
