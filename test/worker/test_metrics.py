"""Prometheus metrics: the exporter, what the servicer and scheduler record, and the
request id on every log line about a stream."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stt.v1 import transcriber_pb2 as pb
from stt_worker import __version__, metrics
from stt_worker.logs import JsonFormatter, RequestIdFilter
from worker_testing import (
    REPO,
    RunningWorker,
    audio_requests,
    config_request,
    expect_status,
    to_linear16,
    tone,
)

# Every metric the worker exports, with its type and labels, as the README documents.
DOCUMENTED = {
    "stt_worker_streams_active": ("gauge", {"kind"}),
    "stt_worker_streams_capacity": ("gauge", set()),
    "stt_worker_queue_depth": ("gauge", set()),
    "stt_worker_queue_wait_seconds": ("histogram", {"kind"}),
    "stt_worker_inference_seconds": ("histogram", {"kind"}),
    "stt_worker_batch_size": ("histogram", {"kind"}),
    "stt_worker_audio_seconds": ("counter", {"kind"}),
    "stt_worker_real_time_factor": ("gauge", set()),
    "stt_worker_rejections": ("counter", {"reason"}),
    "stt_worker_build_info": (
        "gauge",
        {"version", "model", "backend", "device", "compute_type"},
    ),
}


def value(name: str, **labels: str) -> float:
    """A sample's current value; 0 when it does not exist yet."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def exporter() -> Iterator[str]:
    """The exporter on a free port; yields its /metrics URL."""
    server = metrics.start_exporter("127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(response.read().decode("utf-8"))


async def test_metrics_endpoint_serves_the_documented_metrics_with_help(exporter: str) -> None:
    families = {
        f.name: f for f in text_string_to_metric_families(await asyncio.to_thread(scrape, exporter))
    }
    ours = {name for name in families if name.startswith("stt_worker_")}
    assert ours == set(DOCUMENTED)
    for name, (kind, labels) in DOCUMENTED.items():
        family = families[name]
        assert family.type == kind, name
        assert len(family.documentation) > 10, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    assert "process_resident_memory_bytes" in families
    # No `_created` series: they double every counter and no dashboard reads them.
    assert not any(s.name.endswith("_created") for f in families.values() for s in f.samples)


def test_metrics_exporter_names_the_setting_when_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"127\.0\.0\.1:{port} \(WORKER_METRICS_PORT\)"):
            metrics.start_exporter("127.0.0.1", port)


def test_worker_exits_at_start_when_the_metrics_port_is_taken() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKER_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env.update(
            PYTHONPATH=str(REPO / "worker" / "src"),
            WORKER_ENGINE__BACKEND="fake",
            WORKER_METRICS_PORT=str(port),
        )
        result = subprocess.run(
            [sys.executable, "-m", "stt_worker", "--host", "127.0.0.1", "--port", "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""  # no listening line: the gateway never uses this worker
    errors = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert [e["msg"] for e in errors if e["level"] == "error"] == [
        f"cannot serve metrics on 127.0.0.1:{port} (WORKER_METRICS_PORT): Address already in use"
    ]


async def test_metrics_move_with_a_file_stream(fake_worker: RunningWorker) -> None:
    audio = np.concatenate([tone(2.0), np.zeros(16_000, np.float32)])
    before = {
        "audio": value("stt_worker_audio_seconds_total", kind="file"),
        "waits": value("stt_worker_queue_wait_seconds_count", kind="file"),
        "calls": value("stt_worker_inference_seconds_count", kind="file"),
    }
    await fake_worker.transcribe([config_request(), *audio_requests(to_linear16(audio))])

    assert value("stt_worker_audio_seconds_total", kind="file") - before["audio"] == 3.0
    assert value("stt_worker_queue_wait_seconds_count", kind="file") > before["waits"]
    assert value("stt_worker_inference_seconds_count", kind="file") > before["calls"]
    assert value("stt_worker_streams_active", kind="file") == 0
    assert value("stt_worker_queue_depth") == 0
    assert value("stt_worker_real_time_factor") > 0
    assert (
        value(
            "stt_worker_build_info",
            version=__version__,
            model="fake-model",
            backend="fake",
            device="cpu",
            compute_type="float32",
        )
        == 1
    )


async def test_metrics_move_with_a_live_stream(fake_worker: RunningWorker) -> None:
    before_audio = value("stt_worker_audio_seconds_total", kind="live")
    before_batches = value("stt_worker_batch_size_count", kind="live")
    live = config_request(mode=pb.TRANSCRIPTION_MODE_LIVE, interim_results=True)
    await fake_worker.transcribe([live, *audio_requests(to_linear16(tone(2.0)), 3_200)])

    assert value("stt_worker_audio_seconds_total", kind="live") - before_audio == 2.0
    assert value("stt_worker_batch_size_count", kind="live") > before_batches
    assert value("stt_worker_streams_active", kind="live") == 0
    # A lone stream is always admitted, and the default stream cap bounds the capacity.
    assert 1 <= value("stt_worker_streams_capacity") <= 32


async def test_metrics_count_refused_streams_by_status_code(fake_worker: RunningWorker) -> None:
    before = value("stt_worker_rejections_total", reason="INVALID_ARGUMENT")
    await expect_status(
        fake_worker,
        [config_request(sample_rate_hertz=8000), *audio_requests(b"\0" * 3200)],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert value("stt_worker_rejections_total", reason="INVALID_ARGUMENT") - before == 1


class _Lines(logging.Handler):
    """Keeps every record as the JSON line the worker would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_every_log_line_about_a_stream_carries_its_request_id(
    fake_worker: RunningWorker,
) -> None:
    handler = _Lines()
    worker_logger = logging.getLogger("stt_worker")
    level = worker_logger.level
    worker_logger.addHandler(handler)
    worker_logger.setLevel(logging.DEBUG)
    try:
        live = config_request(mode=pb.TRANSCRIPTION_MODE_LIVE, interim_results=True)
        await fake_worker.transcribe(
            [live, *audio_requests(to_linear16(tone(1.5)), 3_200)],
            metadata=(("x-request-id", "req-live-7"),),
        )
        await fake_worker.transcribe(
            [config_request(), *audio_requests(to_linear16(tone(1.0)))],
            metadata=(("x-request-id", "req-file-8"),),
        )
    finally:
        worker_logger.removeHandler(handler)
        worker_logger.setLevel(level)

    about_streams = [
        line
        for line in handler.lines
        if line["logger"] in {"stt_worker.servicer", "stt_worker.live_session"}
    ]
    messages = [line["msg"] for line in about_streams]
    assert "live stream done" in messages
    assert "file stream done" in messages
    ids = [line.get("request_id") for line in about_streams]
    assert set(ids) == {"req-live-7", "req-file-8"}, about_streams
    live_done = next(line for line in about_streams if line["msg"] == "live stream done")
    assert live_done["request_id"] == "req-live-7"
    # A batch belongs to no one stream: its lines carry no stream's id.
    batches = [line for line in handler.lines if line["msg"] == "decoded a batch"]
    assert batches
    assert all("request_id" not in line for line in batches)


def test_dashboard_queries_only_metrics_the_worker_exports() -> None:
    path = Path(REPO) / "deploy/monitoring/grafana/dashboards/whisperlive-hybrid.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {
        re.sub(r"_(bucket|sum|count|total)$", "", name)
        for expr in exprs
        for name in re.findall(r"\bstt_worker_[a-z_]+", expr)
    }
    assert used, "the dashboard shows no worker metric"
    assert used <= set(DOCUMENTED)
