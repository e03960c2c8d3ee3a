"""Faults: a worker killed or hung, ffmpeg killed or hung, the gateway restarted.

Real processes throughout: a worker on the real tiny.en model that the tests start, kill
(SIGKILL), stop (SIGSTOP) and resume, and gateways connected to it by address. Each fault
must end every client it touches with a clear error within a stated bound, and leave the
gateway up, its temp dir empty and no ffmpeg behind (checked after every test).

Bounds asserted (measured on a 2-core host shared with other jobs, in brackets):
- worker killed: live sessions get ERROR and a close, a file request 503, within 2 s (0.02 s);
- worker hung: within the pool's liveness bound, 2 s probe interval + 10 s deadline
  (`LIVENESS_INTERVAL_MS + LIVENESS_TIMEOUT_MS` in gateway/src/grpc/pool.ts), asserted at
  13 s (11.1 s), while /health answers in under 1 s (0.06 s);
- ffmpeg killed: 500 within 2 s (0.01 s); ffmpeg hung: 504 within the 10 s stall timeout
  (`DECODE_STALL_TIMEOUT_MS` in gateway/src/audio/decode.ts), asserted at 12 s (9.7 s);
- gateway killed and started again beside a live worker: healthy again (1.8 s) and serving;
- gateway killed while it runs its own worker: the worker dies with it (0.02 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
import websocket  # websocket-client, as WhisperLive's own client uses
from faster_whisper.audio import decode_audio

from .conftest import TINY_EN, Gateway, Worker, _require_built, record_metric, wait_for
from .hostile import proc_children
from .speech import AUDIO_DIR

TRANSCRIPTIONS = "/v1/audio/transcriptions"
LONG_FILE = AUDIO_DIR / "longform" / "ljspeech_LJ001-0001_0025_concat.flac"  # 180 s
JFK = AUDIO_DIR / "jfk.wav"

KILL_BOUND_S = 2.0
HUNG_BOUND_S = 13.0
FFMPEG_KILL_BOUND_S = 2.0
FFMPEG_STALL_BOUND_S = 12.0
FRAME = 4096  # samples per frame, as WhisperLive's client sends
RATE = 16_000


# -- processes ------------------------------------------------------------------------------


def ffmpeg_children(gateway: Gateway) -> list[tuple[int, str, str]]:
    assert gateway.process is not None
    return [c for c in proc_children(gateway.process.pid) if c[1] == "ffmpeg"]


def wait_for_ffmpeg(gateway: Gateway, timeout_s: float = 10) -> int:
    """The pid of the gateway's ffmpeg child once one runs."""
    found: list[int] = []

    def check() -> bool:
        found[:] = [pid for pid, _, state in ffmpeg_children(gateway) if state != "Z"]
        return bool(found)

    assert wait_for(check, timeout_s, interval_s=0.02), "no ffmpeg child appeared"
    return found[0]


def wait_for_log(gateway: Gateway, text: str, offset: int, timeout_s: float = 30) -> None:
    """Waits until the gateway's log, from byte `offset` on, contains `text`."""

    def seen() -> bool:
        with gateway.log_path.open("rb") as log:
            log.seek(offset)
            return text.encode() in log.read()

    assert wait_for(seen, timeout_s, 0.05), f"{text!r} not logged; log:\n{gateway.log_tail()}"


# -- clients --------------------------------------------------------------------------------


@dataclass
class FileRequest:
    """An upload posted from a thread; `response` and `done_at` once it is answered."""

    gateway: Gateway
    path: Path
    response: httpx.Response | None = None
    error: BaseException | None = None
    done_at: float | None = None
    thread: threading.Thread | None = None

    def start(self) -> FileRequest:
        def post() -> None:
            try:
                with self.path.open("rb") as file:
                    self.response = httpx.post(
                        self.gateway.base_url + TRANSCRIPTIONS,
                        files={"file": (self.path.name, file, "application/octet-stream")},
                        data={"model": "whisper-1"},
                        timeout=300,
                    )
            except BaseException as error:
                self.error = error
            self.done_at = time.monotonic()

        self.thread = threading.Thread(target=post, daemon=True)
        self.thread.start()
        return self

    def wait(self, timeout_s: float) -> httpx.Response:
        assert self.thread is not None
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"no answer within {timeout_s} s"
        assert self.error is None, self.error
        assert self.response is not None
        return self.response


def start_streaming_file(gateway: Gateway) -> FileRequest:
    """Posts the long file and returns once the gateway streams it to the worker."""
    offset = gateway.log_path.stat().st_size
    request = FileRequest(gateway, LONG_FILE).start()
    # Logged just before the worker call starts (gateway/src/file_transcription.ts).
    wait_for_log(gateway, "file audio", offset)
    time.sleep(1)
    assert request.done_at is None, request.response
    return request


@dataclass
class LiveClient:
    """A WhisperLive client that streams audio in real time (looped) until the server closes."""

    url: str
    audio: np.ndarray
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    messages: list[tuple[float, dict]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    closed_at: float | None = None
    _ws: websocket.WebSocket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    def connect(self) -> LiveClient:
        ws = websocket.create_connection(self.url, timeout=60)
        self._ws = ws
        ws.send(json.dumps({"uid": self.uid, "language": "en", "task": "transcribe"}))
        ready = json.loads(ws.recv())
        assert ready == {"uid": self.uid, "message": "SERVER_READY", "backend": "faster_whisper"}
        for target in (self._receive, self._send):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _receive(self) -> None:
        assert self._ws is not None
        self._ws.settimeout(None)
        while True:
            try:
                opcode, data = self._ws.recv_data(control_frame=True)
            except Exception:
                self.closed_at = self.closed_at or time.monotonic()
                return
            now = time.monotonic()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                self.close_reason = data[2:].decode("utf-8", "replace")
                self.closed_at = now
                return
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.messages.append((now, json.loads(data)))

    def _send(self) -> None:
        assert self._ws is not None
        start = time.monotonic()
        sent = 0
        while self.closed_at is None:
            offset = (sent * FRAME) % max(1, self.audio.size - FRAME)
            frame = self.audio[offset : offset + FRAME].astype(np.float32)
            delay = start + (sent + 1) * FRAME / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self._ws.send_binary(frame.tobytes())
            except Exception:
                return
            sent += 1

    def has_segments(self) -> bool:
        return any("segments" in message for _, message in self.messages)

    def wait_closed(self, timeout_s: float) -> None:
        assert wait_for(lambda: self.closed_at is not None, timeout_s, 0.02), "not closed"

    def error_message(self) -> tuple[float, dict]:
        errors = [(t, m) for t, m in self.messages if m.get("status") == "ERROR"]
        assert len(errors) == 1, self.messages[-3:]
        return errors[0]

    def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
        for thread in self._threads:
            thread.join(5)


def assert_openai_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert error["code"] == code, error
    return str(error["message"])


def transcribe(gateway: Gateway, path: Path) -> str:
    with path.open("rb") as file:
        response = httpx.post(
            gateway.base_url + TRANSCRIPTIONS,
            files={"file": (path.name, file, "application/octet-stream")},
            data={"model": "whisper-1"},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_built()
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def worker(root: Path) -> Iterator[Worker]:
    worker = Worker(log_path=root / "worker.log", model_dir=TINY_EN)
    worker.start()
    try:
        yield worker
    finally:
        if worker.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGCONT)
        worker.stop()


def start_gateway(root: Path, name: str, worker: Worker, **env: str) -> Gateway:
    gateway = Gateway(
        log_path=root / f"{name}.log",
        tmp_dir=root / f"{name}-uploads",
        model_dir=TINY_EN,
        worker_address=worker.address,
        extra_env=env,
    )
    gateway.start()
    gateway.wait_healthy(180)
    return gateway


@pytest.fixture(scope="module")
def gateway(root: Path, worker: Worker) -> Iterator[Gateway]:
    gateway = start_gateway(root, "gateway", worker)
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def slow_ffmpeg_gateway(root: Path, worker: Worker, gateway: Gateway) -> Iterator[Gateway]:
    """A gateway whose ffmpeg reads its input in real time (`-re`), so it lives long enough
    to be killed or stopped mid-decode."""
    wrapper = root / "ffmpeg-realtime"
    wrapper.write_text('#!/bin/sh\nexec ffmpeg -re "$@"\n')
    wrapper.chmod(0o755)
    slow = start_gateway(root, "slow-ffmpeg", worker, FFMPEG_PATH=str(wrapper))
    try:
        yield slow
    finally:
        slow.stop()


def restore(worker: Worker) -> None:
    """Resumes a stopped worker, or starts it again after a kill."""
    assert worker.process is not None
    if worker.process.poll() is None:
        os.kill(worker.process.pid, signal.SIGCONT)
    else:
        worker.start()


def assert_clean(gateway: Gateway) -> None:
    """The gateway is up and serving, its temp dir is empty and no ffmpeg is left."""
    assert gateway.process is not None
    assert gateway.process.poll() is None, gateway.log_tail()
    gateway.wait_healthy(180)
    assert wait_for(lambda: not gateway.temp_files(), 10), gateway.temp_files()
    assert wait_for(lambda: not ffmpeg_children(gateway), 10), ffmpeg_children(gateway)


@pytest.fixture
def faults(worker: Worker, gateway: Gateway) -> Iterator[tuple[Worker, Gateway]]:
    """The worker and the gateway; afterwards the worker is restored and all is checked."""
    gateway.wait_healthy(180)
    yield worker, gateway
    restore(worker)
    assert_clean(gateway)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return np.asarray(decode_audio(str(JFK)), dtype=np.float32)


# -- tests ----------------------------------------------------------------------------------


def test_faults_worker_killed_mid_live_ends_each_session_within_2s(
    faults: tuple[Worker, Gateway], speech: np.ndarray
) -> None:
    worker, gateway = faults
    url = f"ws://127.0.0.1:{gateway.ws_port}"
    clients = [LiveClient(url, speech).connect() for _ in range(2)]
    try:
        assert wait_for(lambda: all(c.has_segments() for c in clients), 60), "no segments"
        assert worker.process is not None
        killed_at = time.monotonic()
        worker.process.send_signal(signal.SIGKILL)
        for client in clients:
            client.wait_closed(10)
        worker.process.wait()
        for client in clients:
            error_at, error = client.error_message()
            assert error == {"uid": client.uid, "status": "ERROR", "message": "worker unavailable"}
            assert client.close_code == 1011
            assert client.close_reason == "worker unavailable"
            assert client.closed_at is not None
            assert error_at <= client.closed_at
            assert client.closed_at - killed_at <= KILL_BOUND_S
        worst = max(c.closed_at or 0 for c in clients) - killed_at
        record_metric("fault: worker killed -> live closed (s)", f"{worst:.2f}")
        # The gateway itself stays up and says why it cannot serve.
        health = httpx.get(gateway.base_url + "/health", timeout=2)
        assert health.status_code == 503
        assert "unreachable" in health.json()["reason"]
    finally:
        for client in clients:
            client.close()


def test_faults_worker_killed_mid_file_answers_503_within_2s(
    faults: tuple[Worker, Gateway],
) -> None:
    worker, gateway = faults
    request = start_streaming_file(gateway)
    assert worker.process is not None
    killed_at = time.monotonic()
    worker.process.send_signal(signal.SIGKILL)
    response = request.wait(10)
    worker.process.wait()
    assert request.done_at is not None
    elapsed = request.done_at - killed_at
    message = assert_openai_error(response, 503, "worker_unavailable")
    assert message.startswith("The transcription worker is unavailable"), message
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed <= KILL_BOUND_S
    record_metric("fault: worker killed -> file 503 (s)", f"{elapsed:.2f}")


def test_faults_worker_hung_ends_live_and_file_in_bounded_time(
    faults: tuple[Worker, Gateway], speech: np.ndarray
) -> None:
    worker, gateway = faults
    client = LiveClient(f"ws://127.0.0.1:{gateway.ws_port}", speech).connect()
    try:
        assert wait_for(client.has_segments, 60), "no segments"
        request = start_streaming_file(gateway)
        assert worker.process is not None
        stopped_at = time.monotonic()
        worker.process.send_signal(signal.SIGSTOP)

        # /health answers fast all along, and soon says the worker is not responding.
        slowest = 0.0
        reason = ""
        while time.monotonic() - stopped_at < HUNG_BOUND_S + 1:
            started = time.monotonic()
            health = httpx.get(gateway.base_url + "/health", timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            if health.status_code == 503:
                reason = health.json()["reason"]
                break
            time.sleep(0.2)
        assert reason.endswith("is not responding (missed its health check)"), reason
        assert slowest < 1.0

        client.wait_closed(HUNG_BOUND_S + 2)
        assert client.closed_at is not None
        _, error = client.error_message()
        assert error == {
            "uid": client.uid,
            "status": "ERROR",
            "message": "worker unavailable: it stopped responding",
        }
        assert client.close_code == 1011
        live_s = client.closed_at - stopped_at
        assert live_s <= HUNG_BOUND_S

        response = request.wait(HUNG_BOUND_S + 2)
        assert request.done_at is not None
        file_s = request.done_at - stopped_at
        message = assert_openai_error(response, 503, "worker_unavailable")
        assert message == (
            "The transcription worker stopped responding "
            "(no answer to a health check within 10 s); retry shortly."
        )
        assert int(response.headers["Retry-After"]) >= 1
        assert file_s <= HUNG_BOUND_S
        record_metric("fault: worker hung -> live closed (s)", f"{live_s:.2f}")
        record_metric("fault: worker hung -> file 503 (s)", f"{file_s:.2f}")
        record_metric("fault: worker hung -> slowest /health (s)", f"{slowest:.3f}")
    finally:
        client.close()
        if worker.process is not None:
            os.kill(worker.process.pid, signal.SIGCONT)

    # Resumed, the same worker serves again.
    gateway.wait_healthy(60)
    assert "fellow Americans" in transcribe(gateway, JFK)


def upload_decoding(gateway: Gateway) -> tuple[FileRequest, int]:
    """The long file posted, and the pid of the ffmpeg decoding it a second into the decode."""
    request = FileRequest(gateway, LONG_FILE).start()
    pid = wait_for_ffmpeg(gateway)
    time.sleep(1)
    return request, pid


def test_faults_ffmpeg_killed_is_500_within_2s(
    faults: tuple[Worker, Gateway], slow_ffmpeg_gateway: Gateway
) -> None:
    gateway = slow_ffmpeg_gateway
    request, pid = upload_decoding(gateway)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    response = request.wait(10)
    assert request.done_at is not None
    elapsed = request.done_at - killed_at
    message = assert_openai_error(response, 500, "internal_error")
    assert message == (
        "The audio decoder (ffmpeg) was killed by SIGKILL before it finished; retry the request."
    )
    assert elapsed <= FFMPEG_KILL_BOUND_S
    record_metric("fault: ffmpeg killed -> 500 (s)", f"{elapsed:.2f}")
    assert_clean(gateway)


def test_faults_ffmpeg_hung_is_504_within_the_stall_timeout(
    faults: tuple[Worker, Gateway], slow_ffmpeg_gateway: Gateway
) -> None:
    gateway = slow_ffmpeg_gateway
    request, pid = upload_decoding(gateway)
    stopped_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        response = request.wait(FFMPEG_STALL_BOUND_S + 5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert request.done_at is not None
    elapsed = request.done_at - stopped_at
    message = assert_openai_error(response, 504, "decode_timeout")
    assert message == "The audio decoder (ffmpeg) produced no output for 10 s and was stopped."
    assert elapsed <= FFMPEG_STALL_BOUND_S
    # Killed and reaped: neither running nor a zombie.
    assert not Path(f"/proc/{pid}").exists()
    record_metric("fault: ffmpeg hung -> 504 (s)", f"{elapsed:.2f}")
    assert_clean(gateway)


def test_faults_gateway_restarted_reconnects_to_a_live_worker(
    faults: tuple[Worker, Gateway], speech: np.ndarray
) -> None:
    _, gateway = faults
    client = LiveClient(f"ws://127.0.0.1:{gateway.ws_port}", speech).connect()
    try:
        assert wait_for(client.has_segments, 60), "no segments"
        assert gateway.process is not None
        gateway.process.kill()
        gateway.process.wait()
        client.wait_closed(5)
    finally:
        client.close()

    restarted_at = time.monotonic()
    gateway.start()
    gateway.wait_healthy(60)
    record_metric(
        "fault: gateway restarted -> healthy (s)", f"{time.monotonic() - restarted_at:.2f}"
    )
    # The worker let go of the dead gateway's stream.
    assert wait_for(
        lambda: (
            httpx.get(gateway.base_url + "/health", timeout=2).json()["load"]["active_streams"] == 0
        ),
        15,
    )
    assert "fellow Americans" in transcribe(gateway, JFK)
    # The file's config carried the duration ffmpeg read from the WAV header (11.00 s).
    assert any(
        '"audio_duration_ms":11000' in line and "file audio" in line
        for line in gateway.log_path.read_text(errors="replace").splitlines()
    ), gateway.log_tail()
    again = LiveClient(f"ws://127.0.0.1:{gateway.ws_port}", speech).connect()
    try:
        assert wait_for(again.has_segments, 60), "no segments after the restart"
    finally:
        again.close()


def is_running(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def test_faults_gateway_killed_takes_its_local_worker_along(root: Path) -> None:
    """SIGKILL leaves a gateway no time to stop the worker it spawned; the kernel does it
    (`setpriv --pdeathsig KILL`), so no orphaned worker keeps a model in memory."""
    gateway = Gateway(
        log_path=root / "local-gateway.log", tmp_dir=root / "local-uploads", model_dir=TINY_EN
    )
    gateway.start()
    try:
        gateway.wait_healthy(180)
        assert gateway.process is not None
        workers = [
            pid
            for pid, comm, state in proc_children(gateway.process.pid)
            if comm.startswith("python") and state != "Z"
        ]
        assert len(workers) == 1, proc_children(gateway.process.pid)
        killed_at = time.monotonic()
        gateway.process.kill()
        gateway.process.wait()
        assert wait_for(lambda: not is_running(workers[0]), 5, 0.02), "worker outlived gateway"
        record_metric(
            "fault: gateway killed -> local worker gone (s)", f"{time.monotonic() - killed_at:.2f}"
        )
    finally:
        gateway.stop()
