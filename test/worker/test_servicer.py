"""The gRPC surface with the fake engine: results, status codes, health, load, drain."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from stt.v1 import transcriber_pb2 as pb
from stt_worker.engines.fake import FakeEngine
from stt_worker.errors import EngineError
from stt_worker.scheduler import Priority
from stt_worker.servicer import SERVICE_NAME
from worker_testing import (
    SEQUENTIAL_FILES,
    Hold,
    RunningWorker,
    audio_requests,
    config_request,
    expect_status,
    start_slow_loading_worker,
    to_linear16,
    tone,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Polls a condition on the event loop (for cross-thread and server-side state that
    has no event to wait on)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 (nothing to await but time)
            await asyncio.sleep(0.01)


async def test_servicer_streams_final_results_progress_and_summary(
    fake_worker: RunningWorker,
) -> None:
    audio = np.concatenate([tone(2.0), np.zeros(16_000, np.float32), tone(0.5)])
    responses = await fake_worker.transcribe(
        [config_request(enable_word_time_offsets=True), *audio_requests(to_linear16(audio))]
    )
    *result_responses, last = responses
    assert len(result_responses) == 3
    results = [r.results[0] for r in result_responses]
    assert all(len(r.results) == 1 for r in result_responses)
    assert [r.segment_index for r in results] == [0, 1, 2]
    assert [r.transcript for r in results] == [
        " speech 0.0 to 1.0",
        " speech 1.0 to 2.0",
        " speech 3.0 to 3.5",
    ]
    assert all(r.is_final and r.stability == 0.0 for r in results)
    assert all(r.language_code == "en" for r in results)
    for result in results:
        assert result.words
        assert result.words[0].start_offset_ms >= result.start_offset_ms
        assert result.words[-1].end_offset_ms <= result.end_offset_ms
        assert list(result.token_ids)
    progress = [r.progress.processed_audio_ms for r in result_responses]
    assert progress == sorted(progress)
    assert all(r.progress.total_audio_ms == 3500 for r in result_responses)
    assert not any(r.HasField("summary") for r in result_responses)

    assert last.HasField("summary")
    assert not last.results
    assert last.progress.processed_audio_ms == last.progress.total_audio_ms == 3500
    summary = last.summary
    assert summary.duration_ms == 3500
    assert summary.duration_after_vad_ms == 2500
    assert summary.language_code == "en"
    assert summary.model == "fake-model"
    assert summary.options.task == "transcribe"
    assert summary.options.vad_filter is True
    assert summary.options.word_timestamps is True
    assert list(summary.options.temperatures) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


async def test_servicer_accepts_float32_audio(fake_worker: RunningWorker) -> None:
    data = tone(1.0).astype("<f4").tobytes()
    responses = await fake_worker.transcribe(
        [config_request(encoding=pb.AUDIO_ENCODING_FLOAT32), *audio_requests(data)]
    )
    assert [r.results[0].transcript for r in responses[:-1]] == [" speech 0.0 to 1.0"]
    assert responses[-1].summary.duration_ms == 1000


async def test_servicer_silence_gives_no_results_and_a_summary(fake_worker: RunningWorker) -> None:
    silence = to_linear16(np.zeros(48_000, np.float32))
    responses = await fake_worker.transcribe([config_request(), *audio_requests(silence)])
    assert len(responses) == 1
    assert responses[0].summary.duration_ms == 3000
    assert responses[0].summary.language_code == ""


async def test_servicer_rejects_audio_before_config(fake_worker: RunningWorker) -> None:
    error = await expect_status(
        fake_worker, audio_requests(b"\x00\x00" * 100), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "first message" in (error.details() or "")


async def test_servicer_rejects_a_stream_without_messages(fake_worker: RunningWorker) -> None:
    await expect_status(fake_worker, [], grpc.StatusCode.INVALID_ARGUMENT)


async def test_servicer_rejects_bad_sample_rate(fake_worker: RunningWorker) -> None:
    error = await expect_status(
        fake_worker, [config_request(sample_rate_hertz=44_100)], grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "16000" in (error.details() or "")


async def test_servicer_rejects_unspecified_encoding(fake_worker: RunningWorker) -> None:
    error = await expect_status(
        fake_worker,
        [config_request(encoding=pb.AUDIO_ENCODING_UNSPECIFIED)],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "encoding" in (error.details() or "")


async def test_servicer_rejects_a_partial_sample(fake_worker: RunningWorker) -> None:
    requests = [config_request(), pb.StreamingTranscribeRequest(audio=b"\x00\x00\x00")]
    error = await expect_status(fake_worker, requests, grpc.StatusCode.INVALID_ARGUMENT)
    assert "whole number" in (error.details() or "")


async def test_servicer_rejects_a_second_config(fake_worker: RunningWorker) -> None:
    requests = [config_request(), *audio_requests(b"\x00\x00" * 10), config_request()]
    await expect_status(fake_worker, requests, grpc.StatusCode.INVALID_ARGUMENT)


async def test_servicer_rejects_a_stream_without_audio(fake_worker: RunningWorker) -> None:
    error = await expect_status(fake_worker, [config_request()], grpc.StatusCode.INVALID_ARGUMENT)
    assert "no audio" in (error.details() or "")


async def test_servicer_rejects_unknown_model_naming_the_served_one(
    fake_worker: RunningWorker,
) -> None:
    error = await expect_status(
        fake_worker,
        [config_request(model="gpt-4o-transcribe"), *audio_requests(to_linear16(tone(0.5)))],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "fake-model" in (error.details() or "")


async def test_servicer_accepts_standard_model_names(fake_worker: RunningWorker) -> None:
    for model in ("whisper-1", "large-v3", "fake-model", ""):
        responses = await fake_worker.transcribe(
            [config_request(model=model), *audio_requests(to_linear16(tone(0.5)))]
        )
        assert responses[-1].summary.model == "fake-model"


async def test_servicer_rejects_bad_options(fake_worker: RunningWorker) -> None:
    audio = audio_requests(to_linear16(tone(0.5)))
    for config in (
        config_request(temperature=1.5),
        config_request(language_code="xx"),
        config_request(no_speech_threshold=2.0),
    ):
        await expect_status(fake_worker, [config, *audio], grpc.StatusCode.INVALID_ARGUMENT)


async def test_servicer_live_mode_acks_the_config_then_ends_with_a_summary(
    fake_worker: RunningWorker,
) -> None:
    responses = await fake_worker.transcribe(
        [
            config_request(mode=pb.TRANSCRIPTION_MODE_LIVE, interim_results=True),
            *audio_requests(to_linear16(tone(2.0))),
        ]
    )
    # `transcribe` checked the ack (progress only, nothing processed) and dropped it.
    last = responses[-1]
    assert last.summary.duration_ms == 2000
    assert last.summary.model == "fake-model"


async def test_servicer_live_mode_rejects_translate_on_an_english_only_model(
    start_worker: Callable[..., Any],
) -> None:
    english = FakeEngine(is_multilingual=False)
    worker = await start_worker(lambda _settings: english, file=SEQUENTIAL_FILES)
    error = await expect_status(
        worker,
        [
            config_request(mode=pb.TRANSCRIPTION_MODE_LIVE, task=pb.TASK_TRANSLATE),
            *audio_requests(to_linear16(tone(0.5))),
        ],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "English-only" in (error.details() or "")


async def test_servicer_engine_failure_is_internal_with_a_generic_message(
    fake_worker: RunningWorker, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    fake_engine.fail_with = ValueError("secret stack detail")
    with caplog.at_level(logging.ERROR, logger="stt_worker"):
        error = await expect_status(
            fake_worker,
            [config_request(), *audio_requests(to_linear16(tone(0.5)))],
            grpc.StatusCode.INTERNAL,
        )
    assert "secret" not in (error.details() or "")
    assert any(r.exc_info and "secret stack detail" in caplog.text for r in caplog.records)


async def test_servicer_logs_the_request_id(
    fake_worker: RunningWorker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="stt_worker"):
        await fake_worker.transcribe(
            [config_request(), *audio_requests(to_linear16(tone(0.5)))],
            metadata=(("x-request-id", "req-42"),),
        )
    done = [r for r in caplog.records if r.getMessage() == "file stream done"]
    assert len(done) == 1
    assert done[0].__dict__["request_id"] == "req-42"
    assert done[0].__dict__["audio_ms"] == 500


async def test_servicer_health_and_calls_before_and_after_loading(
    start_worker: Callable[..., Any],
) -> None:
    worker, loading, release = await start_slow_loading_worker(start_worker)
    assert await worker.health_status("") == NOT_SERVING
    assert await worker.health_status(SERVICE_NAME) == NOT_SERVING
    await expect_status(
        worker,
        [config_request(), *audio_requests(b"\x00\x00" * 10)],
        grpc.StatusCode.UNAVAILABLE,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    release.set()
    await loading
    assert await worker.health_status("") == SERVING
    assert await worker.health_status(SERVICE_NAME) == SERVING


async def test_servicer_health_watch_sees_serving(start_worker: Callable[..., Any]) -> None:
    worker: RunningWorker = await start_worker(
        lambda _s: FakeEngine(), load=False, file=SEQUENTIAL_FILES
    )
    watch = worker.health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    first = await watch.read()
    assert first.status == NOT_SERVING
    await worker.server.load()
    second = await watch.read()
    assert second.status == SERVING
    watch.cancel()


async def test_servicer_worker_info_describes_model_and_load(fake_worker: RunningWorker) -> None:
    info = await fake_worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert info.model.name == "fake-model"
    assert info.model.is_multilingual is True
    assert "de" in info.model.languages
    assert info.backend == "fake"
    assert info.device == "cpu"
    assert info.compute_type == "float32"
    assert info.version
    assert info.cpu_threads == 1
    assert info.load.active_streams == 0
    assert info.load.max_streams == 32
    assert info.load.queue_depth == 0
    assert info.load.max_queue_depth == 64


async def held_stream(
    release: asyncio.Event, audio: bytes
) -> AsyncIterator[pb.StreamingTranscribeRequest]:
    """Sends config and audio, then keeps the stream open until released."""
    yield config_request()
    for request in audio_requests(audio):
        yield request
    await release.wait()


async def test_servicer_stream_limit_gives_resource_exhausted_with_retry_hint(
    start_worker: Callable[..., Any],
) -> None:
    worker: RunningWorker = await start_worker(
        lambda _s: FakeEngine(), limits={"max_streams": 1}, file=SEQUENTIAL_FILES
    )
    release = asyncio.Event()
    first = worker.stub.StreamingTranscribe(held_stream(release, to_linear16(tone(0.5))))
    await wait_until(lambda: worker.server.servicer.active_streams == 1)
    info = await worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert info.load.active_streams == 1
    error = await expect_status(
        worker,
        [config_request(), *audio_requests(b"\x00\x00")],
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    trailing = dict(error.trailing_metadata() or ())  # type: ignore[arg-type]
    assert int(trailing["retry-after-ms"]) > 0
    release.set()
    responses = [r async for r in first]
    assert responses[-1].HasField("summary")


async def test_servicer_full_queue_gives_resource_exhausted(
    start_worker: Callable[..., Any],
    gate: Callable[[FakeEngine], threading.Event],
) -> None:
    engine = FakeEngine()
    worker: RunningWorker = await start_worker(
        lambda _s: engine, scheduler={"max_queue": 1}, file=SEQUENTIAL_FILES
    )
    release_engine = gate(engine)
    steps = len(engine.decode_threads)
    audio = audio_requests(to_linear16(tone(0.5)))
    running = asyncio.create_task(worker.transcribe([config_request(), *audio]))
    await wait_until(lambda: len(engine.decode_threads) == steps + 1)  # holds the engine
    queued = asyncio.create_task(worker.transcribe([config_request(), *audio]))
    scheduler = worker.server.scheduler
    assert scheduler is not None
    await wait_until(lambda: scheduler.queue_depth == 1)
    error = await expect_status(
        worker, [config_request(), *audio], grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert int(dict(error.trailing_metadata() or ())["retry-after-ms"]) > 0
    release_engine.set()
    for task in (running, queued):
        responses = await task
        assert responses[-1].summary.duration_ms == 500


async def test_servicer_client_cancel_stops_decoding(
    start_worker: Callable[..., Any],
    gate: Callable[[FakeEngine], threading.Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = FakeEngine()
    worker: RunningWorker = await start_worker(lambda _s: engine, file=SEQUENTIAL_FILES)
    release_engine = gate(engine)
    steps = len(engine.decode_threads)
    call = worker.stub.StreamingTranscribe(
        iter([config_request(), *audio_requests(to_linear16(tone(10.0)))])
    )
    await wait_until(lambda: len(engine.decode_threads) == steps + 1)  # preparing the file
    with caplog.at_level(logging.DEBUG, logger="stt_worker"):
        call.cancel()
        await wait_until(lambda: worker.server.servicer.active_streams == 0)
        release_engine.set()
        scheduler = worker.server.scheduler
        assert scheduler is not None
        # A job queued now runs after anything the cancelled stream might have queued.
        await scheduler.submit(lambda _e: None, priority=Priority.FILE)
    assert len(engine.decode_threads) == steps + 1  # no window was decoded after the cancel
    assert any("cancelled" in r.getMessage() for r in caplog.records)


async def _file_stream_held_in_the_engine(
    start_worker: Callable[..., Any],
    gate: Callable[[FakeEngine], threading.Event],
) -> tuple[FakeEngine, RunningWorker, threading.Event, asyncio.Task[list[Any]]]:
    """A worker with a 2 s file stream whose first window is held inside the engine."""
    engine = FakeEngine()
    worker: RunningWorker = await start_worker(lambda _s: engine, file=SEQUENTIAL_FILES)
    release_engine = gate(engine)
    steps = len(engine.decode_threads)
    running = asyncio.create_task(
        worker.transcribe([config_request(), *audio_requests(to_linear16(tone(2.0)))])
    )
    await wait_until(lambda: len(engine.decode_threads) == steps + 1)
    return engine, worker, release_engine, running


async def test_servicer_drain_finishes_running_streams_and_refuses_new_ones(
    start_worker: Callable[..., Any],
    gate: Callable[[FakeEngine], threading.Event],
) -> None:
    engine, worker, release_engine, running = await _file_stream_held_in_the_engine(
        start_worker, gate
    )
    watch = worker.health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
    assert (await watch.read()).status == SERVING
    stopping = asyncio.create_task(worker.server.stop(5.0))
    assert (await watch.read()).status == NOT_SERVING
    await expect_status(
        worker, [config_request(), *audio_requests(b"\x00\x00")], grpc.StatusCode.UNAVAILABLE
    )
    release_engine.set()
    responses = await running
    assert [r.results[0].transcript for r in responses[:-1]] == [
        " speech 0.0 to 1.0",
        " speech 1.0 to 2.0",
    ]
    await stopping
    assert engine.closed


async def test_servicer_drain_cancels_streams_after_the_grace_period(
    start_worker: Callable[..., Any],
    gate: Callable[[FakeEngine], threading.Event],
) -> None:
    engine, worker, release_engine, running = await _file_stream_held_in_the_engine(
        start_worker, gate
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopping = asyncio.create_task(worker.server.stop(0.3))
    with pytest.raises(grpc.RpcError):
        await running
    assert loop.time() - started < 3.0
    release_engine.set()  # the engine step in flight finishes, then the engine closes
    await stopping
    assert engine.closed


async def test_servicer_busy_port_fails_to_start(
    start_worker: Callable[..., Any], fake_worker: RunningWorker
) -> None:
    with pytest.raises(OSError, match="cannot bind"):
        await start_worker(
            lambda _s: FakeEngine(), load=False, port=fake_worker.server.port, file=SEQUENTIAL_FILES
        )


async def test_servicer_failed_warm_up_fails_the_load_and_closes_the_engine(
    start_worker: Callable[..., Any],
) -> None:
    engine = FakeEngine(fail_with=ValueError("no kernel"))
    worker: RunningWorker = await start_worker(
        lambda _s: engine, load=False, engine={"warm_up": True}
    )
    with pytest.raises(EngineError, match="warm-up"):
        await worker.server.load()
    assert engine.closed
    assert await worker.health_status("") == NOT_SERVING
    await expect_status(worker, [config_request()], grpc.StatusCode.UNAVAILABLE)


async def test_servicer_cancelled_live_stream_frees_its_queue_slot_at_once(
    start_worker: Callable[..., Any],
) -> None:
    worker: RunningWorker = await start_worker(lambda _s: FakeEngine(), file=SEQUENTIAL_FILES)
    scheduler = worker.server.scheduler
    assert scheduler is not None
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()  # the engine is busy: the live window has to queue
    call = worker.stub.StreamingTranscribe(
        iter(
            [
                config_request(mode=pb.TRANSCRIPTION_MODE_LIVE),
                *audio_requests(to_linear16(tone(3.0))),
            ]
        )
    )
    await wait_until(lambda: scheduler.queue_depth == 1)
    info = await worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert (info.load.live_streams, info.load.queue_depth) == (1, 1)
    call.cancel()
    await wait_until(lambda: scheduler.queue_depth == 0)  # before the engine is free again
    assert not hold.release.is_set()
    info = await worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert (info.load.live_streams, info.load.active_streams) == (0, 0)
    hold.release.set()
    assert await held == "held"


async def test_servicer_live_stream_cancelled_around_its_ack_frees_its_slot(
    start_worker: Callable[..., Any], request: pytest.FixtureRequest
) -> None:
    # The gateway may cancel as soon as the config is sent (a bad first audio frame): the
    # stream is then suspended at its ack, never resumed. Its slot must still be freed.
    worker: RunningWorker = await start_worker(lambda _s: FakeEngine())
    # Without the cyclic collector an abandoned handler is never finalized: the slot must be
    # freed by the cancellation itself, not by garbage collection some time later.
    gc.disable()
    request.addfinalizer(gc.enable)

    async def config_only() -> AsyncIterator[pb.StreamingTranscribeRequest]:
        yield config_request(mode=pb.TRANSCRIPTION_MODE_LIVE)
        await asyncio.Event().wait()  # never half-closes

    for delay_s in (0.0, 0.0, 0.001, 0.005, 0.02):
        call = worker.stub.StreamingTranscribe(config_only())
        await asyncio.sleep(delay_s)
        call.cancel()
    call = worker.stub.StreamingTranscribe(config_only())
    await call.read()  # the ack
    call.cancel()
    await wait_until(lambda: worker.server.servicer.active_streams == 0)
    info = await worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert (info.load.live_streams, info.load.active_streams) == (0, 0)


async def test_servicer_aged_connections_get_goaway_but_running_streams_finish(
    start_worker: Callable[..., Any],
) -> None:
    """`max_connection_age_s`: a connection older than that is told to go away (so DNS
    clients re-resolve), yet a live stream running across the age ends complete."""
    worker = await start_worker(lambda _settings: FakeEngine(), max_connection_age_s=0.5)
    call = worker.stub.StreamingTranscribe()
    await call.write(config_request(mode=pb.TRANSCRIPTION_MODE_LIVE))
    ack = await call.read()
    assert ack.progress.processed_audio_ms == 0
    for chunk in audio_requests(to_linear16(tone(1.5))):
        await call.write(chunk)
    await asyncio.sleep(1.0)  # past the age while the stream runs
    await call.done_writing()
    last = await call.read()
    while not last.HasField("summary"):
        last = await call.read()
    assert last.summary.duration_ms == 1500
    assert await call.code() == grpc.StatusCode.OK
    # A new call after the GOAWAY goes over a fresh connection and works.
    assert (await worker.transcribe([config_request(), *audio_requests(b"\x00\x00" * 1600)]))[
        -1
    ].summary.duration_ms == 100
