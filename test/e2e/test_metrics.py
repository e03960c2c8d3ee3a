"""Metrics and request ids on the real product: one HTTP transcription and one live
WhisperLive session, then both /metrics endpoints and both processes' logs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import websocket  # websocket-client, as WhisperLive's own client uses
from faster_whisper import decode_audio
from prometheus_client.parser import text_string_to_metric_families

from .conftest import TINY_EN, Gateway, free_port, serve, wait_for
from .live_client import FRAME
from .speech import AUDIO_DIR

JFK = AUDIO_DIR / "jfk.wav"
LIVE_SECONDS = 4.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metrics_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, int]]:
    """The product with its local worker's metrics endpoint on a free port."""
    port = free_port()
    for gateway in serve(
        tmp_path_factory, "metrics-gateway", TINY_EN, {"WORKER_METRICS_PORT": str(port)}
    ):
        yield gateway, port


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels` (histogram buckets aside); 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def live_session(
    url: str, audio: np.ndarray, request_id: str
) -> tuple[str, list[dict[str, object]]]:
    """Sends `audio` as fast as the server reads it, then END_OF_AUDIO; returns the
    upgrade's `x-request-id` and every message until the server closes."""
    ws = websocket.create_connection(url, timeout=60, header=[f"x-request-id: {request_id}"])
    echoed = ws.getheaders().get("x-request-id", "")
    ws.send(json.dumps({"uid": "metrics", "language": "en", "use_vad": False}))
    messages = [json.loads(ws.recv())]
    assert messages[0].get("message") == "SERVER_READY", messages
    for i in range(0, audio.size, FRAME):
        ws.send_binary(audio[i : i + FRAME].astype(np.float32).tobytes())
    ws.send_binary(b"END_OF_AUDIO")
    while raw := ws.recv():
        messages.append(json.loads(raw))
    ws.close()
    return echoed, messages


def test_metrics_and_request_ids_after_a_transcription_and_a_live_session(
    metrics_gateway: tuple[Gateway, int],
) -> None:
    gateway, worker_port = metrics_gateway
    gateway_url = f"{gateway.base_url}/metrics"
    worker_url = f"http://127.0.0.1:{worker_port}/metrics"
    gateway_before, worker_before = scrape(gateway_url), scrape(worker_url)

    with JFK.open("rb") as handle:
        response = httpx.post(
            f"{gateway.base_url}/v1/audio/transcriptions",
            files={"file": (JFK.name, handle, "audio/wav")},
            data={"model": "whisper-1"},
            headers={"x-request-id": "e2e-http-1"},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "e2e-http-1"

    audio = decode_audio(str(JFK), sampling_rate=16_000)[: int(LIVE_SECONDS * 16_000)]
    echoed, messages = live_session(f"ws://127.0.0.1:{gateway.ws_port}", audio, "e2e-live-1")
    assert echoed == "e2e-live-1"
    assert any("segments" in m for m in messages)

    assert wait_for(
        lambda: value(scrape(gateway_url), "stt_gateway_sessions_active", api="whisperlive") == 0,
        10,
    )
    g, w = scrape(gateway_url), scrape(worker_url)

    def moved(after: Samples, before: Samples, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # The gateway: the request, its duration and audio; the session, its first result.
    assert (
        moved(
            g, gateway_before, "stt_gateway_http_requests_total", api="transcriptions", code="200"
        )
        == 1
    )
    assert (
        moved(
            g,
            gateway_before,
            "stt_gateway_http_request_duration_seconds_count",
            api="transcriptions",
        )
        == 1
    )
    assert moved(
        g, gateway_before, "stt_gateway_audio_seconds_total", api="transcriptions"
    ) == pytest.approx(11.0, abs=0.1)
    assert (
        moved(
            g, gateway_before, "stt_gateway_sessions_total", api="whisperlive", outcome="completed"
        )
        == 1
    )
    assert (
        moved(g, gateway_before, "stt_gateway_first_result_seconds_count", api="whisperlive") == 1
    )
    assert moved(
        g, gateway_before, "stt_gateway_audio_seconds_total", api="whisperlive"
    ) == pytest.approx(LIVE_SECONDS, abs=0.01)
    assert value(g, "stt_gateway_sessions_active", api="whisperlive") == 0

    # The worker: both kinds of audio, queue waits, engine calls, batches; idle again.
    assert moved(w, worker_before, "stt_worker_audio_seconds_total", kind="file") == pytest.approx(
        11.0, abs=0.1
    )
    assert moved(w, worker_before, "stt_worker_audio_seconds_total", kind="live") == pytest.approx(
        LIVE_SECONDS, abs=0.01
    )
    for kind in ("file", "live"):
        assert moved(w, worker_before, "stt_worker_queue_wait_seconds_count", kind=kind) >= 1, kind
        assert moved(w, worker_before, "stt_worker_inference_seconds_count", kind=kind) >= 1, kind
        assert value(w, "stt_worker_streams_active", kind=kind) == 0, kind
    assert moved(w, worker_before, "stt_worker_batch_size_count", kind="live") >= 1
    assert value(w, "stt_worker_queue_depth") == 0
    assert value(w, "stt_worker_streams_capacity") >= 1
    assert value(w, "stt_worker_real_time_factor") > 0
    build = [
        labels for (name, labels), v in w.items() if name == "stt_worker_build_info" and v == 1
    ]
    assert len(build) == 1
    info = dict(build[0])
    assert info["compute_type"].startswith("int8")  # CTranslate2 names it int8_float32 on CPU
    assert {k: info[k] for k in ("model", "backend", "device")} == {
        "model": "tiny.en",
        "backend": "faster_whisper",
        "device": "cpu",
    }
    assert info["version"]

    # Request ids: the gateway's and the worker's lines about each (the worker's log comes
    # through the gateway's, fields kept) carry the client's id.
    lines = [
        json.loads(line)
        for line in gateway.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    by_message = {
        (line.get("logger", "gateway"), line.get("message")): line.get("request_id")
        for line in lines
        if line.get("request_id") in {"e2e-http-1", "e2e-live-1"}
    }
    assert by_message[("gateway", "http request")] == "e2e-http-1"
    assert by_message[("gateway", "ws session opened")] == "e2e-live-1"
    assert by_message[("gateway", "ws session closed")] == "e2e-live-1"
    assert by_message[("stt_worker.servicer", "file stream done")] == "e2e-http-1"
    assert by_message[("stt_worker.servicer", "live stream done")] == "e2e-live-1"
    worker_stream_lines = [
        line
        for line in lines
        if str(line.get("logger", "")).startswith("stt_worker.")
        and line.get("message") in {"stream opened", "live stream done", "file stream done"}
    ]
    assert worker_stream_lines
    assert all(
        line.get("request_id") in {"e2e-http-1", "e2e-live-1"} for line in worker_stream_lines
    )
