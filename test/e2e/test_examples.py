"""Every program in examples/ runs against the real server, and its output is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import TINY_EN, VENV_PYTHON, Gateway, free_port, wait_for
from .speech import AUDIO_DIR, REPO, clip, wer

EXAMPLES = REPO / "examples"
JFK = AUDIO_DIR / "jfk.wav"
JFK_TEXT = clip("jfk.wav").text


def run(
    gateway: Gateway, *command: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STT_URL": gateway.base_url,
        "STT_WS_URL": f"ws://127.0.0.1:{gateway.ws_port}",
    }
    return subprocess.run(
        list(command), cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s
    )


@pytest.mark.parametrize(
    "command",
    [
        ["bash", "examples/curl.sh", str(JFK)],
        [str(VENV_PYTHON), "examples/python_openai.py", str(JFK)],
        ["node", "examples/node_openai.mjs", str(JFK)],
    ],
    ids=["curl", "python-openai", "node-openai"],
)
def test_example_prints_the_transcript(tiny_gateway: Gateway, command: list[str]) -> None:
    result = run(tiny_gateway, *command)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    if command[1].endswith("curl.sh"):
        text = json.loads(result.stdout)["text"]
    assert wer([JFK_TEXT], [text]) <= 0.1, result.stdout


def test_python_realtime_example_prints_one_line_per_turn(tiny_gateway: Gateway) -> None:
    result = run(tiny_gateway, str(VENV_PYTHON), "examples/python_realtime.py", str(JFK))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    # JFK pauses between phrases: more than one turn, and every word in one of them.
    assert len(lines) >= 2, result.stdout
    assert wer([JFK_TEXT], [" ".join(lines)]) <= 0.1, result.stdout


def test_python_requests_example_prints_text_segments_and_words(tiny_gateway: Gateway) -> None:
    result = run(tiny_gateway, str(VENV_PYTHON), "examples/python_requests.py", str(JFK))
    assert result.returncode == 0, result.stderr[-2000:]
    first, *segments, summary = result.stdout.strip().splitlines()
    assert wer([JFK_TEXT], [first]) <= 0.1, result.stdout
    assert segments and all(line.startswith("[") for line in segments), result.stdout
    assert summary.startswith(("21 words", "22 words", "23 words")), summary
    assert summary.endswith("language english, 11.0 s"), summary


def test_node_fetch_example_prints_srt(tiny_gateway: Gateway) -> None:
    result = run(tiny_gateway, "node", "examples/node_fetch.mjs", str(JFK))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("1\n00:00:00,000 --> "), result.stdout[:200]
    text = " ".join(
        line
        for line in result.stdout.splitlines()
        if line and "-->" not in line and not line.isdigit()
    )
    assert wer([JFK_TEXT], [text]) <= 0.1, result.stdout


def test_live_client_example_streams_a_file(tiny_gateway: Gateway) -> None:
    result = run(tiny_gateway, str(VENV_PYTHON), "examples/live_client.py", str(JFK), timeout_s=90)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines and all(line.startswith("[") for line in lines), result.stdout
    text = " ".join(line.split("] ", 1)[1] for line in lines)
    assert wer([JFK_TEXT], [text]) <= 0.15, result.stdout


def test_http_endpoints_smoke_test_passes_against_the_server(tiny_gateway: Gateway) -> None:
    result = run(
        tiny_gateway,
        sys.executable,
        "examples/test_http_endpoints.py",
        "--url",
        tiny_gateway.base_url,
        "--audio",
        str(JFK),
        "--expect",
        "ask not what your country can do for you",
        timeout_s=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("all 9 checks passed"), result.stdout
    assert "FAIL" not in result.stdout


def test_http_endpoints_smoke_test_fails_against_a_broken_server(tmp_path: Path) -> None:
    # A deployment whose gateway cannot reach any worker: up, but unable to transcribe.
    broken = Gateway(
        log_path=tmp_path / "broken.log",
        tmp_dir=tmp_path / "uploads",
        model_dir=TINY_EN,
        worker_address=f"127.0.0.1:{free_port()}",
    )
    broken.start()
    try:
        alive = f"{broken.base_url}/healthz"
        assert wait_for(lambda: httpx.get(alive, timeout=2).status_code == 200, 30)
        result = run(
            broken, sys.executable, "examples/test_http_endpoints.py", "--url", broken.base_url
        )
    finally:
        broken.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  GET /health" in result.stdout
    assert "FAIL  POST /v1/audio/transcriptions (json)" in result.stdout
    unreachable = run(
        broken,
        sys.executable,
        "examples/test_http_endpoints.py",
        "--url",
        f"http://127.0.0.1:{free_port()}",
    )
    assert unreachable.returncode == 2, unreachable.stdout
