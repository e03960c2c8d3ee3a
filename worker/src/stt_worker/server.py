"""The worker process: gRPC server, health, model loading, graceful drain.

Start-up order: bind and start the server with health NOT_SERVING, announce the port,
load the one model off the event loop, warm it up, then report SERVING. Shutdown order:
health NOT_SERVING and new streams refused, running streams get `shutdown_grace_s` to
finish, the rest are cancelled, then the scheduler closes the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import grpc
import numpy as np
from grpc_health.v1 import health_pb2_grpc

from stt.v1 import transcriber_pb2_grpc as pb_grpc
from stt_worker.config import EngineSettings, WorkerSettings
from stt_worker.engines import create_engine
from stt_worker.engines.base import Engine
from stt_worker.errors import (
    ConfigurationError,
    EngineError,
    EngineUnavailableError,
    WorkerError,
)
from stt_worker.health import NOT_SERVING, SERVING, HealthServicer
from stt_worker.live_session import SpeechModels
from stt_worker.scheduler import Scheduler
from stt_worker.servicer import SERVICE_NAME, Runtime, TranscriberServicer
from stt_worker.types import SAMPLE_RATE_HERTZ, DecodeOptions

logger = logging.getLogger(__name__)

T = TypeVar("T")

EngineFactory = Callable[[EngineSettings], Engine]

_WARM_UP_SECONDS = 1

# A busy port must fail the bind (gRPC's default SO_REUSEPORT would let two workers share
# it silently), and the gateway may keep its channel alive with pings every 10 s or more,
# also while no call is open.
_SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.so_reuseport", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
)


def _server_options(settings: WorkerSettings) -> tuple[tuple[str, int], ...]:
    if settings.max_connection_age_s <= 0:
        return _SERVER_OPTIONS
    # No grace limit: a live session on an aged connection runs to its end.
    return (
        *_SERVER_OPTIONS,
        ("grpc.max_connection_age_ms", round(settings.max_connection_age_s * 1000)),
    )


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _warm_up(engine: Engine) -> int:
    """Decodes one second of silence, so the first request pays no start-up cost.

    A few tokens are enough to touch every path (features, language detection, encoder,
    decoder); on silence a multilingual model would otherwise repeat itself for the full
    224 tokens.
    """
    audio = np.zeros(SAMPLE_RATE_HERTZ * _WARM_UP_SECONDS, dtype=np.float32)
    options = DecodeOptions(vad_filter=False, temperatures=(0.0,), max_new_tokens=4)
    segments, _ = engine.transcribe_file(audio, options)
    return sum(1 for _ in segments)


def _load_engine(factory: EngineFactory, settings: EngineSettings) -> Engine:
    """Creates the engine and warms it up (in the loading thread; nothing else has the
    engine yet, and the warm-up does not count towards the scheduler's statistics).

    Raises:
        EngineUnavailableError: The backend's runtime cannot be imported.
        ConfigurationError: The engine cannot be created as configured.
        EngineError: The engine failed its warm-up.
    """
    try:
        engine = factory(settings)
    except ImportError as exc:
        # A backend imports its runtime when it is selected: a missing package (or a
        # native library it needs) is an install to fix, not a fault to retry.
        raise EngineUnavailableError(
            f"the {settings.backend} backend cannot import its runtime ({_one_line(exc)}): "
            "install it (pip install -r worker/requirements.lock, plus "
            "worker/requirements-openvino.lock for openvino) or use the worker image built "
            f"with BACKEND={settings.backend}"
        ) from exc
    if not settings.warm_up:
        return engine
    started = time.perf_counter()
    try:
        _warm_up(engine)
    except Exception as exc:
        engine.close()
        raise EngineError("the engine failed its warm-up") from exc
    logger.info(
        "model warmed up",
        extra={"latency_ms": round((time.perf_counter() - started) * 1000)},
    )
    return engine


async def _in_daemon_thread(fn: Callable[[], T]) -> T:
    """Runs `fn` in a daemon thread: a model load must not keep a stopping process alive."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def set_value(value: T) -> None:
        if not future.done():
            future.set_result(value)

    def set_error(error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)

    def run() -> None:
        # The loop may be gone when a load finishes after shutdown; nobody waits then.
        with contextlib.suppress(RuntimeError):
            try:
                value = fn()
            except BaseException as exc:
                loop.call_soon_threadsafe(set_error, exc)
            else:
                loop.call_soon_threadsafe(set_value, value)

    threading.Thread(target=run, name="stt-model-load", daemon=True).start()
    return await future


def format_address(host: str, port: int) -> str:
    """`host:port`, with IPv6 hosts in brackets.

    Args:
        host: The bound host.
        port: The bound port.

    Returns:
        The address.
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class WorkerServer:
    """One worker: a grpc.aio server with health and the transcriber service.

    Tests build it the same way production does, with a fake engine factory.

    Args:
        settings: The worker settings.
        engine_factory: Loads the engine (runs in a background thread).
        speech: How live streams hear speech; None: Silero (tests inject stand-ins).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        engine_factory: EngineFactory = create_engine,
        speech: SpeechModels | None = None,
    ) -> None:
        self._settings = settings
        self._engine_factory = engine_factory
        self._server = grpc.aio.server(options=_server_options(settings))
        self._health = HealthServicer(("", SERVICE_NAME))
        self.servicer = TranscriberServicer(settings, speech=speech)
        self._scheduler: Scheduler | None = None
        self._port: int | None = None
        self._stopped = False
        pb_grpc.add_TranscriberServiceServicer_to_server(self.servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)

    @property
    def port(self) -> int:
        """The bound port (after `start`)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def address(self) -> str:
        """`host:port` the server listens on (after `start`)."""
        return format_address(self._settings.host, self.port)

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler once the model is loaded."""
        return self._scheduler

    async def start(self) -> int:
        """Binds and starts serving health (NOT_SERVING until the model is loaded).

        Returns:
            The bound port.

        Raises:
            OSError: The address cannot be bound.
        """
        address = format_address(self._settings.host, self._settings.port)
        try:
            port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"cannot bind {address}: {exc}") from exc
        if port == 0:
            raise OSError(f"cannot bind {address}")
        self._port = port
        await self._health.set_all(NOT_SERVING)
        await self._server.start()
        logger.info("grpc server started", extra={"address": self.address})
        return port

    async def load(self) -> None:
        """Loads the model in a background thread, warms it up, then reports SERVING.

        Raises:
            WorkerError: The engine could not be created or failed its warm-up.
            Exception: Whatever else the engine factory raised.
        """
        settings = self._settings.engine
        started = time.perf_counter()
        logger.info("loading model", extra={"model": settings.model, "backend": settings.backend})
        engine = await _in_daemon_thread(lambda: _load_engine(self._engine_factory, settings))
        tuning = self._settings.scheduler
        scheduler = Scheduler(
            engine,
            max_queue=tuning.max_queue,
            max_batch=tuning.max_batch,
            batch_wait_s=tuning.batch_wait_ms / 1000,
            max_file_batch_with_live=(
                tuning.max_file_batch_with_live
                # A GPU decodes a batch in about the time of one window; a CPU does not.
                or (tuning.max_batch if engine.info.device == "cuda" else 1)
            ),
            max_file_delay_s=(
                None if tuning.max_file_delay_ms is None else tuning.max_file_delay_ms / 1000
            ),
        )
        self._scheduler = scheduler
        self.servicer.attach(Runtime(engine_info=engine.info, scheduler=scheduler))
        await self._health.set_all(SERVING)
        logger.info(
            "worker ready",
            extra={
                "model": engine.info.model_name,
                "backend": engine.info.backend,
                "device": engine.info.device,
                "compute_type": engine.info.compute_type,
                "cpu_threads": engine.info.cpu_threads,
                "latency_ms": round((time.perf_counter() - started) * 1000),
            },
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Drains and stops: NOT_SERVING, refuse new streams, wait, cancel, close.

        Args:
            grace_s: How long running streams may take; default from the settings.
        """
        if self._stopped:
            return
        self._stopped = True
        grace = self._settings.shutdown_grace_s if grace_s is None else grace_s
        active = self.servicer.active_streams
        logger.info("draining", extra={"active_streams": active, "grace_s": grace})
        self.servicer.start_draining()
        await self._health.shutdown()
        await self._server.stop(grace)
        if self._scheduler is not None:
            await self._scheduler.close()
        logger.info("stopped")


async def serve(
    settings: WorkerSettings,
    *,
    announce: Callable[[str, int], None],
    engine_factory: EngineFactory = create_engine,
) -> int:
    """Runs the worker until SIGTERM or SIGINT.

    Args:
        settings: The worker settings.
        announce: Called once with (address, port) after the server is bound.
        engine_factory: Loads the engine.

    Returns:
        The process exit code: 0 after a clean shutdown, 1 if start-up failed in a way that
        may pass (a busy port, out of memory, a failed warm-up).

    Raises:
        ConfigurationError: The model or its engine cannot be loaded as configured (raised
            once the server has stopped; `__main__` reports it and exits with EX_CONFIG).
    """
    worker = WorkerServer(settings, engine_factory=engine_factory)
    try:
        port = await worker.start()
    except OSError as exc:
        logger.error("cannot start the grpc server: %s", exc)
        return 1
    announce(worker.address, port)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    load = asyncio.create_task(worker.load())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({load, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if load.done() and load.exception() is not None:
        error = load.exception()
        stopping.cancel()
        if isinstance(error, ConfigurationError):
            await worker.stop(0)
            raise error  # the message says it all; `__main__` reports it
        logger.error("cannot load the model: %s", error, exc_info=error)
        await worker.stop(0)
        return 1
    await stopping
    if not load.done():
        logger.info("stopping while the model is still loading")
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError, WorkerError):
            await load
    await worker.stop()
    return 0
