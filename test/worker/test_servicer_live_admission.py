"""Live streams at the gRPC surface: admission on default settings, and fault isolation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest

from stt.v1 import transcriber_pb2 as pb
from stt_worker.engines.fake import FakeEngine
from stt_worker.scheduler import Priority
from worker_testing import (
    SEQUENTIAL_FILES,
    Hold,
    RunningWorker,
    audio_requests,
    config_request,
    load_audio,
    to_linear16,
)


async def idle_live_stream(release: asyncio.Event) -> AsyncIterator[pb.StreamingTranscribeRequest]:
    """A live stream that sends its config and waits (nothing measured yet)."""
    yield config_request(mode=pb.TRANSCRIPTION_MODE_LIVE, interim_results=True)
    await release.wait()


async def test_a_cpu_worker_takes_two_unmeasured_live_streams_then_says_wait(
    start_worker: Callable[..., Any],
) -> None:
    worker: RunningWorker = await start_worker(lambda _s: FakeEngine(), file=SEQUENTIAL_FILES)
    release = asyncio.Event()
    calls = [worker.stub.StreamingTranscribe(idle_live_stream(release)) for _ in range(2)]
    for call in calls:
        ack = await call.read()  # the ack: admitted
        assert isinstance(ack, pb.StreamingTranscribeResponse)
    with pytest.raises(grpc.RpcError) as refused:
        await worker.transcribe(
            [config_request(mode=pb.TRANSCRIPTION_MODE_LIVE), *audio_requests(b"\0\0")]
        )
    error = refused.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "measuring" in (error.details() or "")
    assert int(dict(error.trailing_metadata() or ())["retry-after-ms"]) == 3000  # type: ignore[arg-type]
    # A file is not a live stream: admitted.
    responses = await worker.transcribe([config_request(), *audio_requests(b"\0\0" * 16_000)])
    assert responses[-1].summary.duration_ms == 1000
    release.set()
    for call in calls:
        while await call.read() is not grpc.aio.EOF:
            pass
        assert await call.code() == grpc.StatusCode.OK


async def test_a_live_window_that_breaks_the_engine_ends_only_its_own_stream(
    start_worker: Callable[..., Any],
) -> None:
    # Speech (Silero must hear it) the fake engine decodes; one stream is louder, and a
    # batch holding a window of it makes the engine raise.
    engine = FakeEngine(fails_on=lambda window: float(np.max(np.abs(window.audio))) > 0.9)
    # One decoding strategy for every live window, so the two streams' windows batch.
    worker: RunningWorker = await start_worker(
        lambda _s: engine, file=SEQUENTIAL_FILES, live={"full_quality_streams": 0}
    )
    scheduler = worker.server.scheduler
    assert scheduler is not None
    jfk = load_audio("jfk.wav")[: 4 * 16_000]
    loud = to_linear16(jfk * (0.95 / float(np.max(np.abs(jfk)))))
    quiet = to_linear16(jfk * (0.5 / float(np.max(np.abs(jfk)))))
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.LIVE))
    await hold.wait_started()  # the first windows of both streams queue up together

    def live(audio: bytes) -> list[pb.StreamingTranscribeRequest]:
        return [config_request(mode=pb.TRANSCRIPTION_MODE_LIVE), *audio_requests(audio)]

    streams = asyncio.gather(
        worker.transcribe(live(loud)), worker.transcribe(live(quiet)), return_exceptions=True
    )
    async with asyncio.timeout(10):
        while scheduler.queue_depth < 2:  # noqa: ASYNC110 (server-side state)
            await asyncio.sleep(0.01)
    hold.release.set()
    await held
    broken, served = await streams
    assert isinstance(broken, grpc.Call) and broken.code() == grpc.StatusCode.INTERNAL
    assert isinstance(served, list), served
    assert served[-1].summary.duration_ms == 4000
    assert any(r.is_final and r.transcript for response in served for r in response.results)
    # The batch of both failed; each went again alone and only the loud one failed.
    assert engine.batch_sizes[:3] == [2, 1, 1]
