"""`python -m stt_worker` as a real process: the listening line, health, SIGTERM, exit 0.

Configuration errors (exit 78) are in test_configuration_errors.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stt.v1 import transcriber_pb2 as pb
from stt.v1 import transcriber_pb2_grpc as pb_grpc
from worker_testing import worker_env

pytestmark = pytest.mark.slow


def spawn(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stt_worker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=worker_env(**env),
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes started by a test; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def wait_serving(port: int, timeout_s: float) -> int:
    """Polls the standard health check until SERVING; returns the last status seen."""
    deadline = time.monotonic() + timeout_s
    status = -1
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                response = stub.Check(
                    health_pb2.HealthCheckRequest(service="stt.v1.TranscriberService"), timeout=2
                )
                status = response.status
            except grpc.RpcError:
                status = -1
            if status == health_pb2.HealthCheckResponse.SERVING:
                break
            time.sleep(0.05)
    return status


def test_main_help_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stt_worker", "--help"],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    for flag in ("--host", "--port", "--model", "--backend", "--log-level"):
        assert flag in result.stdout


def test_main_serves_real_model_and_stops_on_sigterm(
    tiny_en_dir: Path, processes: list[subprocess.Popen[str]]
) -> None:
    process = spawn("--port", "0", "--model", str(tiny_en_dir), OMP_NUM_THREADS="2")
    processes.append(process)
    assert process.stdout is not None
    line = process.stdout.readline()
    announced = json.loads(line)
    assert set(announced) == {"event", "address", "port"}
    assert announced["event"] == "listening"
    port = announced["port"]
    assert isinstance(port, int)
    assert port > 0
    assert announced["address"] == f"127.0.0.1:{port}"

    assert wait_serving(port, timeout_s=30) == health_pb2.HealthCheckResponse.SERVING
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        info = pb_grpc.TranscriberServiceStub(channel).GetWorkerInfo(
            pb.GetWorkerInfoRequest(), timeout=5
        )
    assert info.model.name == "tiny.en"
    assert info.backend == "faster_whisper"
    assert info.cpu_threads == 2  # from the legacy OMP_NUM_THREADS

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5.0
    assert process.stdout.read() == ""  # exactly one line on stdout

    assert process.stderr is not None
    logs = [json.loads(raw) for raw in process.stderr.read().splitlines() if raw.strip()]
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in logs)
    loaded = [entry for entry in logs if entry["msg"] == "model loaded"]
    assert len(loaded) == 1
    assert loaded[0]["model"] == "tiny.en"
    assert loaded[0]["device"] == "cpu"
    assert loaded[0]["cpu_threads"] == 2
    assert "load_s" in loaded[0]
    assert any(entry["msg"] == "stopped" for entry in logs)


def test_main_fake_backend_env_and_sigint(processes: list[subprocess.Popen[str]]) -> None:
    process = spawn(WORKER_PORT="0", WORKER_ENGINE__BACKEND="fake", WORKER_LOG_LEVEL="debug")
    processes.append(process)
    assert process.stdout is not None
    port = json.loads(process.stdout.readline())["port"]
    assert wait_serving(port, timeout_s=30) == health_pb2.HealthCheckResponse.SERVING
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
