"""One model, many sessions: admission under load, and live sessions beside a long file.

The real product on tiny.en. A worker at capacity must answer at once (HTTP 503 with
Retry-After, WhisperLive's WAIT with minutes to wait), never keep a client hanging; and a
long file being transcribed must not hold live sessions' commits back past the latency
bound (asserted loosely here; measured by bench/streaming.py --file-load).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import websocket
from faster_whisper.audio import decode_audio

from .conftest import TINY_EN, Gateway, record_latency, serve
from .live_client import RATE, StreamResult, run_stream
from .speech import AUDIO_DIR, clip, wer

LONG_FILE = AUDIO_DIR / "longform" / "lj003_nonnative_0001_0098_concat.flac"
THREE_MINUTES = "longform/ljspeech_LJ001-0001_0025_concat.flac"


@pytest.fixture(scope="module")
def tight_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """tiny.en with admission limits so low that one live stream and one long file fill
    it (a short file, 11 s of audio, stays well under the 5 s of file work allowed)."""
    yield from serve(
        tmp_path_factory,
        "tight-gateway",
        TINY_EN,
        {"WORKER_LIMITS__MAX_LIVE_CYCLE_S": "0.01", "WORKER_LIMITS__MAX_FILE_WAIT_S": "5"},
    )


def options(uid: str) -> str:
    return json.dumps(
        {"uid": uid, "language": "en", "task": "transcribe", "model": "tiny.en", "use_vad": False}
    )


def speech(relative: str, seconds: float | None = None) -> np.ndarray:
    audio = decode_audio(str(AUDIO_DIR / relative))
    return audio if seconds is None else audio[: int(seconds * RATE)]


def test_a_full_worker_answers_wait_and_503_at_once(tight_gateway: Gateway) -> None:
    url = f"ws://127.0.0.1:{tight_gateway.ws_port}"
    # One live stream, past its first decode: the worker has measured its live cycle.
    first = websocket.create_connection(url, timeout=30)
    first.send(options("first"))
    assert json.loads(first.recv())["message"] == "SERVER_READY"
    audio = speech("jfk.wav")
    for i in range(0, audio.size, 4096):
        first.send_binary(audio[i : i + 4096].tobytes())
    assert "segments" in json.loads(first.recv())

    # A second live stream is told to wait (WhisperLive's WAIT: float minutes), promptly.
    started = time.monotonic()
    second = websocket.create_connection(url, timeout=30)
    second.send(options("second"))
    message = json.loads(second.recv())
    assert message["uid"] == "second" and message["status"] == "WAIT", message
    assert isinstance(message["message"], float) and message["message"] > 0
    assert time.monotonic() - started < 5
    second.close()

    # The first stream is unaffected and finishes normally.
    first.send_binary(b"END_OF_AUDIO")
    texts = []
    first.settimeout(30)
    while True:
        try:
            raw = first.recv()
        except websocket.WebSocketConnectionClosedException:
            break
        if not raw:
            break
        texts.extend(s["text"] for s in json.loads(raw).get("segments", []) if s["completed"])
    assert wer([clip("jfk.wav").text], [" ".join(dict.fromkeys(texts))]) <= 0.15
    first.close()

    # Files: one long file admitted; while it is decoded the next one gets 503 at once.
    with httpx.Client(base_url=tight_gateway.base_url, timeout=600) as client:
        warm = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("jfk.wav", (AUDIO_DIR / "jfk.wav").read_bytes())},
            data={"model": "whisper-1"},
        )
        assert warm.status_code == 200  # the worker now knows its real-time factor
        results: dict[str, httpx.Response] = {}

        def long_request() -> None:
            with LONG_FILE.open("rb") as handle:
                results["long"] = client.post(
                    "/v1/audio/transcriptions",
                    files={"file": (LONG_FILE.name, handle)},
                    data={"model": "whisper-1", "response_format": "text"},
                )

        runner = threading.Thread(target=long_request)
        runner.start()
        refused = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and runner.is_alive():
            started = time.monotonic()
            attempt = client.post(
                "/v1/audio/transcriptions",
                files={"file": ("jfk.wav", (AUDIO_DIR / "jfk.wav").read_bytes())},
                data={"model": "whisper-1"},
            )
            if attempt.status_code == 503:
                refused = attempt
                assert time.monotonic() - started < 5
                break
            time.sleep(0.5)
        runner.join(600)
    assert refused is not None, (
        "the worker never refused a file while busy",
        results["long"].status_code,
        results["long"].text[:300],
    )
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "worker_busy" and "capacity" in error["message"], error
    assert results["long"].status_code == 200  # the admitted file was not harmed


def test_live_commits_stay_prompt_while_a_long_file_is_transcribed(
    tiny_gateway: Gateway,
) -> None:
    file_done: dict[str, httpx.Response] = {}

    def long_request() -> None:
        with LONG_FILE.open("rb") as handle:
            file_done["response"] = httpx.post(
                f"{tiny_gateway.base_url}/v1/audio/transcriptions",
                files={"file": (LONG_FILE.name, handle)},
                data={"model": "whisper-1", "response_format": "text"},
                timeout=900,
            )

    runner = threading.Thread(target=long_request)
    runner.start()
    time.sleep(3)  # the file is being chunked and decoded
    result = StreamResult()
    audio = speech(THREE_MINUTES, seconds=45)
    run_stream(f"ws://127.0.0.1:{tiny_gateway.ws_port}", audio, "tiny.en", result, tail_s=30)
    runner.join(900)
    assert result.error is None, result.error
    assert file_done["response"].status_code == 200
    assert len(result.latencies) >= 5
    p95 = record_latency(
        "live beside a 13.5-min file: committed latency p50 / p95", result.latencies
    )
    # Measured 1.3-1.9 s here (1.6 s on a fresh clone in CI): held to the product's 3 s.
    assert p95 < 3.0, result.latencies
    reference = clip(THREE_MINUTES).text
    words = len(reference.split()) * 45 / clip(THREE_MINUTES).duration_s
    assert len(result.text().split()) >= 0.8 * words
