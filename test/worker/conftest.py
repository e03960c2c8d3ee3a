"""Shared fixtures of the worker tests: an in-process worker and the real test model.

Each test builds its worker through the same `WorkerServer` the process uses, with a
fake or a real engine factory injected (no monkeypatching).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc

from stt.v1 import transcriber_pb2_grpc as pb_grpc
from stt_worker.config import EngineSettings
from stt_worker.engines.base import Engine
from stt_worker.engines.fake import FakeEngine
from stt_worker.engines.faster_whisper import FasterWhisperEngine
from stt_worker.live_session import SpeechModels
from stt_worker.server import WorkerServer
from stt_worker.types import (
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    WindowDecode,
    WindowInput,
)
from worker_testing import SEQUENTIAL_FILES, TINY_EN, RunningWorker, make_settings

EngineFactory = Callable[[EngineSettings], Engine]


@pytest.fixture
async def start_worker() -> AsyncIterator[Callable[..., Any]]:
    """Starts in-process workers; each is stopped at the end of the test.

    Call it as `await start_worker(engine_factory, load=True, speech=None, **settings)`.
    """
    started: list[RunningWorker] = []

    async def start(
        engine_factory: EngineFactory,
        *,
        load: bool = True,
        speech: SpeechModels | None = None,
        **overrides: object,
    ) -> RunningWorker:
        server = WorkerServer(
            make_settings(**overrides), engine_factory=engine_factory, speech=speech
        )
        port = await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        worker = RunningWorker(
            server=server,
            channel=channel,
            stub=pb_grpc.TranscriberServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            sync_channel=grpc.insecure_channel(f"127.0.0.1:{port}"),
        )
        started.append(worker)
        if load:
            await server.load()
        return worker

    yield start
    for worker in started:
        await worker.channel.close()
        worker.sync_channel.close()
        await worker.server.stop(0)


@pytest.fixture
def gate() -> Iterator[Callable[[FakeEngine], threading.Event]]:
    """Holds fake engines: `gate(engine)` makes each further decode step of `engine` wait
    until the returned event is set. Every gate is released when the test ends, so a
    failing test cannot leave the engine thread blocked."""
    events: list[threading.Event] = []

    def hold(engine: FakeEngine) -> threading.Event:
        event = threading.Event()
        engine.gate = event
        events.append(event)
        return event

    yield hold
    for event in events:
        event.set()


@pytest.fixture
def fake_engine() -> FakeEngine:
    """A fresh deterministic engine."""
    return FakeEngine(model_name="fake-model")


@pytest.fixture
async def fake_worker(start_worker: Callable[..., Any], fake_engine: FakeEngine) -> RunningWorker:
    """A loaded in-process worker serving the fake engine."""
    worker: RunningWorker = await start_worker(lambda _settings: fake_engine, file=SEQUENTIAL_FILES)
    return worker


@pytest.fixture(scope="session")
def tiny_en_dir() -> Path:
    """The real tiny.en model directory (skips when the test models are not installed)."""
    if not (TINY_EN / "model.bin").is_file():
        pytest.skip(f"real test model missing at {TINY_EN}: run `make test-models`")
    return TINY_EN


class KeepOpen:
    """Shares one loaded engine between tests: closing a worker does not unload it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.batch_sizes: list[int] = []
        """Windows of every `decode_batch` call, in order."""

    @property
    def info(self) -> EngineInfo:
        return self._engine.info

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        return self._engine.transcribe_file(audio, options)

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        self.batch_sizes.append(len(windows))
        return self._engine.decode_batch(windows)

    def close(self) -> None:
        """Left open for the next test."""


@pytest.fixture(scope="session")
def tiny_en(tiny_en_dir: Path) -> Iterator[FasterWhisperEngine]:
    engine = FasterWhisperEngine.load(EngineSettings(model=str(tiny_en_dir), cpu_threads=2))
    yield engine
    engine.close()


@pytest.fixture
async def tiny_worker(
    start_worker: Callable[..., Any], tiny_en: FasterWhisperEngine
) -> RunningWorker:
    shared = KeepOpen(tiny_en)
    worker: RunningWorker = await start_worker(lambda _settings: shared, engine={"warm_up": False})
    worker.engine = shared
    return worker
