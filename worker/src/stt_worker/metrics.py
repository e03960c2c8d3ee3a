"""The worker's Prometheus metrics and their HTTP exporter.

One registry holds every metric; the scheduler, the servicer and admission control call
the small functions below where their events happen, and `watch` hands over the readings
that are taken at scrape time (capacity, queue depth, real-time factor), so a scrape
always sees the current state. The exporter runs only when `WORKER_METRICS_PORT` is set:
several local workers (one per gateway) on one host would otherwise collide.

Names: the `stt_worker_` prefix, base units, `_total` counters; labels take only the
values listed in the README. `stt_worker_streams_active` and `stt_worker_streams_capacity`
are fixed names: a KEDA ScaledObject scales on their sums.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Literal
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)

from stt_worker.types import EngineInfo

StreamKind = Literal["live", "file"]
"""A stream's (and an engine job's) kind; a label value."""

# `_created` series double every counter for no use on a dashboard.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated upstream

REGISTRY = CollectorRegistry()
"""Every worker metric, and the process's CPU, memory and descriptors."""

ProcessCollector(registry=REGISTRY)

_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)

STREAMS_ACTIVE = Gauge(
    "stt_worker_streams_active",
    "Streams being served now, by kind (live or file).",
    ["kind"],
    registry=REGISTRY,
)
STREAMS_CAPACITY = Gauge(
    "stt_worker_streams_capacity",
    "Live streams this worker can serve within its live latency bound, as admission "
    "control last measured it (before any measurement: the streams it admits unmeasured).",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "stt_worker_queue_depth",
    "Engine jobs waiting in the scheduler's queue.",
    registry=REGISTRY,
)
QUEUE_WAIT = Histogram(
    "stt_worker_queue_wait_seconds",
    "Time an engine job waited in the queue before the engine took it, by kind.",
    ["kind"],
    buckets=_SECONDS_BUCKETS,
    registry=REGISTRY,
)
INFERENCE = Histogram(
    "stt_worker_inference_seconds",
    "Duration of one engine call (a batch of windows, or a file's preparation), by kind.",
    ["kind"],
    buckets=_SECONDS_BUCKETS,
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "stt_worker_batch_size",
    "Windows decoded in one engine call, by kind.",
    ["kind"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
    registry=REGISTRY,
)
AUDIO = Counter(
    "stt_worker_audio_seconds",
    "Seconds of audio in streams served to the end, by kind.",
    ["kind"],
    registry=REGISTRY,
)
REAL_TIME_FACTOR = Gauge(
    "stt_worker_real_time_factor",
    "Recent seconds of engine compute per second of audio (0 before any audio).",
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "stt_worker_rejections",
    "Streams refused or failed, by gRPC status code (RESOURCE_EXHAUSTED: at capacity).",
    ["reason"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "stt_worker_build_info",
    "Always 1; the labels say which model and engine this worker serves.",
    ["version", "model", "backend", "device", "compute_type"],
    registry=REGISTRY,
)

# The kinds a dashboard shows read 0 rather than no data before the first stream.
for _kind in ("live", "file"):
    STREAMS_ACTIVE.labels(_kind)
    AUDIO.labels(_kind)


def stream_active(kind: StreamKind) -> contextlib.AbstractContextManager[None]:
    """Counts a stream in `stt_worker_streams_active` while the block runs."""
    return _track(STREAMS_ACTIVE.labels(kind))


@contextlib.contextmanager
def _track(gauge: Gauge) -> Iterator[None]:
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def engine_call_started(kind: StreamKind, waits_s: Sequence[float]) -> None:
    """The engine took a job or a batch; `waits_s` are its jobs' times in the queue."""
    histogram = QUEUE_WAIT.labels(kind)
    for wait in waits_s:
        histogram.observe(max(0.0, wait))


def engine_call_done(kind: StreamKind, compute_s: float, windows: int | None) -> None:
    """An engine call returned after `compute_s`; `windows` is its batch size (None for
    a job that is no window decode)."""
    INFERENCE.labels(kind).observe(compute_s)
    if windows is not None:
        BATCH_SIZE.labels(kind).observe(windows)


def audio_processed(kind: StreamKind, seconds: float) -> None:
    """A stream was served to the end with `seconds` of audio."""
    if seconds > 0:
        AUDIO.labels(kind).inc(seconds)


def rejected(reason: str) -> None:
    """A stream ended with the gRPC status `reason` (a `grpc.StatusCode` name)."""
    REJECTIONS.labels(reason).inc()


def watch(
    *,
    capacity: Callable[[], float],
    queue_depth: Callable[[], float],
    real_time_factor: Callable[[], float],
) -> None:
    """Sets the readings taken at scrape time (the last call wins)."""
    STREAMS_CAPACITY.set_function(capacity)
    QUEUE_DEPTH.set_function(queue_depth)
    REAL_TIME_FACTOR.set_function(real_time_factor)


def set_build_info(info: EngineInfo, version: str) -> None:
    """Describes the loaded engine in `stt_worker_build_info`."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(
        version=version,
        model=info.model_name,
        backend=info.backend,
        device=info.device,
        compute_type=info.compute_type,
    ).set(1)


def start_exporter(host: str, port: int) -> WSGIServer:
    """Serves the metrics at `http://host:port/metrics` from a daemon thread.

    Args:
        host: Interface to bind.
        port: TCP port (0 picks a free one; the settings treat 0 as "off" before this).

    Returns:
        The server; `shutdown()` stops it.

    Raises:
        OSError: The port cannot be bound (in use, or not allowed); the message names it.
    """
    try:
        server, _thread = prometheus_client.start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot serve metrics on {host}:{port} (WORKER_METRICS_PORT): {exc.strerror or exc}",
        ) from exc
    return server
