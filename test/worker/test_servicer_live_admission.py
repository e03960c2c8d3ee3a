"""Live admission at the gRPC surface, on default settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest

from stt.v1 import transcriber_pb2 as pb
from stt_worker.engines.fake import FakeEngine
from worker_testing import SEQUENTIAL_FILES, RunningWorker, audio_requests, config_request


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
