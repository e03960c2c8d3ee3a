"""File limits at the gRPC surface: the longest file and the file-audio budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from stt.v1 import transcriber_pb2 as pb
from stt_worker.engines.fake import FakeEngine
from worker_testing import (
    SEQUENTIAL_FILES,
    RunningWorker,
    audio_requests,
    config_request,
    expect_status,
    to_linear16,
    tone,
)


async def limited_worker(start_worker: Callable[..., Any]) -> RunningWorker:
    """A worker taking files of at most 10 s, 15 s of file audio at once."""
    worker: RunningWorker = await start_worker(
        lambda _s: FakeEngine(),
        limits={"max_audio_s": 10.0, "max_file_audio_s": 15.0},
        file=SEQUENTIAL_FILES,
    )
    return worker


async def held_file(
    release: asyncio.Event, declared_ms: int | None
) -> AsyncIterator[pb.StreamingTranscribeRequest]:
    """A file that declares its length (or not), sends 2 s and waits to be released."""
    fields = {} if declared_ms is None else {"audio_duration_ms": declared_ms}
    yield config_request(**fields)
    for request in audio_requests(to_linear16(tone(2.0))):
        yield request
    await release.wait()


async def test_a_file_declared_longer_than_the_limit_is_invalid_before_its_audio(
    start_worker: Callable[..., Any],
) -> None:
    worker = await limited_worker(start_worker)
    error = await expect_status(
        worker, [config_request(audio_duration_ms=10_001)], grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "at most 10 s" in (error.details() or "")


async def test_an_undeclared_file_longer_than_the_limit_is_invalid(
    start_worker: Callable[..., Any],
) -> None:
    worker = await limited_worker(start_worker)
    audio = audio_requests(to_linear16(tone(10.5)))
    error = await expect_status(
        worker, [config_request(), *audio], grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "limit of 10 s" in (error.details() or "")


async def test_audio_past_the_declared_duration_is_invalid(
    start_worker: Callable[..., Any],
) -> None:
    worker = await limited_worker(start_worker)
    audio = audio_requests(to_linear16(tone(4.5)))
    error = await expect_status(
        worker, [config_request(audio_duration_ms=3000), *audio], grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "declared duration" in (error.details() or "")
    # Within a second of the declared length is fine (containers round their lengths).
    responses = await worker.transcribe([config_request(audio_duration_ms=4000), *audio])
    assert responses[-1].summary.duration_ms == 4500


async def test_a_declared_file_that_does_not_fit_the_budget_waits_with_a_hint(
    start_worker: Callable[..., Any],
) -> None:
    worker = await limited_worker(start_worker)
    release = asyncio.Event()
    first = worker.stub.StreamingTranscribe(held_file(release, 10_000))
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        while worker.server.servicer.active_streams == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # 10 s held + 6 s declared > 15 s: refused before any audio is sent.
    error = await expect_status(
        worker, [config_request(audio_duration_ms=6000)], grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert "limit of 15 s" in (error.details() or "")
    assert int(dict(error.trailing_metadata() or ())["retry-after-ms"]) >= 1000  # type: ignore[arg-type]
    # 5 s fits beside it.
    small = await worker.transcribe(
        [config_request(audio_duration_ms=5000), *audio_requests(to_linear16(tone(1.0)))]
    )
    assert small[-1].summary.duration_ms == 1000
    release.set()
    assert [r async for r in first][-1].summary.duration_ms == 2000
    # The budget is whole again: 15 s declared fits once the first file is done.
    again = await worker.transcribe(
        [config_request(audio_duration_ms=9000), *audio_requests(to_linear16(tone(1.0)))]
    )
    assert again[-1].summary.duration_ms == 1000


async def test_an_undeclared_file_is_counted_as_its_audio_arrives(
    start_worker: Callable[..., Any],
) -> None:
    worker = await limited_worker(start_worker)
    release = asyncio.Event()
    first = worker.stub.StreamingTranscribe(held_file(release, 9000))
    async with asyncio.timeout(5):
        while worker.server.servicer.active_streams == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # 9 s held: a file without a declared length runs out of room after 6 s of audio.
    audio = audio_requests(to_linear16(tone(7.0)))
    error = await expect_status(
        worker, [config_request(), *audio], grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert "file audio" in (error.details() or "")
    release.set()
    assert [r async for r in first][-1].summary.duration_ms == 2000
