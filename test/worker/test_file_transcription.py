"""The file policy over the scheduler, with the fake engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from stt_worker.engines.fake import FakeEngine
from stt_worker.file_transcription import start_file_transcription
from stt_worker.scheduler import Scheduler
from stt_worker.types import DecodeOptions, FileInfo, FloatArray, Segment
from worker_testing import tone


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
