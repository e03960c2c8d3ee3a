"""Helpers of the worker tests: paths, settings, audio, request builders, a worker handle."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jiwer
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stt.v1 import transcriber_pb2 as pb
from stt.v1 import transcriber_pb2_grpc as pb_grpc
from stt_worker.config import WorkerSettings
from stt_worker.engines.base import Engine
from stt_worker.engines.fake import FakeEngine
from stt_worker.live_session import SpeechModels
from stt_worker.server import WorkerServer
from stt_worker.types import FloatArray

REPO = Path(__file__).resolve().parents[2]
AUDIO_DIR = (REPO.parent / "shared" / "audio").resolve()
MODELS_DIR = Path(
    os.environ.get("STT_TEST_MODELS_DIR", Path.home() / ".cache" / "whisperlive-hybrid" / "models")
).expanduser()
TINY_EN = MODELS_DIR / "tiny.en"
RATE = 16_000


def worker_env(**extra: str) -> dict[str, str]:
    """The test's environment without WORKER_* or legacy settings, plus `extra`, for a
    `python -m stt_worker` process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WORKER_") and k not in ("FASTERWHISPER_MODEL", "OMP_NUM_THREADS")
    }
    env["PYTHONPATH"] = str(REPO / "worker" / "src")
    env.update(extra)
    return env


def reference_text(relative_path: str) -> str:
    """The reference transcript of a clip of ../shared/audio from its manifest."""
    for line in (AUDIO_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["path"] == relative_path:
            return str(entry["text"])
    raise KeyError(relative_path)


SEQUENTIAL_FILES = {"chunked": False}
"""File settings for workers on the fake engine: its tones are speech to it but not to
Silero VAD, which cuts files into chunks, so files take the sequential path."""


def make_settings(**overrides: object) -> WorkerSettings:
    """Settings for an in-process worker on a free port, independent of the environment."""
    values: dict[str, object] = {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 2.0}
    values.update(overrides)
    return WorkerSettings(**values)


def tone(seconds: float, amplitude: float = 0.3, hertz: float = 220.0) -> np.ndarray:
    """A sine tone (the fake engine hears it as speech)."""
    t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
    return (amplitude * np.sin(2 * np.pi * hertz * t)).astype(np.float32)


LOUD = 0.01
"""Peak amplitude the fake engine and the loud stand-ins below hear as speech."""


class LoudDetector:
    """A `SpeechDetector` that hears loud samples as speech (Silero hears no speech in
    the fake engine's tones); regions split at 0.3 s of quiet, like the live default."""

    def speech_regions(self, audio: np.ndarray, threshold: float) -> list[tuple[float, float]]:
        del threshold
        loud = np.flatnonzero(np.abs(audio) >= LOUD)
        if loud.size == 0:
            return []
        breaks = np.flatnonzero(np.diff(loud) > 0.3 * RATE)
        starts = [loud[0], *loud[breaks + 1]]
        ends = [*loud[breaks], loud[-1]]
        return [(a / RATE, (b + 1) / RATE) for a, b in zip(starts, ends, strict=True)]


class LoudScorer:
    """A `SpeechScorer` on Silero's 32 ms frames: 1 for a frame with a loud sample, else 0."""

    frame_samples = 512

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)

    def score(self, audio: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self._pending, audio])
        whole = joined.size - joined.size % self.frame_samples
        self._pending = joined[whole:]
        peaks = np.abs(joined[:whole].reshape(-1, self.frame_samples)).max(axis=1, initial=0.0)
        return (peaks >= LOUD).astype(np.float32)


LOUD_SPEECH = SpeechModels(detector=LoudDetector(), scorer=LoudScorer)
"""Live streams that hear the fake engine's tones as speech."""


def to_linear16(audio: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to s16le bytes."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def config_request(**fields: object) -> pb.StreamingTranscribeRequest:
    """A config message with a valid format unless overridden."""
    values: dict[str, Any] = {
        "encoding": pb.AUDIO_ENCODING_LINEAR16,
        "sample_rate_hertz": RATE,
        "mode": pb.TRANSCRIPTION_MODE_FILE,
    }
    values.update(fields)
    return pb.StreamingTranscribeRequest(config=pb.StreamingTranscribeConfig(**values))


def audio_requests(data: bytes, chunk_bytes: int = 32_000) -> list[pb.StreamingTranscribeRequest]:
    """Audio bytes cut into request messages."""
    return [
        pb.StreamingTranscribeRequest(audio=data[i : i + chunk_bytes])
        for i in range(0, len(data), chunk_bytes)
    ]


@dataclass
class RunningWorker:
    """An in-process worker and client stubs connected to it.

    `transcribe` uses the synchronous client in a thread: grpc.aio's client can report
    INTERNAL instead of the server's status when a write races the server ending the
    call (grpc/grpc#36066); the synchronous client reports the server's status.
    """

    server: WorkerServer
    channel: grpc.aio.Channel
    stub: pb_grpc.TranscriberServiceStub
    health: health_pb2_grpc.HealthStub
    sync_channel: grpc.Channel
    engine: Any = None
    """The engine the test handed in, when it wants to look at it afterwards."""

    async def transcribe(
        self,
        requests: Iterable[pb.StreamingTranscribeRequest],
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> list[pb.StreamingTranscribeResponse]:
        """Sends the requests, half-closes and collects every response after the ack (the
        first response, checked to be one).

        Raises:
            grpc.RpcError: The call ended with a status other than OK.
        """
        stub = pb_grpc.TranscriberServiceStub(self.sync_channel)
        messages = list(requests)

        def call() -> list[pb.StreamingTranscribeResponse]:
            return list(stub.StreamingTranscribe(iter(messages), metadata=metadata, timeout=30))

        ack, *responses = await asyncio.to_thread(call)
        assert_ack(ack)
        return responses

    async def health_status(self, service: str = "") -> int:
        """The health status the server reports for `service`."""
        response = await self.health.Check(health_pb2.HealthCheckRequest(service=service))
        return int(response.status)


async def start_slow_loading_worker(
    start_worker: Callable[..., Any],
) -> tuple[RunningWorker, asyncio.Task[None], threading.Event]:
    """A worker whose model load blocks until the returned event is set, already loading:
    (worker, the load task, the event)."""
    release = threading.Event()

    def slow_factory(_settings: object) -> FakeEngine:
        release.wait(10)
        return FakeEngine(model_name="slow")

    worker: RunningWorker = await start_worker(slow_factory, load=False, file=SEQUENTIAL_FILES)
    return worker, asyncio.create_task(worker.server.load()), release


def assert_ack(response: pb.StreamingTranscribeResponse) -> None:
    """The worker's first response on every stream: progress only, nothing processed."""
    assert not response.results and not response.HasField("summary"), response
    assert response.HasField("progress") and response.progress.processed_audio_ms == 0, response


def normalize(text: str) -> str:
    """Lowercase, punctuation removed, spaces collapsed."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def load_audio(relative_path: str) -> FloatArray:
    from faster_whisper import decode_audio

    audio: FloatArray = decode_audio(str(AUDIO_DIR / relative_path), sampling_rate=16_000)
    return audio


class FakeClock:
    """Monotonic time that only moves when a test (or a job) moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Hold:
    """A job that occupies the engine thread until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, engine: Engine) -> str:
        del engine
        self.started.set()
        self.release.wait(10)
        return "held"

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10)


async def expect_status(
    worker: RunningWorker, requests: list[pb.StreamingTranscribeRequest], code: grpc.StatusCode
) -> grpc.Call:
    """Runs a stream that must fail with `code`; returns the failed call."""
    with pytest.raises(grpc.RpcError) as raised:
        await worker.transcribe(requests)
    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() == code, error.details()
    return error
