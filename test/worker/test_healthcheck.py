"""`python -m stt_worker.healthcheck`, the containers' health check, against real servers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stt_worker import healthcheck
from worker_testing import start_slow_loading_worker

WORKER_SRC = Path(healthcheck.__file__).resolve().parents[1]


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The check is a blocking client; the in-process server needs this event loop meanwhile.
    code = await asyncio.to_thread(healthcheck.main, list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


async def test_healthcheck_exits_0_once_the_model_is_loaded(
    start_worker: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    worker, loading, release = await start_slow_loading_worker(start_worker)
    address = worker.server.address
    assert await run_check(capsys, "--address", address) == (1, "", f"{address}: NOT_SERVING")
    release.set()
    await loading
    assert await run_check(capsys, "--address", address) == (0, f"{address}: SERVING", "")


def test_healthcheck_exits_1_within_its_timeout_when_nothing_listens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    code = healthcheck.main(["--address", address, "--timeout", "1"])
    elapsed = time.monotonic() - started
    assert code == 1
    assert capsys.readouterr().err.strip() == f"{address}: UNAVAILABLE"
    assert elapsed < 2.5


def test_healthcheck_defaults_to_worker_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_PORT", "50123")
    assert healthcheck._parser().parse_args([]).address == "127.0.0.1:50123"
    monkeypatch.delenv("WORKER_PORT")
    assert healthcheck._parser().parse_args([]).address == "127.0.0.1:50051"


def test_healthcheck_rejects_a_non_positive_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        healthcheck.main(["--timeout", "0"])
    assert raised.value.code == 2
    assert "--timeout must be positive" in capsys.readouterr().err


def test_healthcheck_as_a_process_imports_no_engine() -> None:
    # The check runs every few seconds beside the model: it must not load the engine's
    # libraries (seconds of start-up and hundreds of MB).
    probe = (
        "import runpy, sys\n"
        "try:\n"
        "    runpy.run_module('stt_worker.healthcheck', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    heavy = {'numpy', 'ctranslate2', 'faster_whisper', 'onnxruntime'}\n"
        "    print(done.code, sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "--address",
            f"127.0.0.1:{closed_port()}",
            "--timeout",
            "0.5",
        ],
        env={"PYTHONPATH": str(WORKER_SRC)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "1 []", result.stderr
