"""The worker's own limits through the real gateway: live admission by measured capacity.

With default settings a burst of live streams on a small CPU box must not push the
streams already taken past the live latency bound (committed p95 within 5 s, see
`WORKER_LIMITS__MAX_LIVE_CYCLE_S`): the worker admits what its measured decode cycle
allows and answers the rest at once with WhisperLive's WAIT and an estimate.
"""

from __future__ import annotations

import ast
import json
import statistics
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from faster_whisper.audio import decode_audio

from .conftest import TINY_EN, Gateway, record_metric, serve
from .live_client import RATE, StreamResult, run_stream
from .speech import AUDIO_DIR

THREE_MINUTES = "longform/ljspeech_LJ001-0001_0025_concat.flac"
STREAMS = 16
SPEECH_S = 40
# The documented live latency bound (WORKER_LIMITS__MAX_LIVE_CYCLE_S's docstring).
LATENCY_BOUND_S = 5.0


@pytest.fixture(scope="module")
def default_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product with default settings on tiny.en, fresh (nothing measured yet)."""
    yield from serve(tmp_path_factory, "limits-gateway", TINY_EN)


def test_a_burst_of_live_streams_keeps_the_admitted_ones_within_the_bound(
    default_gateway: Gateway,
) -> None:
    url = f"ws://127.0.0.1:{default_gateway.ws_port}"
    audio = decode_audio(str(AUDIO_DIR / THREE_MINUTES))[: SPEECH_S * RATE].astype(np.float32)
    results = [StreamResult() for _ in range(STREAMS)]
    threads = [
        threading.Thread(target=run_stream, args=(url, audio, "tiny.en", result, 30.0), daemon=True)
        for result in results
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SPEECH_S + 120)
    assert not any(thread.is_alive() for thread in threads)
    elapsed = time.monotonic() - started

    admitted = [r for r in results if r.error is None]
    refused = [r for r in results if r.error is not None]
    waits = []
    for result in refused:
        assert result.error is not None and result.error.startswith("not ready: "), result.error
        message = ast.literal_eval(result.error.removeprefix("not ready: "))
        assert message["status"] == "WAIT", message
        assert isinstance(message["message"], float) and message["message"] > 0, message
        waits.append(message["message"] * 60)
    latencies = [latency for r in admitted for latency in r.latencies]
    p95 = float(np.percentile(latencies, 95)) if latencies else float("nan")
    record_metric(
        f"{STREAMS} live streams at once, defaults: admitted / told to WAIT",
        f"{len(admitted)} / {len(refused)}",
    )
    record_metric(
        "admitted streams' committed latency p50 / p95",
        f"{statistics.median(latencies):.2f} s / {p95:.2f} s" if latencies else "none",
    )
    record_metric(
        "WAIT estimates (s): min / median / max",
        f"{min(waits):.0f} / {statistics.median(waits):.0f} / {max(waits):.0f}" if waits else "-",
    )
    print(
        json.dumps(
            {
                "elapsed_s": round(elapsed),
                "waits_s": sorted(round(w) for w in waits),
                "latencies_s": [[round(x, 1) for x in r.latencies] for r in admitted],
            }
        )
    )
    assert admitted, "no stream was admitted"
    assert refused, f"all {STREAMS} streams were admitted on a small CPU box"
    assert all(len(r.latencies) >= 3 for r in admitted), [len(r.latencies) for r in admitted]
    assert p95 < LATENCY_BOUND_S, sorted(latencies)[-10:]
