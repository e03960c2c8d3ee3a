"""One gateway (and a second one) over three real worker processes on loopback.

The workers run the deterministic fake engine (instant, no model) so the test is about
placement and failure, not speech; `test_real_model_over_two_workers` is the smoke test
with the real model.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import websocket

from .conftest import TINY_EN, Gateway, Worker, record_metric, wait_for
from .speech import AUDIO_DIR, clip, wer

FRAME = 4096
FAKE_ENV = {"WORKER_ENGINE__BACKEND": "fake", "WORKER_SHUTDOWN_GRACE_S": "20"}


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16_000)) / 16_000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@dataclass
class Session:
    """A raw WhisperLive session: options, float32 frames in real time, END_OF_AUDIO."""

    url: str
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    messages: list[dict[str, object]] = field(default_factory=list)
    close_code: int | None = None
    closed_at: float | None = None

    def __post_init__(self) -> None:
        self.ws = websocket.create_connection(self.url, timeout=30)
        self.ws.send(json.dumps({"uid": self.uid, "language": "en", "model": "tiny.en"}))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert wait_for(lambda: self.messages, 20), "no answer to the options"

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data()
            except Exception:  # closed, one way or another
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                break
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.messages.append(json.loads(data))
        self.closed_at = time.monotonic()

    @property
    def ready(self) -> bool:
        return bool(self.messages) and self.messages[0].get("message") == "SERVER_READY"

    def play(self, seconds: float) -> None:
        audio = tone(seconds)
        for start in range(0, len(audio), FRAME):
            if self.closed_at is not None:
                return
            self.ws.send_binary(audio[start : start + FRAME].tobytes())
            time.sleep(FRAME / 16_000)

    def finish(self, timeout_s: float = 30) -> None:
        self.ws.send_binary(b"END_OF_AUDIO")
        assert wait_for(lambda: self.closed_at is not None, timeout_s), "session not closed"

    def segments(self) -> list[dict[str, object]]:
        last = [m for m in self.messages if "segments" in m]
        return list(last[-1]["segments"]) if last else []  # type: ignore[arg-type]


def worker_streams(gateway: Gateway) -> dict[str, int]:
    """Each worker's active streams as /readyz reports them (by its public name)."""
    body = httpx.get(f"{gateway.base_url}/readyz", timeout=5).json()
    return {w["id"]: w.get("load", {}).get("active_streams", -1) for w in body["workers"]}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started = [
        Worker(log_path=tmp_path / f"worker{i}.log", model_dir=TINY_EN, extra_env=FAKE_ENV)
        for i in range(3)
    ]
    for worker in started:
        worker.start()
    yield started
    for worker in started:
        worker.kill()


def gateway_over(tmp_path: Path, name: str, workers: list[Worker], **env: str) -> Gateway:
    gateway = Gateway(
        log_path=tmp_path / f"{name}.log",
        tmp_dir=tmp_path / name,
        model_dir=TINY_EN,
        worker_address=",".join(w.address for w in workers),
        extra_env={"GATEWAY_WORKER_LOAD_REFRESH_MS": "200", **env},
    )
    gateway.start()
    gateway.wait_healthy(60)
    assert wait_for(lambda: len(worker_streams(gateway)) == len(workers), 30)
    assert wait_for(lambda: all(v == 0 for v in worker_streams(gateway).values()), 30)
    return gateway


@pytest.fixture
def gateway(tmp_path: Path, workers: list[Worker]) -> Iterator[Gateway]:
    started = gateway_over(tmp_path, "gateway", workers)
    yield started
    started.stop()


def test_sessions_spread_over_three_workers_each_served_by_one(
    gateway: Gateway, workers: list[Worker]
) -> None:
    sessions = [Session(f"ws://127.0.0.1:{gateway.ws_port}") for _ in range(6)]
    assert all(s.ready for s in sessions), [s.messages[:1] for s in sessions]
    assert wait_for(lambda: sorted(worker_streams(gateway).values()) == [2, 2, 2], 10), (
        worker_streams(gateway)
    )
    for session in sessions:
        session.play(0.5)
    for session in sessions:
        session.finish()
        assert session.close_code == 1000 and session.segments(), session.messages
    assert wait_for(lambda: set(worker_streams(gateway).values()) == {0}, 10)


def test_a_killed_worker_fails_only_its_sessions_and_gets_work_again_when_back(
    gateway: Gateway, workers: list[Worker]
) -> None:
    sessions = [Session(f"ws://127.0.0.1:{gateway.ws_port}") for _ in range(3)]
    assert wait_for(lambda: sorted(worker_streams(gateway).values()) == [1, 1, 1], 10)
    for session in sessions:
        session.play(0.3)
    victim = workers[0]
    killed_at = time.monotonic()
    victim.kill()
    # Exactly one session hears about it, within 2 s; the two others stream on.
    assert wait_for(lambda: any(s.closed_at for s in sessions), 5)
    lost = [s for s in sessions if s.closed_at is not None]
    assert len(lost) == 1, [s.messages for s in sessions]
    told_s = (lost[0].closed_at or 0) - killed_at
    record_metric("scale-out: worker SIGKILLed -> its client told (s)", f"{told_s:.2f}")
    assert told_s < 2.0
    assert lost[0].messages[-1].get("status") == "ERROR" or lost[0].close_code != 1000
    survivors = [s for s in sessions if s is not lost[0]]
    # New sessions go to the two survivors.
    extra = [Session(f"ws://127.0.0.1:{gateway.ws_port}") for _ in range(2)]
    assert all(s.ready for s in extra)
    for session in survivors + extra:
        session.play(0.3)
        session.finish()
        assert session.close_code == 1000 and session.segments(), session.messages
    # Back on the same address: it serves and gets the next session.
    victim.start()
    assert wait_for(lambda: len([v for v in worker_streams(gateway).values() if v == 0]) == 3, 30)
    again = Session(f"ws://127.0.0.1:{gateway.ws_port}")
    busy = [Session(f"ws://127.0.0.1:{gateway.ws_port}") for _ in range(2)]
    assert wait_for(lambda: sum(worker_streams(gateway).values()) == 3, 10)
    assert worker_streams(gateway)["worker-1"] >= 1, worker_streams(gateway)
    for session in [again, *busy]:
        session.finish()


def test_a_draining_worker_finishes_its_sessions_and_takes_no_new_ones(
    gateway: Gateway, workers: list[Worker]
) -> None:
    sessions = [Session(f"ws://127.0.0.1:{gateway.ws_port}") for _ in range(3)]
    assert wait_for(lambda: sorted(worker_streams(gateway).values()) == [1, 1, 1], 10)
    draining = workers[1]
    assert draining.process is not None
    draining.process.terminate()  # SIGTERM: drain
    time.sleep(0.5)
    newcomer = Session(f"ws://127.0.0.1:{gateway.ws_port}")
    assert newcomer.ready
    for session in [*sessions, newcomer]:
        session.play(1.0)
        session.finish()
        # Every session complete: its final segments and a normal close, none cut.
        assert session.close_code == 1000 and session.segments(), session.messages
    assert draining.process.wait(30) == 0


def test_a_worker_started_later_gets_sessions(tmp_path: Path, workers: list[Worker]) -> None:
    late = Worker(log_path=tmp_path / "late.log", model_dir=TINY_EN, extra_env=FAKE_ENV)
    gateway = Gateway(
        log_path=tmp_path / "late-gateway.log",
        tmp_dir=tmp_path / "late-gateway",
        model_dir=TINY_EN,
        worker_address=f"{workers[0].address},{late.address}",
        extra_env={"GATEWAY_WORKER_LOAD_REFRESH_MS": "200"},
    )
    gateway.start()
    try:
        gateway.wait_healthy(60)
        early = Session(f"ws://127.0.0.1:{gateway.ws_port}")
        assert early.ready
        late.start()
        assert wait_for(lambda: worker_streams(gateway).get("worker-2") == 0, 30)
        joined = Session(f"ws://127.0.0.1:{gateway.ws_port}")
        assert joined.ready
        assert wait_for(lambda: worker_streams(gateway) == {"worker-1": 1, "worker-2": 1}, 10)
        for session in (early, joined):
            session.play(0.3)
            session.finish()
            assert session.close_code == 1000 and session.segments(), session.messages
    finally:
        gateway.stop()
        late.kill()


def test_two_gateways_share_the_workers_and_a_full_worker_passes_work_on(
    tmp_path: Path,
) -> None:
    # One worker takes one stream at most; the gateways read loads only at start, so the
    # second gateway picks the full worker and must be sent on by its refusal.
    small = Worker(
        log_path=tmp_path / "small.log",
        model_dir=TINY_EN,
        extra_env={**FAKE_ENV, "WORKER_LIMITS__MAX_STREAMS": "1"},
    )
    roomy = Worker(log_path=tmp_path / "roomy.log", model_dir=TINY_EN, extra_env=FAKE_ENV)
    pair = [small, roomy]
    for worker in pair:
        worker.start()
    first = second = None
    try:
        env = {"GATEWAY_WORKER_LOAD_REFRESH_MS": "0"}
        first = gateway_over(tmp_path, "first", [small], **env)
        second = gateway_over(tmp_path, "second", pair, **env)
        held = Session(f"ws://127.0.0.1:{first.ws_port}")
        assert held.ready
        moved = [Session(f"ws://127.0.0.1:{second.ws_port}") for _ in range(2)]
        assert all(s.ready for s in moved), [s.messages for s in moved]
        log = second.log_path.read_text()
        assert "worker refused the stream; trying another" in log
        for session in [held, *moved]:
            session.play(0.3)
            session.finish()
            assert session.close_code == 1000
    finally:
        for gateway in (first, second):
            if gateway is not None:
                gateway.stop()
        for worker in pair:
            worker.kill()


def test_real_model_over_two_workers(tmp_path: Path) -> None:
    pair = [Worker(log_path=tmp_path / f"real{i}.log", model_dir=TINY_EN) for i in range(2)]
    for worker in pair:
        worker.start()
    gateway = None
    try:
        gateway = gateway_over(tmp_path, "real", pair)
        path = AUDIO_DIR / "jfk.wav"
        results: list[str] = []

        def transcribe() -> None:
            with path.open("rb") as handle:
                response = httpx.post(
                    f"{gateway.base_url}/v1/audio/transcriptions",  # type: ignore[union-attr]
                    files={"file": ("jfk.wav", handle, "audio/wav")},
                    data={"model": "whisper-1"},
                    timeout=120,
                )
            assert response.status_code == 200, response.text
            results.append(response.json()["text"])

        threads = [threading.Thread(target=transcribe) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(results) == 2
        # One file each: both workers served one.
        served = [w.log_path.read_text().count('"file stream done"') for w in pair]
        assert served == [1, 1], served
        for text in results:
            assert wer([clip("jfk.wav").text], [text]) <= 0.1, text
    finally:
        if gateway is not None:
            gateway.stop()
        for worker in pair:
            worker.kill()
