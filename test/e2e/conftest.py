"""End-to-end fixtures: the real gateway (Node) and the real worker (Python, real model).

Every server here is a pair of real processes started the way `make run` starts them
(`node dist/gateway/main.js`, which spawns `python -m stt_worker`), or a gateway connected
to a worker that the test starts and kills itself. Models come from the pinned PyPI test
packages assembled by scripts/install_test_models.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from faster_whisper import WhisperModel

from .speech import REPO

MODELS_DIR = Path(
    os.environ.get("STT_TEST_MODELS_DIR", Path.home() / ".cache" / "whisperlive-hybrid" / "models")
)
TINY_EN = MODELS_DIR / "tiny.en"
BASE = MODELS_DIR / "base"
# The same weights as OpenVINO IR (../shared/models/README.md), for the openvino backend.
OPENVINO_MODELS_DIR = (REPO.parent / "shared" / "models").resolve()
OPENVINO_TINY_EN = OPENVINO_MODELS_DIR / "openvino-tiny.en"
OPENVINO_BASE = OPENVINO_MODELS_DIR / "openvino-base"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
GATEWAY_MAIN = REPO / "dist" / "gateway" / "main.js"
THREADS = "2"

# Metrics recorded by tests and printed at the end of the run (name -> formatted value).
METRICS: dict[str, str] = {}


def record_metric(name: str, value: str) -> None:
    """Keep a measured number for the end-of-run summary."""
    METRICS[name] = value


def record_latency(name: str, latencies: list[float]) -> float:
    """Keep committed-latency p50 / p95 of a live stream under `name`; returns the p95."""
    ordered = sorted(latencies)
    p50 = float(np.percentile(ordered, 50))
    p95 = float(np.percentile(ordered, 95))
    record_metric(name, f"{p50:.2f} s / {p95:.2f} s")
    return p95


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if METRICS:
        terminalreporter.section("measured")
        for name, value in METRICS.items():
            terminalreporter.write_line(f"{name}: {value}")


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1, and not given before by this
    process: the kernel may hand out a port just released again at once, and a gateway given
    the same port for HTTP and WebSocket cannot start."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def wait_for(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll until predicate() is truthy or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval_s)
    return False


def health_status(base_url: str) -> int:
    return httpx.get(f"{base_url}/health", timeout=5).status_code


@dataclass
class Gateway:
    """A running gateway process (and, unless worker_address is set, its own worker)."""

    log_path: Path
    tmp_dir: Path
    model_dir: Path
    worker_address: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_bench(
        cls, tmp: Path, model_dir: Path, threads: int, backend: str = "faster_whisper"
    ) -> Gateway:
        """A started gateway (and worker) as the benchmarks run it: logs and uploads in
        `tmp`, `threads` engine threads, warnings only, the model on `backend`. Call
        `wait_healthy` before use."""
        gateway = cls(
            log_path=tmp / f"gateway-{backend}.log",
            tmp_dir=tmp / "uploads",
            model_dir=model_dir,
            extra_env={
                "OMP_NUM_THREADS": str(threads),
                "LOG_LEVEL": "warn",
                "WORKER_ENGINE__BACKEND": backend,
                "WORKER_ENGINE__MODEL": str(model_dir),
            },
        )
        gateway.start()
        return gateway

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "HTTP_PORT": str(self.http_port),
            "PORT_WHISPERLIVE": str(self.ws_port),
            "GATEWAY_HOST": "127.0.0.1",
            "FASTERWHISPER_MODEL": str(self.model_dir),
            "OMP_NUM_THREADS": THREADS,
            "GATEWAY_TMP_DIR": str(self.tmp_dir),
            # Beside the uploads dir, so a restarted gateway finds its jobs again.
            "GATEWAY_DATA_DIR": str(self.tmp_dir.parent / "jobs-data"),
            "GATEWAY_URL_ALLOWLIST": "127.0.0.1",
            "GATEWAY_WORKER_PYTHON": str(VENV_PYTHON),
            "LOG_LEVEL": "debug",
            # Shorter than `stop`'s wait: a test that leaves sessions open is not held 30 s.
            "GATEWAY_DRAIN_GRACE_S": "5",
            **self.extra_env,
        }
        if self.worker_address:
            env["GATEWAY_WORKER_ADDRESS"] = self.worker_address
        else:
            env.pop("GATEWAY_WORKER_ADDRESS", None)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["node", str(GATEWAY_MAIN)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout_s: float = 120) -> None:
        ok = wait_for(lambda: self.exited() or health_status(self.base_url) == 200, timeout_s)
        if self.exited():
            raise RuntimeError(f"gateway exited while starting; log:\n{self.log_tail()}")
        if not ok:
            raise RuntimeError(f"gateway not healthy in {timeout_s}s; log:\n{self.log_tail()}")

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def temp_files(self) -> list[Path]:
        return [p for p in self.tmp_dir.rglob("*") if p.is_file()]


@dataclass
class Worker:
    """A worker process started by the test itself (for kill / restart scenarios)."""

    log_path: Path
    model_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "worker" / "src"),
            "FASTERWHISPER_MODEL": str(self.model_dir),
            "OMP_NUM_THREADS": THREADS,
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(VENV_PYTHON),
                "-m",
                "stt_worker",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def _require_built() -> None:
    missing = [
        p
        for p in (TINY_EN / "model.bin", BASE / "model.bin", VENV_PYTHON, GATEWAY_MAIN)
        if not p.exists()
    ]
    if missing:
        pytest.fail(f"e2e prerequisites missing (run `make test`): {', '.join(map(str, missing))}")


def serve(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    model_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Gateway]:
    """Starts the product on one model (for a fixture's scope) and stops it at the end."""
    _require_built()
    root = tmp_path_factory.mktemp(name)
    gateway = Gateway(
        log_path=root / "gateway.log",
        tmp_dir=root / "uploads",
        model_dir=model_dir,
        extra_env=extra_env or {},
    )
    gateway.start()
    try:
        gateway.wait_healthy()
        yield gateway
    finally:
        code = gateway.stop()
        print(f"\n[{name} exited with {code}]", file=sys.stderr)


@pytest.fixture(scope="session")
def tiny_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product as `make run` starts it, serving tiny.en; shared by most e2e tests."""
    yield from serve(tmp_path_factory, "tiny-gateway", TINY_EN)


@pytest.fixture(scope="session")
def base_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A second product instance serving the multilingual base model."""
    yield from serve(tmp_path_factory, "base-gateway", BASE)


def _openvino(model_dir: Path) -> dict[str, str]:
    return {"WORKER_ENGINE__BACKEND": "openvino", "WORKER_ENGINE__MODEL": str(model_dir)}


@pytest.fixture(scope="session")
def openvino_tiny_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product on the openvino backend, serving tiny.en's weights as OpenVINO IR."""
    yield from serve(
        tmp_path_factory, "openvino-tiny-gateway", TINY_EN, _openvino(OPENVINO_TINY_EN)
    )


@pytest.fixture(scope="session")
def openvino_base_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product on the openvino backend, serving the multilingual base as OpenVINO IR."""
    yield from serve(tmp_path_factory, "openvino-base-gateway", BASE, _openvino(OPENVINO_BASE))


@pytest.fixture(params=["faster_whisper", "openvino"])
def tiny_any_gateway(request: pytest.FixtureRequest) -> Gateway:
    """tiny.en's weights served by each backend in turn (tests parametrized by backend)."""
    name = "tiny_gateway" if request.param == "faster_whisper" else "openvino_tiny_gateway"
    gateway: Gateway = request.getfixturevalue(name)
    return gateway


@pytest.fixture(params=["faster_whisper", "openvino"])
def base_any_gateway(request: pytest.FixtureRequest) -> Gateway:
    """The multilingual base served by each backend in turn."""
    name = "base_gateway" if request.param == "faster_whisper" else "openvino_base_gateway"
    gateway: Gateway = request.getfixturevalue(name)
    return gateway


@pytest.fixture(scope="session")
def raw_tiny() -> WhisperModel:
    """The raw engine, in process: faster-whisper tiny.en, int8, beam 5, same threads."""
    return WhisperModel(str(TINY_EN), device="cpu", compute_type="int8", cpu_threads=int(THREADS))


@pytest.fixture(scope="session")
def raw_base() -> WhisperModel:
    return WhisperModel(str(BASE), device="cpu", compute_type="int8", cpu_threads=int(THREADS))


# Raw decodes are deterministic: tests parametrized by backend compare with the same ones.
_RAW_TEXTS: dict[tuple[int, str, tuple[tuple[str, Any], ...]], str] = {}


def raw_transcribe(model: WhisperModel, path: Path, **kwargs: Any) -> str:  # noqa: ANN401
    """Raw faster-whisper with its defaults (beam 5), texts joined as OpenAI joins them."""
    key = (id(model), str(path), tuple(sorted(kwargs.items())))
    if key not in _RAW_TEXTS:
        segments, _ = model.transcribe(str(path), beam_size=5, **kwargs)
        _RAW_TEXTS[key] = " ".join(s.text.strip() for s in segments).strip()
    return _RAW_TEXTS[key]
