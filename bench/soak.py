#!/usr/bin/env python3
"""Soak test: mixed traffic for a while, then a leak check and a PASS/FAIL verdict.

usage: .venv/bin/python bench/soak.py [--minutes 3] [--live 2] [--files 1] [--bad 1]
                                      [--json PATH] [--url URL --ws-url URL --tmp-dir DIR]

Drives the server with four kinds of traffic at once, each from its own workers (threads),
for --minutes, then stops by itself:

  live      WhisperLive WebSocket sessions: options JSON, SERVER_READY, real speech (1-3
            clips of ../shared/audio joined by 1 s of silence) sent as float32 frames of 4096
            samples paced in real time, END_OF_AUDIO, then the final segments and the
            server's close. Latency: END_OF_AUDIO to the close (the final flush).
  upload:F  POST /v1/audio/transcriptions of real speech as F = wav, flac, mp3, ogg (opus),
            m4a (aac) or webm (opus), rotating response_format json, text, verbose_json
            (word timestamps), srt, vtt; `legacy` is POST /transcribe. Latency: whole request.
  sse       the same upload with stream=true: transcript.text.delta events, then
            transcript.text.done. Latency: whole stream.
  bad:*     requests that must be refused: bad:garbage (random bytes, 415), bad:png (an
            image named .wav, 415), bad:empty (400), bad:truncated (an mp3 cut after its
            header, 400), bad:content-type (JSON or text/plain body instead of multipart,
            400/415), bad:field (response_format=xml, 400), bad:options (WebSocket first
            frame that is not JSON, is binary, has wrong types or an unknown audio_format:
            WhisperLive status ERROR), bad:auth (wrong API key, 401; only with --api-key).
  abort:*   clients that vanish, answered by nothing: abort:upload (TCP reset halfway through
            the multipart body), abort:transcribing (whole upload sent, reset while the
            server transcribes it), abort:sse (reset after the first stream event),
            abort:ws (reset mid-stream after SERVER_READY, no close frame), abort:ws-close
            (close frame mid-stream, no END_OF_AUDIO). Counted as sent, never as unanswered;
            what they leave behind shows in the samples.
  health    GET /health, once per sample.

Every loop is bounded in count (--max-requests per worker, 5000) and in time: no request
starts after the deadline, a live session starts only when its audio ends before it, each
request has a timeout, and a worker backs off 2 s after a request that got no answer or a
WAIT (a full or vanished server is not hammered). Workers still busy --grace seconds after
the deadline are abandoned and their requests count as unanswered. Traffic goes only to
127.0.0.1 (loopback): --url and --ws-url must name a loopback host.

By default the script starts the server itself, as `make run` does: `node dist/gateway/main.js`
(build it first: node_modules/.bin/tsc -p tsconfig.build.json), which spawns the worker
(`python -m stt_worker`) on --model (tiny.en), with free ports, OMP_NUM_THREADS=--threads and
its own GATEWAY_TMP_DIR, and stops it at the end. With --url (and --ws-url) it targets a
running server instead; give --tmp-dir (else read from the gateway's environment when
possible) and --gateway-pid (else found as the process listening on the --url port).

Before the timed run a priming round sends one request of each kind and waits until the
server is idle, then the idle baseline sample is taken (so one-time allocations made by the
first requests do not count as growth; --no-prime skips it). Every --interval seconds a
sample records, from /proc: RSS and open descriptors of the gateway and of its worker child
(the child process whose command line has `stt_worker`), files in the temp dir, ffmpeg
processes below the gateway, the worker pid (a change is a worker restart), /health (its
status, live streams and queue depth) and the machine's 1-minute load average (latencies on
a shared machine follow it). After the deadline the script waits for the workers, lets the
server settle (--settle) and takes a final idle sample. Descriptor kinds (socket, pipe,
eventfd, paths) of the baseline and final samples are compared, to name what grew.

The work dir it prints (/tmp/stt-soak-*) keeps the started gateway's log (gateway.log, its
worker's lines included) for a look at what the numbers say.

Report (printed; with --json also a JSON file): per kind, requests sent, answered, answered
as expected, latency p50/p95, WER of the returned text against the manifest reference, and
every outcome (HTTP status, WhisperLive status or close code, exception class) with its
count; the samples over time; and the verdict against issue #9's bar:

  every request answered        sent == answered for every kind but abort:*;
  no server faults              no 5xx but 503, no WhisperLive ERROR or close 1011 on a
                                valid session;
  RSS within +-10 % after warm-up  first sample at or after --warmup seconds vs. the final
                                sample, gateway and worker each (--rss-tolerance);
  no descriptor growth          final idle sample vs. idle baseline, each process
                                (--fd-tolerance descriptors allowed);
  no temp-file growth           no file left in the temp dir at the end;
  no ffmpeg left                no ffmpeg process left below the gateway at the end;
  worker not restarted          the same worker pid throughout;
  gateway up throughout         the gateway process never vanished (if it does, the
                                traffic stops at the next sample and the run FAILs).

Exit status 0 on PASS, 1 on FAIL, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import websocket  # websocket-client, as WhisperLive's own client uses

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN, Gateway
from e2e.hostile import png_bytes
from e2e.live_client import FRAME, RATE, StreamResult
from e2e.speech import Clip, clips, wer, write_wav

TRANSCRIPTIONS = "/v1/audio/transcriptions"
UPLOAD_FORMATS = ("wav", "flac", "mp3", "ogg", "m4a", "webm")
# ffmpeg arguments that encode each compressed format (wav and flac need no ffmpeg).
FFMPEG_CODECS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
    "flac": ["-c:a", "flac"],
}
RESPONSE_FORMATS = ("json", "text", "verbose_json", "srt", "vtt")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# ---------------------------------------------------------------------------- accounting


@dataclass
class Outcome:
    """What one request got back."""

    kind: str
    label: str
    """HTTP status, WhisperLive status or close code, or the exception class."""
    answered: bool | None
    """None: no answer was expected (the client aborted by design)."""
    expected: bool
    fault: bool
    """A server fault: 5xx other than 503, WhisperLive ERROR or close 1011 on a valid session."""
    latency_s: float | None = None
    text: str | None = None
    reference: str | None = None


@dataclass
class KindStats:
    sent: int = 0
    answered: int = 0
    expects_answer: bool = True
    expected: int = 0
    faults: int = 0
    latencies: list[float] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    texts: list[tuple[str, str]] = field(default_factory=list)


class Stats:
    """Thread-safe counters per request kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kinds: dict[str, KindStats] = {}

    def _kind(self, kind: str) -> KindStats:
        return self.kinds.setdefault(kind, KindStats())

    def sent(self, kind: str) -> None:
        with self._lock:
            self._kind(kind).sent += 1

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            k = self._kind(outcome.kind)
            k.labels[outcome.label] += 1
            if outcome.answered is None:
                k.expects_answer = False
            elif outcome.answered:
                k.answered += 1
            if outcome.expected:
                k.expected += 1
            else:
                k.unexpected[outcome.label] += 1
            if outcome.fault:
                k.faults += 1
            if outcome.latency_s is not None and outcome.answered:
                k.latencies.append(outcome.latency_s)
            if outcome.text is not None and outcome.reference is not None:
                k.texts.append((outcome.reference, outcome.text))

    def in_flight(self) -> int:
        with self._lock:
            return sum(k.sent - sum(k.labels.values()) for k in self.kinds.values())


def track(stats: Stats, kind: str, call: Callable[[], Outcome]) -> Outcome:
    """Counts one request as sent, runs it and records its outcome (an exception too)."""
    stats.sent(kind)
    started = time.perf_counter()
    try:
        outcome = call()
    except Exception as error:
        outcome = Outcome(kind, type(error).__name__, answered=False, expected=False, fault=False)
    if outcome.latency_s is None and outcome.answered:
        outcome.latency_s = time.perf_counter() - started
    stats.record(outcome)
    return outcome


def http_outcome(
    kind: str,
    status: int,
    expected: set[int],
    started: float,
    text: str | None = None,
    reference: str | None = None,
) -> Outcome:
    return Outcome(
        kind,
        str(status),
        answered=True,
        expected=status in expected,
        fault=status >= 500 and status != 503,
        latency_s=time.perf_counter() - started,
        text=text,
        reference=reference,
    )


# ---------------------------------------------------------------------------- media


@dataclass(frozen=True)
class Upload:
    path: Path
    reference: str
    audio_s: float


@dataclass
class Media:
    """Real speech prepared once: decoded clips for live sessions, files for uploads."""

    live: list[tuple[np.ndarray, str]]
    uploads: dict[str, list[Upload]]
    mp3_bytes: bytes


def english_clips(min_s: float, max_s: float) -> list[Clip]:
    return [
        c
        for c in clips()
        if c.language == "en"
        and c.reference_quality.startswith("exact")
        and c.set in ("samples", "ljspeech", "librispeech", "lj_prompts_nonnative")
        and min_s <= c.duration_s <= max_s
        and c.path.exists()
    ]


def prepare_media(directory: Path, rng: random.Random, live_pool: int, upload_pool: int) -> Media:
    from faster_whisper.audio import decode_audio

    directory.mkdir(parents=True, exist_ok=True)
    candidates = english_clips(2.0, 15.0)
    if not candidates:
        raise RuntimeError("no English clips in ../shared/audio/manifest.jsonl")
    live = [
        (decode_audio(str(c.path)).astype(np.float32), c.text)
        for c in rng.sample(candidates, min(live_pool, len(candidates)))
    ]
    uploads: dict[str, list[Upload]] = {f: [] for f in UPLOAD_FORMATS}
    for i, c in enumerate(rng.sample(candidates, min(upload_pool, len(candidates)))):
        audio = decode_audio(str(c.path))
        wav = directory / f"clip{i}.wav"
        write_wav(wav, audio, RATE)
        uploads["wav"].append(Upload(wav, c.text, c.duration_s))
        for fmt, codec in FFMPEG_CODECS.items():
            target = directory / f"clip{i}.{fmt}"
            done = subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-i",
                    str(wav),
                    *codec,
                    str(target),
                ],
                check=False,
            )
            if done.returncode == 0 and target.exists():
                uploads[fmt].append(Upload(target, c.text, c.duration_s))
    uploads = {f: u for f, u in uploads.items() if u}
    mp3 = uploads.get("mp3") or uploads["wav"]
    return Media(live, uploads, mp3[0].path.read_bytes())


# ---------------------------------------------------------------------------- traffic


@dataclass
class Target:
    base_url: str
    ws_url: str
    api_key: str | None
    ws_model: str
    request_timeout_s: float
    flush_timeout_s: float

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @property
    def http_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.base_url)
        return parts.hostname or "127.0.0.1", parts.port or 80


def live_options(uid: str, model: str, use_vad: bool) -> dict[str, Any]:
    """The options the stock WhisperLive Python client sends (its defaults)."""
    return {
        "uid": uid,
        "language": "en",
        "task": "transcribe",
        "model": model,
        "use_vad": use_vad,
        "send_last_n_segments": 10,
        "no_speech_thresh": 0.45,
        "clip_audio": False,
        "same_output_threshold": 10,
    }


class LiveSocket:
    """One WhisperLive connection: a receiver thread keeps the transcript and the close."""

    def __init__(self, target: Target) -> None:
        self.ws = websocket.create_connection(
            target.ws_url, timeout=30, header=[f"{k}: {v}" for k, v in target.headers.items()]
        )
        self.result = StreamResult()
        self.statuses: list[str] = []
        self.close_code: int | None = None
        self.closed = threading.Event()
        self._thread: threading.Thread | None = None

    def first_message(self) -> dict[str, Any] | None:
        """The server's first message (None when it closed instead)."""
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            self.closed.set()
            return None
        return json.loads(data)

    def start_receiving(self) -> None:
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        self.ws.settimeout(1.0)
        while not self.closed.is_set():
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:  # the socket is gone: no close frame came
                self.closed.set()
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self.closed.set()
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            message = json.loads(data)
            if "status" in message:
                self.statuses.append(f"{message['status']}: {message.get('message')}")
            if message.get("message") == "DISCONNECT":
                self.statuses.append("DISCONNECT")
            if "segments" not in message:
                continue
            self.result.last_partial = ""
            for seg in message["segments"]:
                key = (seg.get("start", "0"), seg.get("end", "0"))
                if seg.get("completed"):
                    self.result.committed.setdefault(key, seg["text"])
                else:
                    self.result.last_partial = seg["text"]

    def send_audio(self, audio: np.ndarray, seconds: float | None = None) -> bool:
        """Sends audio in real time (all of it, or its first `seconds`); False if closed."""
        end = audio.size if seconds is None else min(audio.size, int(seconds * RATE))
        start = time.perf_counter()
        for i in range(0, end, FRAME):
            if self.closed.is_set():
                return False
            frame = audio[i : min(i + FRAME, end)]
            delay = start + (i + frame.size) / RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                self.ws.send_binary(frame.astype(np.float32).tobytes())
            except (OSError, websocket.WebSocketException):
                # The server went away: its close frame, if any, is the receiver's to read.
                self.closed.wait(2)
                return False
        return True

    def reset(self) -> None:
        """Drops the TCP connection with a reset: no close frame, no FIN."""
        sock = self.ws.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.closed.set()
        with contextlib.suppress(Exception):
            self.ws.shutdown()

    def close(self) -> None:
        self.closed.set()
        if self._thread is not None:
            self._thread.join(3)
        with contextlib.suppress(Exception):
            self.ws.close(timeout=3)
        # close() does nothing once the server's close frame came; the socket must still go,
        # or the server keeps its end (FIN_WAIT2) until our garbage collector runs.
        with contextlib.suppress(Exception):
            self.ws.shutdown()


def ready_or_outcome(kind: str, conn: LiveSocket, target: Target, use_vad: bool) -> Outcome | None:
    """Sends the options; None once SERVER_READY came, else the outcome (WAIT, ERROR...)."""
    conn.ws.send(json.dumps(live_options(str(uuid.uuid4()), target.ws_model, use_vad)))
    first = conn.first_message()
    if first is None:
        return Outcome(kind, f"close {conn.close_code}", True, False, conn.close_code == 1011)
    if first.get("message") == "SERVER_READY":
        return None
    status = str(first.get("status", "?"))
    return Outcome(kind, f"WS {status}", True, status == "WAIT", status == "ERROR")


def live_session(target: Target, audio: np.ndarray, reference: str, use_vad: bool) -> Outcome:
    kind = "live"
    conn = LiveSocket(target)
    try:
        refused = ready_or_outcome(kind, conn, target, use_vad)
        if refused is not None:
            return refused
        conn.start_receiving()
        complete = conn.send_audio(audio)
        if complete:
            conn.ws.send_binary(b"END_OF_AUDIO")
        flushed_at = time.perf_counter()
        conn.closed.wait(target.flush_timeout_s)
        latency = time.perf_counter() - flushed_at
        errors = [s for s in conn.statuses if s.startswith("ERROR")]
        if errors:
            return Outcome(kind, "WS ERROR", True, False, True)
        if conn.close_code is None:
            if not complete:
                label = "dropped mid-stream"
            elif conn.closed.is_set():
                label = "dropped after END_OF_AUDIO"
            else:
                label = "flush timeout"
            return Outcome(kind, label, False, False, False)
        code = conn.close_code
        return Outcome(
            kind,
            f"close {code}" + ("" if complete else " mid-stream"),
            answered=True,
            expected=code == 1000 and complete,
            fault=code == 1011,
            latency_s=latency if complete else None,
            text=conn.result.text() if complete else None,
            reference=reference,
        )
    finally:
        conn.close()


def live_abort(target: Target, audio: np.ndarray, with_close_frame: bool) -> Outcome:
    kind = "abort:ws-close" if with_close_frame else "abort:ws"
    conn = LiveSocket(target)
    try:
        refused = ready_or_outcome(kind, conn, target, use_vad=False)
        if refused is not None:
            refused.answered = None
            return refused
        conn.start_receiving()
        conn.send_audio(audio, seconds=1.5)
        if not with_close_frame:
            conn.reset()
        return Outcome(kind, "aborted", None, True, False)
    finally:
        conn.close()


def bad_options(target: Target, variant: int) -> Outcome:
    """A first frame the server must refuse with WhisperLive's ERROR status."""
    kind = "bad:options"
    started = time.perf_counter()
    conn = LiveSocket(target)
    try:
        uid = str(uuid.uuid4())
        if variant % 5 == 0:
            conn.ws.send("this is not json {")
        elif variant % 5 == 1:
            conn.ws.send_binary(np.zeros(FRAME, np.float32).tobytes())
        elif variant % 5 == 2:
            conn.ws.send(json.dumps([1, 2, 3]))
        elif variant % 5 == 3:
            conn.ws.send(json.dumps({"uid": uid, "language": 5, "task": "sing", "use_vad": "x"}))
        else:
            conn.ws.send(json.dumps({**live_options(uid, "small", False), "audio_format": "mp3"}))
        first = conn.first_message()
        latency = time.perf_counter() - started
        if first is None:
            return Outcome(kind, f"close {conn.close_code}", True, False, False, latency)
        status = str(first.get("status", first.get("message", "?")))
        return Outcome(kind, f"WS {status}", True, status == "ERROR", False, latency)
    finally:
        conn.close()


def multipart(path: Path | None, content: bytes | None, name: str, **data: str) -> dict[str, Any]:
    payload = content if content is not None else path.read_bytes()  # type: ignore[union-attr]
    return {
        "files": {"file": (name, payload, "application/octet-stream")},
        "data": {"model": "whisper-1", **data},
    }


def upload(client: httpx.Client, target: Target, fmt: str, item: Upload, rf: str) -> Outcome:
    kind = f"upload:{fmt}"
    extra = {"response_format": rf}
    if rf == "verbose_json":
        extra["timestamp_granularities[]"] = "word"
    started = time.perf_counter()
    response = client.post(
        target.base_url + TRANSCRIPTIONS, **multipart(item.path, None, item.path.name, **extra)
    )
    text = None
    if response.status_code == 200:
        if rf in ("json", "verbose_json"):
            text = str(response.json()["text"])
        elif rf == "text":
            text = response.text
    outcome = http_outcome(
        kind, response.status_code, {200, 503}, started, text=text, reference=item.reference
    )
    if response.status_code == 200 and not response.text.strip():
        outcome.label, outcome.expected = "200 empty body", False
    return outcome


def legacy_upload(client: httpx.Client, target: Target, item: Upload) -> Outcome:
    started = time.perf_counter()
    response = client.post(
        target.base_url + "/transcribe",
        files={"file": (item.path.name, item.path.read_bytes(), "audio/wav")},
        data={"task": "transcribe"},
    )
    text = None
    if response.status_code == 200:
        body = response.json()
        text = " ".join(s["text"].strip() for s in body.get("segments", []))
    return http_outcome(
        "legacy", response.status_code, {200, 503}, started, text=text, reference=item.reference
    )


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[6:])


def sse(client: httpx.Client, target: Target, item: Upload) -> Outcome:
    kind = "sse"
    started = time.perf_counter()
    form = multipart(item.path, None, item.path.name, stream="true")
    with client.stream("POST", target.base_url + TRANSCRIPTIONS, **form) as response:
        if response.status_code != 200:
            response.read()
            return http_outcome(kind, response.status_code, {503}, started)
        deltas: list[str] = []
        for event in sse_events(response.iter_lines()):
            if event.get("type") == "transcript.text.delta":
                deltas.append(event["delta"])
            elif event.get("type") == "transcript.text.done":
                done = str(event["text"])
                outcome = http_outcome(
                    kind, 200, {200}, started, text=done, reference=item.reference
                )
                if "".join(deltas).strip() != done.strip():
                    outcome.label, outcome.expected = "200 deltas != done", False
                return outcome
            elif "error" in event:
                code = event["error"].get("code") or event["error"].get("type")
                return Outcome(kind, f"SSE error {code}", True, False, True)
    return Outcome(kind, "stream ended without done", False, False, False)


def sse_abort(target: Target, item: Upload) -> Outcome:
    kind = "abort:sse"
    form = multipart(item.path, None, item.path.name, stream="true")
    with (
        httpx.Client(timeout=target.request_timeout_s, headers=target.headers) as client,
        client.stream("POST", target.base_url + TRANSCRIPTIONS, **form) as response,
    ):
        if response.status_code != 200:
            response.read()
            return Outcome(
                kind, str(response.status_code), None, False, response.status_code >= 500
            )
        for _ in sse_events(response.iter_lines()):
            break  # first event: go away
    return Outcome(kind, "aborted", None, True, False)


def raw_abort(target: Target, item: Upload, after_body: bool) -> Outcome:
    """A multipart upload over a raw socket, reset halfway through the body or just after it."""
    kind = "abort:transcribing" if after_body else "abort:upload"
    content = item.path.read_bytes()
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{item.path.name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = target.http_host_port
    auth = "".join(f"{k}: {v}\r\n" for k, v in target.headers.items())
    request = (
        f"POST {TRANSCRIPTIONS} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(content) + len(tail)}\r\n\r\n"
    ).encode()
    body = head + content + tail if after_body else head + content[: len(content) // 2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request + body)
        time.sleep(0.5 if after_body else 0.2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return Outcome(kind, "aborted", None, True, False)


def bad_http(
    client: httpx.Client, target: Target, media: Media, name: str, variant: int
) -> Outcome:
    url = target.base_url + TRANSCRIPTIONS
    started = time.perf_counter()
    wav = media.uploads["wav"][0].path
    if name == "bad:garbage":
        response = client.post(url, **multipart(None, os.urandom(64 * 1024), "noise.wav"))
        expected = {415}
    elif name == "bad:png":
        response = client.post(url, **multipart(None, png_bytes(), "picture.wav"))
        expected = {415}
    elif name == "bad:empty":
        response = client.post(url, **multipart(None, b"", "empty.wav"))
        expected = {400}
    elif name == "bad:truncated":
        response = client.post(url, **multipart(None, media.mp3_bytes[:200], "cut.mp3"))
        expected = {400}
    elif name == "bad:content-type":
        if variant % 2 == 0:
            response = client.post(url, json={"file": "speech.wav", "model": "whisper-1"})
        else:
            response = client.post(
                url, content=wav.read_bytes(), headers={"Content-Type": "text/plain"}
            )
        expected = {400, 415}
    elif name == "bad:field":
        response = client.post(url, **multipart(wav, None, wav.name, response_format="xml"))
        expected = {400}
    elif name == "bad:auth":
        response = client.post(
            url,
            **multipart(wav, None, wav.name),
            headers={"Authorization": "Bearer wrong-key"},
        )
        expected = {401}
    else:
        raise ValueError(name)
    return http_outcome(name, response.status_code, expected, started)


# ---------------------------------------------------------------------------- workers


@dataclass
class Plan:
    deadline: float
    max_requests: int
    stop: threading.Event
    pause_s: float

    def may_start(self, count: int, needs_s: float = 0.0) -> bool:
        if self.stop.is_set() or (self.max_requests and count >= self.max_requests):
            return False
        return time.monotonic() + needs_s < self.deadline

    def rest(self, outcome: Outcome) -> None:
        """The pause between requests; longer after no answer or a WAIT (no busy loop)."""
        backoff = 0.0 if outcome.answered is not False and "WAIT" not in outcome.label else 2.0
        self.stop.wait(self.pause_s + backoff)


def live_audio(media: Media, rng: random.Random, max_s: float) -> tuple[np.ndarray, str]:
    """1-3 clips joined by 1 s of silence, at most max_s long (at least one clip)."""
    gap = np.zeros(RATE, np.float32)
    parts: list[np.ndarray] = []
    texts: list[str] = []
    for audio, text in rng.sample(media.live, min(rng.randint(1, 3), len(media.live))):
        if parts and (sum(p.size for p in parts) + gap.size + audio.size) / RATE > max_s:
            break
        if parts:
            parts.append(gap)
        parts.append(audio)
        texts.append(text)
    return np.concatenate(parts), " ".join(texts)


def live_worker(stats: Stats, target: Target, media: Media, plan: Plan, seed: int) -> None:
    rng = random.Random(seed)
    shortest = min(a.size for a, _ in media.live) / RATE
    count = 0
    while plan.may_start(count, shortest + 5):
        remaining = plan.deadline - time.monotonic() - 5
        audio, reference = live_audio(media, rng, min(30.0, remaining))
        if audio.size / RATE > remaining:
            break
        outcome = track(
            stats, "live", partial(live_session, target, audio, reference, rng.random() < 0.5)
        )
        count += 1
        plan.rest(outcome)


def file_worker(stats: Stats, target: Target, media: Media, plan: Plan, seed: int) -> None:
    rng = random.Random(seed)
    kinds = [*media.uploads, "sse", "legacy"]
    formats = itertools.cycle(RESPONSE_FORMATS)
    count = 0
    with httpx.Client(timeout=target.request_timeout_s, headers=target.headers) as client:
        for kind in itertools.cycle(kinds):
            if not plan.may_start(count):
                break
            if kind == "sse":
                item = rng.choice(media.uploads[rng.choice(list(media.uploads))])
                outcome = track(stats, "sse", partial(sse, client, target, item))
            elif kind == "legacy":
                item = rng.choice(media.uploads["wav"])
                outcome = track(stats, "legacy", partial(legacy_upload, client, target, item))
            else:
                item, rf = rng.choice(media.uploads[kind]), next(formats)
                outcome = track(
                    stats, f"upload:{kind}", partial(upload, client, target, kind, item, rf)
                )
            count += 1
            plan.rest(outcome)


BAD_HTTP = (
    "bad:garbage",
    "bad:png",
    "bad:empty",
    "bad:truncated",
    "bad:content-type",
    "bad:field",
)
ABORTS = ("abort:upload", "abort:transcribing", "abort:sse", "abort:ws", "abort:ws-close")


def bad_kinds(target: Target) -> list[str]:
    kinds = [*BAD_HTTP, "bad:options", *ABORTS]
    if target.api_key:
        kinds.append("bad:auth")
    return kinds


def one_bad(
    client: httpx.Client, target: Target, media: Media, kind: str, rng: random.Random, n: int
) -> Outcome:
    item = rng.choice(media.uploads["wav"])
    if kind == "bad:options":
        return bad_options(target, n)
    if kind == "abort:upload":
        return raw_abort(target, item, after_body=False)
    if kind == "abort:transcribing":
        return raw_abort(target, item, after_body=True)
    if kind == "abort:sse":
        return sse_abort(target, item)
    if kind in ("abort:ws", "abort:ws-close"):
        audio, _ = rng.choice(media.live)
        return live_abort(target, audio, with_close_frame=kind == "abort:ws-close")
    return bad_http(client, target, media, kind, n)


def bad_worker(stats: Stats, target: Target, media: Media, plan: Plan, seed: int) -> None:
    rng = random.Random(seed)
    count = 0
    with httpx.Client(timeout=target.request_timeout_s, headers=target.headers) as client:
        for kind in itertools.cycle(bad_kinds(target)):
            if not plan.may_start(count):
                break
            outcome = track(stats, kind, partial(one_bad, client, target, media, kind, rng, count))
            count += 1
            plan.rest(outcome)


def prime(stats: Stats, target: Target, media: Media) -> None:
    """One request of every kind, one after another, so lazy allocations happen first."""
    rng = random.Random(0)
    audio, reference = media.live[0]
    track(stats, "live", lambda: live_session(target, audio, reference, False))
    with httpx.Client(timeout=target.request_timeout_s, headers=target.headers) as client:
        for fmt, items in media.uploads.items():
            track(stats, f"upload:{fmt}", partial(upload, client, target, fmt, items[0], "json"))
        track(stats, "sse", lambda: sse(client, target, media.uploads["wav"][0]))
        track(stats, "legacy", lambda: legacy_upload(client, target, media.uploads["wav"][0]))
        for n, kind in enumerate(bad_kinds(target)):
            track(stats, kind, partial(one_bad, client, target, media, kind, rng, n))


# ---------------------------------------------------------------------------- sampling


def proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, comm) of every process we can see."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        table[int(entry)] = (ppid, comm)
    return table


def descendants(root: int, table: dict[int, tuple[int, str]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def is_running(pid: int) -> bool:
    """The process exists and is no zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def fd_count(pid: int | None) -> int | None:
    if pid is None or not is_running(pid):
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_kinds(pid: int | None) -> Counter[str]:
    """What a process's descriptors point at: socket, pipe, anon_inode:[eventfd], a path..."""
    kinds: Counter[str] = Counter()
    if pid is None:
        return kinds
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                kinds[link.split(":[")[0] if link.startswith(("socket:", "pipe:")) else link] += 1
    return kinds


def fd_diff(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    """Descriptor kinds whose count changed (after - before)."""
    keys = set(before) | set(after)
    return {k: after[k] - before[k] for k in sorted(keys) if after[k] != before[k]}


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/loadavg").read_text().split()[0]
    return "n/a"


def pid_listening_on(port: int) -> int | None:
    """The process that holds the listening TCP socket of `port` (own processes only)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}") in wanted:
                        return int(entry)
    return None


def env_of(pid: int, name: str) -> str | None:
    with contextlib.suppress(OSError):
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            key, _, value = item.decode(errors="replace").partition("=")
            if key == name:
                return value
    return None


@dataclass
class Sample:
    t_s: float
    phase: str
    gateway_rss_mb: float | None
    gateway_fds: int | None
    worker_pid: int | None
    worker_rss_mb: float | None
    worker_fds: int | None
    temp_files: int | None
    ffmpeg: int
    in_flight: int
    health: str
    loadavg: str


class Sampler:
    def __init__(
        self,
        stats: Stats,
        target: Target,
        gateway_pid: int | None,
        worker_pid: int | None,
        tmp_dir: Path | None,
    ) -> None:
        self.stats = stats
        self.target = target
        self.gateway_pid = gateway_pid
        self.fixed_worker_pid = worker_pid
        self.tmp_dir = tmp_dir
        self.samples: list[Sample] = []
        self.fd_kinds: dict[str, tuple[Counter[str], Counter[str]]] = {}
        self.t0 = time.monotonic()
        self.died: str | None = None
        """Set when the gateway (or its worker, for good) is gone: what and when."""

    def worker_and_ffmpeg(self) -> tuple[int | None, int]:
        if self.gateway_pid is None:
            return self.fixed_worker_pid, 0
        table = proc_table()
        below = descendants(self.gateway_pid, table)
        ffmpeg = sum(1 for pid in below if table[pid][1].startswith("ffmpeg"))
        if self.fixed_worker_pid is not None:
            return self.fixed_worker_pid, ffmpeg
        workers = [pid for pid in below if "stt_worker" in cmdline(pid)]
        # The outermost one (a worker's own helpers would be below it).
        top = [pid for pid in workers if table[pid][0] not in workers]
        return (top[0] if top else None), ffmpeg

    def temp_files(self) -> int | None:
        if self.tmp_dir is None or not self.tmp_dir.exists():
            return None
        return sum(len(files) for _, _, files in os.walk(self.tmp_dir))

    def health(self) -> str:
        kind = "health"
        self.stats.sent(kind)
        started = time.perf_counter()
        try:
            response = httpx.get(self.target.base_url + "/health", timeout=10)
        except httpx.HTTPError as error:
            self.stats.record(Outcome(kind, type(error).__name__, False, False, False))
            return type(error).__name__
        self.stats.record(http_outcome(kind, response.status_code, {200}, started))
        if response.status_code != 200:
            return str(response.status_code)
        load = response.json().get("load") or {}
        return f"200 live={load.get('live_streams', '?')} q={load.get('queue_depth', '?')}"

    def take(self, phase: str) -> Sample:
        worker, ffmpeg = self.worker_and_ffmpeg()
        sample = Sample(
            t_s=round(time.monotonic() - self.t0, 1),
            phase=phase,
            gateway_rss_mb=rss_mb(self.gateway_pid),
            gateway_fds=fd_count(self.gateway_pid),
            worker_pid=worker,
            worker_rss_mb=rss_mb(worker),
            worker_fds=fd_count(worker),
            temp_files=self.temp_files(),
            ffmpeg=ffmpeg,
            in_flight=self.stats.in_flight(),
            health=self.health(),
            loadavg=loadavg(),
        )
        if phase != "traffic":
            self.fd_kinds[phase] = (fd_kinds(self.gateway_pid), fd_kinds(worker))
        self.samples.append(sample)
        return sample

    def check_alive(self, sample: Sample) -> None:
        if self.died is not None or self.gateway_pid is None:
            return
        if not is_running(self.gateway_pid):
            self.died = f"gateway (pid {self.gateway_pid}) gone at t={sample.t_s:.0f} s"

    def run(
        self, interval_s: float, stop: threading.Event, traffic: threading.Event, quiet: bool
    ) -> None:
        while not stop.wait(interval_s):
            sample = self.take("traffic")
            if not quiet:
                print(sample_row(sample), file=sys.stderr, flush=True)
            self.check_alive(sample)
            if self.died is not None and not traffic.is_set():
                print(f"soak: {self.died}; stopping the traffic", file=sys.stderr, flush=True)
                traffic.set()


# ---------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


SAMPLE_HEADER = (
    "| t | phase | gateway RSS | gateway fds | worker RSS | worker fds | temp files | ffmpeg "
    "| in flight | /health | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def sample_row(s: Sample) -> str:
    return (
        f"| {s.t_s:.0f} s | {s.phase} | {fmt(s.gateway_rss_mb, '.1f', ' MB')} | "
        f"{fmt(s.gateway_fds, 'd')} | {fmt(s.worker_rss_mb, '.1f', ' MB')} | "
        f"{fmt(s.worker_fds, 'd')} | {fmt(s.temp_files, 'd')} | {s.ffmpeg} | {s.in_flight} | "
        f"{s.health} | {s.loadavg} |"
    )


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def worst_texts(pairs: list[tuple[str, str]], n: int = 3) -> list[dict[str, Any]]:
    """The n answers farthest from their reference (for the JSON report)."""
    scored = sorted(((wer([r], [t]), r, t) for r, t in set(pairs)), reverse=True)
    return [{"wer": w, "reference": r, "text": t} for w, r, t in scored[:n] if w > 0]


def kind_rows(stats: Stats) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(stats.kinds, key=lambda k: (k.split(":")[0] != "live", k)):
        k = stats.kinds[name]
        scored = [(r, t) for r, t in k.texts if r.strip()]
        rows.append(
            {
                "kind": name,
                "sent": k.sent,
                "answered": k.answered if k.expects_answer else None,
                "as_expected": k.expected,
                "faults": k.faults,
                "p50_s": percentile(k.latencies, 50),
                "p95_s": percentile(k.latencies, 95),
                "wer": wer([r for r, _ in scored], [t for _, t in scored]) if scored else None,
                "outcomes": dict(k.labels.most_common()),
                "unexpected": dict(k.unexpected.most_common()),
                "worst_texts": worst_texts(scored),
            }
        )
    return rows


def print_kinds(rows: list[dict[str, Any]]) -> None:
    print("| kind | sent | answered | as expected | p50 | p95 | WER | outcomes |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        answered = "n/a (aborts)" if r["answered"] is None else str(r["answered"])
        outcomes = ", ".join(f"{label} x{n}" for label, n in r["outcomes"].items())
        wer_text = "" if r["wer"] is None else f"{r['wer']:.1%}"
        print(
            f"| {r['kind']} | {r['sent']} | {answered} | {r['as_expected']} | "
            f"{fmt(r['p50_s'], '.2f', ' s')} | {fmt(r['p95_s'], '.2f', ' s')} | {wer_text} | "
            f"{outcomes} |"
        )


def change(first: float | None, last: float | None) -> float | None:
    if first is None or last is None or first == 0:
        return None
    return (last - first) / first * 100


def verdict(
    stats: Stats,
    samples: list[Sample],
    kinds_of_fds: dict[str, tuple[Counter[str], Counter[str]]],
    warmup_s: float,
    args: argparse.Namespace,
    sampler_blind: bool,
    died: str | None,
) -> tuple[bool, list[str], dict[str, Any]]:
    """Checks against the issue's bar; returns (passed, report lines, summary)."""
    lines: list[str] = []
    checks: dict[str, bool | None] = {}  # None: could not be measured here
    summary: dict[str, Any] = {}

    expecting = [k for k in stats.kinds.values() if k.expects_answer]
    sent = sum(k.sent for k in expecting)
    answered = sum(k.answered for k in expecting)
    aborts = sum(k.sent for k in stats.kinds.values() if not k.expects_answer)
    checks["every request answered"] = answered == sent
    lines.append(f"requests answered: {answered} of {sent} (plus {aborts} aborted by design)")
    faults = sum(k.faults for k in stats.kinds.values())
    checks["no server faults"] = faults == 0
    unexpected = sum(sum(k.unexpected.values()) for k in stats.kinds.values())
    lines.append(f"server faults: {faults}; other unexpected outcomes: {unexpected}")
    summary.update(sent=sent, answered=answered, aborted=aborts, faults=faults)

    traffic = [s for s in samples if s.phase == "traffic"]
    warm = next((s for s in traffic if s.t_s >= warmup_s), traffic[-1] if traffic else None)
    baseline = next((s for s in samples if s.phase == "baseline"), None)
    final = samples[-1] if samples else None
    if warm is None or final is None or baseline is None:
        lines.append("no samples: nothing to judge growth by")
        return False, lines, summary
    for name, first, last in (
        ("gateway", warm.gateway_rss_mb, final.gateway_rss_mb),
        ("worker", warm.worker_rss_mb, final.worker_rss_mb),
    ):
        pct = change(first, last)
        summary[f"{name}_rss_change_pct"] = pct
        ok = None if pct is None else abs(pct) <= args.rss_tolerance
        checks[f"{name} RSS within +-{args.rss_tolerance:g} %"] = ok
        lines.append(
            f"{name} RSS after warm-up (t={warm.t_s:.0f} s -> t={final.t_s:.0f} s): "
            f"{fmt(first, '.1f', ' MB')} -> {fmt(last, '.1f', ' MB')} ({fmt(pct, '+.1f', ' %')})"
        )
    for index, name, base, end, warm_fds, peak in (
        (
            0,
            "gateway",
            baseline.gateway_fds,
            final.gateway_fds,
            warm.gateway_fds,
            max((s.gateway_fds or 0) for s in samples),
        ),
        (
            1,
            "worker",
            baseline.worker_fds,
            final.worker_fds,
            warm.worker_fds,
            max((s.worker_fds or 0) for s in samples),
        ),
    ):
        growth = None if base is None or end is None else end - base
        summary[f"{name}_fd_growth"] = growth
        checks[f"no {name} descriptor growth"] = (
            None if growth is None else growth <= args.fd_tolerance
        )
        lines.append(
            f"{name} open fds, idle before -> idle after: {fmt(base, 'd')} -> {fmt(end, 'd')} "
            f"({fmt(growth, '+d')}); at warm-up {fmt(warm_fds, 'd')}, peak {peak}"
        )
        if "baseline" in kinds_of_fds and "final" in kinds_of_fds:
            diff = fd_diff(kinds_of_fds["baseline"][index], kinds_of_fds["final"][index])
            summary[f"{name}_fd_kinds_changed"] = diff
            if diff:
                lines.append(f"  {name} descriptors that changed: {diff}")
    left = final.temp_files
    peak_tmp = max((s.temp_files or 0) for s in samples)
    summary["temp_files_left"] = left
    checks["no temp files left"] = None if left is None else left == 0
    lines.append(f"temp files left: {fmt(left, 'd')} (peak during the run {peak_tmp})")
    summary["ffmpeg_left"] = final.ffmpeg
    checks["no ffmpeg left"] = None if sampler_blind else final.ffmpeg == 0
    lines.append(f"ffmpeg processes left: {final.ffmpeg} (peak {max(s.ffmpeg for s in samples)})")
    workers = {s.worker_pid for s in samples if s.worker_pid is not None}
    summary["worker_pids"] = sorted(workers)
    checks["worker not restarted"] = None if not workers else len(workers) == 1
    lines.append(f"worker pids seen: {sorted(workers) or 'n/a'}")
    checks["gateway up throughout"] = None if sampler_blind else died is None
    if died is not None:
        lines.append(f"server died: {died}")
    failed = [name for name, ok in checks.items() if ok is False]
    skipped = [name for name, ok in checks.items() if ok is None]
    if skipped:
        lines.append(f"not measurable here, not judged: {', '.join(skipped)}")
    summary["checks"] = checks
    return not failed, lines, summary


# ---------------------------------------------------------------------------- main


def loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: this soak sends traffic to 127.0.0.1 only")
    return url.rstrip("/")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    run = p.add_argument_group("run")
    run.add_argument("--minutes", type=float, default=3.0, help="traffic duration (default 3)")
    run.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="seconds of traffic before the RSS reference sample (default 30)",
    )
    run.add_argument("--interval", type=float, default=5.0, help="seconds between samples (5)")
    run.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds of quiet after the traffic before the final sample (5)",
    )
    run.add_argument(
        "--grace",
        type=float,
        default=120.0,
        help="seconds after the deadline to wait for requests in flight (120)",
    )
    run.add_argument("--no-prime", action="store_true", help="skip the priming round")
    run.add_argument("--seed", type=int, default=1, help="random seed of clips and choices (1)")
    run.add_argument("--json", type=Path, default=None, help="also write the report here")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    load = p.add_argument_group("load (keep it modest on a small machine)")
    load.add_argument("--live", type=int, default=2, help="concurrent live sessions (2)")
    load.add_argument(
        "--files", type=int, default=1, help="workers posting files and SSE streams (1)"
    )
    load.add_argument(
        "--bad", type=int, default=1, help="workers sending bad requests and aborts (1)"
    )
    load.add_argument(
        "--max-requests",
        type=int,
        default=5000,
        help="most requests per worker; 0: bounded by time only (5000)",
    )
    load.add_argument(
        "--pause",
        type=float,
        default=0.2,
        help="seconds each worker waits between requests (0.2)",
    )
    load.add_argument(
        "--request-timeout", type=float, default=120.0, help="HTTP request timeout, s (120)"
    )
    load.add_argument(
        "--flush-timeout",
        type=float,
        default=60.0,
        help="how long a live session waits for its close after END_OF_AUDIO, s (60)",
    )
    server = p.add_argument_group("server (default: start gateway + worker here)")
    server.add_argument("--model", type=Path, default=TINY_EN, help="model dir (tiny.en)")
    server.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS (2)")
    server.add_argument("--log-level", default="info", help="gateway LOG_LEVEL (info)")
    server.add_argument("--url", default=None, help="HTTP base URL of a running server")
    server.add_argument("--ws-url", default=None, help="WebSocket URL of a running server")
    server.add_argument("--tmp-dir", type=Path, default=None, help="its GATEWAY_TMP_DIR")
    server.add_argument(
        "--api-key",
        default=None,
        help="key to send (a started server gets GATEWAY_API_KEYS=it; adds bad:auth)",
    )
    server.add_argument("--gateway-pid", type=int, default=None, help="else found by port")
    server.add_argument("--worker-pid", type=int, default=None, help="else the gateway's child")
    server.add_argument("--ws-model", default="small", help="`model` in the live options (small)")
    verdict_group = p.add_argument_group("verdict")
    verdict_group.add_argument(
        "--rss-tolerance", type=float, default=10.0, help="allowed RSS change, %% (10)"
    )
    verdict_group.add_argument(
        "--fd-tolerance", type=int, default=0, help="allowed descriptor growth (0)"
    )
    return p.parse_args()


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="stt-soak-"))
    print(f"soak: work dir {workdir}", file=sys.stderr)
    media = prepare_media(workdir / "media", rng, live_pool=12, upload_pool=3)

    gateway: Gateway | None = None
    if args.url is None:
        extra = {"OMP_NUM_THREADS": str(args.threads), "LOG_LEVEL": args.log_level}
        if args.api_key:
            extra["GATEWAY_API_KEYS"] = args.api_key
        gateway = Gateway(
            log_path=workdir / "gateway.log",
            tmp_dir=args.tmp_dir or workdir / "uploads",
            model_dir=args.model,
            extra_env=extra,
        )
        gateway.start()
        try:
            gateway.wait_healthy()
        except RuntimeError as error:
            print(error, file=sys.stderr)
            gateway.stop()
            return 2
        base_url, ws_url = gateway.base_url, f"ws://127.0.0.1:{gateway.ws_port}"
        gateway_pid: int | None = gateway.process.pid if gateway.process else None
        tmp_dir: Path | None = gateway.tmp_dir
    else:
        base_url = loopback_only(args.url)
        if args.ws_url is None:
            raise SystemExit("--url needs --ws-url")
        ws_url = loopback_only(args.ws_url)
        gateway_pid = args.gateway_pid or pid_listening_on(urlsplit(base_url).port or 80)
        tmp_dir = args.tmp_dir
        if tmp_dir is None and gateway_pid is not None:
            found = env_of(gateway_pid, "GATEWAY_TMP_DIR")
            tmp_dir = Path(found) if found else None
    target = Target(
        base_url, ws_url, args.api_key, args.ws_model, args.request_timeout, args.flush_timeout
    )
    stats = Stats()
    sampler = Sampler(stats, target, gateway_pid, args.worker_pid, tmp_dir)
    print(
        f"soak: {base_url} {ws_url}, gateway pid {gateway_pid}, temp dir {tmp_dir}",
        file=sys.stderr,
    )
    stop = threading.Event()
    try:
        if not args.no_prime:
            prime(stats, target, media)
        time.sleep(args.settle)
        sampler.t0 = time.monotonic()
        baseline = sampler.take("baseline")
        if not args.quiet:
            print(SAMPLE_HEADER, file=sys.stderr)
            print(sample_row(baseline), file=sys.stderr, flush=True)
        plan = Plan(time.monotonic() + args.minutes * 60, args.max_requests, stop, args.pause)
        threads = [
            threading.Thread(target=live_worker, args=(stats, target, media, plan, args.seed + i))
            for i in range(args.live)
        ]
        threads += [
            threading.Thread(
                target=file_worker, args=(stats, target, media, plan, args.seed + 100 + i)
            )
            for i in range(args.files)
        ]
        threads += [
            threading.Thread(
                target=bad_worker, args=(stats, target, media, plan, args.seed + 200 + i)
            )
            for i in range(args.bad)
        ]
        sample_stop = threading.Event()
        sampling = threading.Thread(
            target=sampler.run,
            args=(args.interval, sample_stop, stop, args.quiet),
            daemon=True,
        )
        for t in threads:
            t.daemon = True
            t.start()
            time.sleep(0.3)
        sampling.start()
        try:
            hard_stop = plan.deadline + args.grace
            for t in threads:
                t.join(max(0.0, hard_stop - time.monotonic()))
        except KeyboardInterrupt:
            print("soak: interrupted; reporting what ran", file=sys.stderr)
            stop.set()
            for t in threads:
                t.join(10)
        sample_stop.set()
        sampling.join(15)
        abandoned = sum(t.is_alive() for t in threads)
        time.sleep(args.settle)
        final = sampler.take("final")
        sampler.check_alive(final)
        if not args.quiet:
            print(sample_row(final), file=sys.stderr, flush=True)
    finally:
        stop.set()
        exit_code = gateway.stop() if gateway is not None else None
        shutil.rmtree(workdir / "media", ignore_errors=True)

    rows = kind_rows(stats)
    passed, lines, summary = verdict(
        stats,
        sampler.samples,
        sampler.fd_kinds,
        args.warmup,
        args,
        sampler_blind=gateway_pid is None,
        died=sampler.died,
    )
    traffic_s = args.minutes * 60
    print(
        f"\nSoak: {args.minutes:g} min of traffic against {base_url} ({args.live} live, "
        f"{args.files} file, {args.bad} bad-request workers; warm-up {args.warmup:g} s)\n"
    )
    print_kinds(rows)
    unexpected = [(r["kind"], r["unexpected"]) for r in rows if r["unexpected"]]
    if unexpected:
        print("\nunexpected outcomes by kind:")
        for kind, labels in unexpected:
            print(f"  {kind}: " + ", ".join(f"{label} x{n}" for label, n in labels.items()))
    print(f"\n{SAMPLE_HEADER}")
    for s in sampler.samples:
        print(sample_row(s))
    print()
    for line in lines:
        print(line)
    if abandoned:
        print(f"workers still busy after the grace period: {abandoned}")
    if gateway is not None:
        print(f"gateway exit code: {exit_code} (log: {gateway.log_path})")
    failed = [name for name, ok in summary.get("checks", {}).items() if ok is False]
    bar = (
        "every request answered, RSS within +-10 % after warm-up, "
        "no growth in descriptors or temp files"
    )
    print(
        f"\nVERDICT: {'PASS' if passed else 'FAIL'} ({bar})"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if args.json is not None:
        report = {
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "traffic_s": traffic_s,
            "kinds": rows,
            "samples": [asdict(s) for s in sampler.samples],
            "summary": summary,
            "verdict": "PASS" if passed else "FAIL",
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
