"""Legacy /transcribe shape, /health semantics, and surviving a worker that dies."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import TINY_EN, Gateway, Worker, health_status, wait_for
from .speech import AUDIO_DIR, clip, wer

JFK = AUDIO_DIR / "jfk.wav"
LONG = AUDIO_DIR / "longform" / "ljspeech_LJ001-0001_0025_concat.flac"


def legacy(gateway: Gateway, path: Path, **data: str) -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(
            f"{gateway.base_url}/transcribe",
            files={"file": (path.name, handle, "application/octet-stream")},
            data=data,
            timeout=300,
        )


def test_legacy_transcribe_has_exactly_the_legacy_keys(tiny_gateway: Gateway) -> None:
    response = legacy(tiny_gateway, JFK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "segments", "info", "filename"}
    assert body["success"] is True and body["filename"] == "jfk.wav"
    assert body["segments"]
    for seg in body["segments"]:
        assert set(seg) == {"start", "end", "text", "no_speech_prob"}
        assert 0 <= seg["start"] < seg["end"] <= 11.05
    info = body["info"]
    assert set(info) == {
        "language",
        "language_probability",
        "duration",
        "duration_after_vad",
        "transcription_options",
    }
    assert info["language"] == "en"
    assert info["duration"] == pytest.approx(11.0, abs=0.1)
    assert 0 < info["duration_after_vad"] <= info["duration"] + 0.01
    assert (
        isinstance(info["transcription_options"], dict)
        and info["transcription_options"]["beam_size"] == 5
    )
    assert wer([clip("jfk.wav").text], [" ".join(s["text"] for s in body["segments"])]) <= 0.1


def test_legacy_errors_have_the_legacy_shape(tiny_gateway: Gateway) -> None:
    response = httpx.post(
        f"{tiny_gateway.base_url}/transcribe", data={"task": "transcribe"}, timeout=30
    )
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]


def test_health_shape_and_the_worker_load(tiny_gateway: Gateway) -> None:
    assert wait_for(
        lambda: "load" in httpx.get(f"{tiny_gateway.base_url}/health", timeout=5).json(), 10
    )
    response = httpx.get(f"{tiny_gateway.base_url}/health", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body.pop("status") == "healthy"
    assert body.pop("service") == "WhisperLive Hybrid Server"
    load = body.pop("load")
    assert body == {}
    # The real worker's load, as GetWorkerInfo reports it (refreshed every 2 s).
    assert load["max_streams"] == 32 and load["max_queue_depth"] == 64
    assert load["max_live_cycle_ms"] == 1700  # live admission by measured cycle, by default
    assert set(load) == {
        "active_streams",
        "max_streams",
        "live_streams",
        "queue_depth",
        "max_queue_depth",
        "real_time_factor",
        "live_cycle_ms",
        "max_live_cycle_ms",
        "file_backlog_ms",
        "mean_batch_size",
        "age_ms",
    }
    assert 0 <= load["age_ms"] < 10_000


def test_spawned_worker_is_restarted_when_it_dies(tiny_gateway: Gateway) -> None:
    assert tiny_gateway.process is not None
    children = subprocess.run(
        ["pgrep", "-P", str(tiny_gateway.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert children, "the gateway should have spawned a worker"
    for pid in children:
        subprocess.run(["kill", "-9", pid], check=False)
    assert wait_for(lambda: health_status(tiny_gateway.base_url) == 503, 15), "health must drop"
    assert wait_for(lambda: health_status(tiny_gateway.base_url) == 200, 90), (
        tiny_gateway.log_tail()
    )
    assert legacy(tiny_gateway, JFK).status_code == 200


@pytest.fixture
def external(tmp_path: Path) -> tuple[Gateway, Worker]:
    worker = Worker(log_path=tmp_path / "worker.log", model_dir=TINY_EN)
    gateway = Gateway(
        log_path=tmp_path / "gateway.log",
        tmp_dir=tmp_path / "uploads",
        model_dir=TINY_EN,
        worker_address=worker.address,
    )
    yield gateway, worker
    gateway.stop()
    worker.stop()


def test_health_follows_an_external_worker_and_in_flight_requests_get_503(
    external: tuple[Gateway, Worker],
) -> None:
    gateway, worker = external
    gateway.start()
    # No worker yet: the gateway is up but must not claim health.
    assert wait_for(lambda: health_status(gateway.base_url) == 503, 30), gateway.log_tail()
    body = httpx.get(f"{gateway.base_url}/health", timeout=5).json()
    assert (
        body["status"] == "unhealthy"
        and body["service"] == "WhisperLive Hybrid Server"
        and body["reason"]
    )
    early = legacy(gateway, JFK)
    assert early.status_code == 503 and early.headers.get("retry-after")

    worker.start()
    assert wait_for(lambda: health_status(gateway.base_url) == 200, 90), worker.log_path.read_text()

    # A long request is in flight when the worker dies: it gets a clear 503, not a hang.
    outcome: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("r", legacy(gateway, LONG)))
    thread.start()
    time.sleep(3)
    assert thread.is_alive(), "the long request finished too early to test a crash"
    assert worker.process is not None
    worker.process.send_signal(signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive(), "in-flight request hung after the worker died"
    failed = outcome["r"]
    assert failed.status_code == 503, failed.text
    assert failed.json()["success"] is False
    assert wait_for(lambda: health_status(gateway.base_url) == 503, 15)
    assert gateway.process is not None and gateway.process.poll() is None

    # A worker is back on the same address: the gateway recovers by itself.
    worker.process = None
    worker.start()
    assert wait_for(lambda: health_status(gateway.base_url) == 200, 90), gateway.log_tail()
    assert legacy(gateway, JFK).status_code == 200
    assert gateway.temp_files() == []
