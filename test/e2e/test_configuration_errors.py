"""A worker that cannot run as configured is started once, and `/health` says why.

The real gateway spawns the real worker with FASTERWHISPER_MODEL pointing at an OpenVINO
model directory (a directory faster-whisper cannot load). The worker exits with 78 and its
`fatal` line; the gateway does not restart it, keeps serving HTTP, and `/health` answers
503 with the worker's message, within a few seconds of the gateway's start.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from .conftest import GATEWAY_MAIN, VENV_PYTHON, Gateway, record_metric, wait_for
from .hostile import proc_children
from .speech import AUDIO_DIR, REPO

OPENVINO_TINY_EN = REPO.parent / "shared" / "models" / "openvino-tiny.en"
# The worker's own message for this directory (stt_worker.engines.faster_whisper).
MESSAGE = (
    f"model directory '{OPENVINO_TINY_EN}' is an OpenVINO model directory: set "
    "WORKER_ENGINE__BACKEND=openvino, or point FASTERWHISPER_MODEL (or WORKER_ENGINE__MODEL) "
    "at a CTranslate2 (faster-whisper) directory"
)
REASON = f"the worker failed to start because of a configuration error: {MESSAGE}"
# Longer than the supervisor's first restart delays (1 s, then 2 s) and a worker's start.
NO_RESTART_WINDOW_S = 5.0


def log_entries(gateway: Gateway) -> list[dict[str, object]]:
    entries = []
    for line in gateway.log_path.read_text(errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


@pytest.mark.skipif(not OPENVINO_TINY_EN.is_dir(), reason="../shared/models is not present")
def test_a_worker_with_a_wrong_model_directory_is_started_once(tmp_path: Path) -> None:
    missing = [p for p in (VENV_PYTHON, GATEWAY_MAIN) if not p.exists()]
    assert not missing, f"e2e prerequisites missing (run `make test`): {missing}"
    gateway = Gateway(
        log_path=tmp_path / "gateway.log",
        tmp_dir=tmp_path / "uploads",
        model_dir=OPENVINO_TINY_EN,
    )
    started = time.monotonic()
    gateway.start()
    try:

        def failed() -> bool:
            response = httpx.get(f"{gateway.base_url}/health", timeout=5)
            return response.status_code == 503 and "worker_failure" in response.json()

        assert wait_for(failed, 30, interval_s=0.05), gateway.log_tail()
        elapsed_s = time.monotonic() - started
        record_metric(
            "configuration error to /health 503 (gateway start included)", f"{elapsed_s:.2f} s"
        )
        assert elapsed_s < 10, gateway.log_tail()

        response = httpx.get(f"{gateway.base_url}/health", timeout=5)
        assert response.status_code == 503
        assert "retry-after" not in response.headers
        assert response.json() == {
            "status": "unhealthy",
            "service": "WhisperLive Hybrid Server",
            "reason": REASON,
            "worker_failure": {"reason": "configuration", "message": MESSAGE},
        }

        time.sleep(NO_RESTART_WINDOW_S)
        assert gateway.process is not None
        assert gateway.process.poll() is None, "the gateway must keep running"
        assert proc_children(gateway.process.pid) == [], "no worker may run any more"
        entries = log_entries(gateway)
        assert [e["message"] for e in entries].count("starting worker") == 1
        assert not any(e["message"] == "worker exited unexpectedly; restarting" for e in entries)
        failures = [e for e in entries if e["message"] == f"{REASON} (not restarted)"]
        assert len(failures) == 1
        assert failures[0]["level"] == "error"
        assert failures[0]["code"] == 78
        # The worker's own error line, forwarded from its stderr.
        assert any(e["message"] == f"configuration error: {MESSAGE}" for e in entries)

        # Still answering: the health routes, and a refusal for work.
        assert httpx.get(f"{gateway.base_url}/healthz", timeout=5).status_code == 200
        with (AUDIO_DIR / "jfk.wav").open("rb") as audio:
            legacy = httpx.post(
                f"{gateway.base_url}/transcribe", files={"file": ("jfk.wav", audio)}, timeout=30
            )
        assert legacy.status_code == 503
        assert REASON in legacy.json()["error"]
    finally:
        gateway.stop()
