"""A WhisperLive-protocol client that plays audio in real time and times the commits.

Used by the e2e tests, `bench/streaming.py` and `bench/live_accuracy.py`: it speaks the
protocol as WhisperLive's own client does (options JSON, float32 frames of 4096 samples,
END_OF_AUDIO) and records, for every segment that arrives as `completed`, how long after
its end was spoken it came. It can also send int16 frames (options `audio_format:
"int16"`, 4096 samples = 8192 bytes) and leave the language to the server's detection
(`language: null`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import websocket  # websocket-client, as WhisperLive's own client uses

FRAME = 4096  # samples per frame, as WhisperLive's client sends
RATE = 16_000


@dataclass(frozen=True, slots=True)
class SegmentArrival:
    """A segment as a message brought it: when (seconds after the first frame), its span in
    the stream (seconds) and whether it came as `completed`."""

    at_s: float
    start_s: float
    end_s: float
    completed: bool


@dataclass
class StreamResult:
    latencies: list[float] = field(default_factory=list)
    first_partial_s: float | None = None
    committed: dict[tuple[str, str], str] = field(default_factory=dict)
    arrivals: list[SegmentArrival] = field(default_factory=list)
    """Each completed segment once, when it first came, and the partial of every message
    (for latencies per utterance: `bench/realtime.py`)."""
    last_partial: str = ""
    """The partial of the latest message ("" when it had none)."""
    error: str | None = None
    server_closed: bool = False
    end_sent_s: float | None = None
    """When END_OF_AUDIO went out, in seconds after the first frame (later than the audio's
    duration when the server read slower than real time)."""
    """Whether the server ended the session (closed or DISCONNECT) before the client gave up."""

    def text(self) -> str:
        ordered = sorted(self.committed.items(), key=lambda kv: float(kv[0][0]))
        return " ".join(t.strip() for _, t in ordered) + " " + self.last_partial.strip()


AUDIO_FORMATS = ("float32", "int16")


def frame_bytes(frame: np.ndarray, audio_format: str) -> bytes:
    """One frame of float32 samples in [-1, 1] encoded as `audio_format` (native order)."""
    if audio_format == "int16":
        return np.clip(np.round(frame * 32768.0), -32768, 32767).astype(np.int16).tobytes()
    return frame.astype(np.float32).tobytes()


def run_stream(
    url: str,
    audio: np.ndarray,
    model: str,
    result: StreamResult,
    tail_s: float,
    *,
    language: str | None = "en",
    audio_format: str = "float32",
    use_vad: bool = False,
) -> None:
    """Plays `audio` (float32, 16 kHz mono) in real time and fills `result`.

    `language=None` asks the server to detect it; `audio_format="int16"` sends int16 PCM
    frames and says so in the options (`audio_format`), float32 sends no such key, as
    WhisperLive's own client does.
    """
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {AUDIO_FORMATS}")
    uid = str(uuid.uuid4())
    options: dict[str, object] = {
        "uid": uid,
        "language": language,
        "task": "transcribe",
        "model": model,
        "use_vad": use_vad,
        "send_last_n_segments": 10,
        "no_speech_thresh": 0.45,
        "clip_audio": False,
        "same_output_threshold": 10,
    }
    if audio_format != "float32":
        options["audio_format"] = audio_format
    ws = websocket.create_connection(url, timeout=60)
    ws.send(json.dumps(options))
    ready = json.loads(ws.recv())
    if ready.get("message") != "SERVER_READY":
        result.error = f"not ready: {ready}"
        ws.close()
        return
    start = [0.0]
    done = threading.Event()

    def receive() -> None:
        ws.settimeout(1.0)
        while not done.is_set():
            try:
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                result.server_closed = not done.is_set()
                return
            if not raw:
                result.server_closed = True
                return
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("message") == "DISCONNECT":
                result.server_closed = True
                return
            if "segments" not in message:
                continue
            # Each message is the whole state: the last completed segments and at most one
            # partial; a message without a partial means there is none (all committed).
            result.last_partial = ""
            for seg in message["segments"]:
                key = (seg.get("start", "0"), seg.get("end", "0"))
                arrival = SegmentArrival(
                    now - start[0], float(key[0]), float(key[1]), bool(seg.get("completed"))
                )
                if seg.get("completed"):
                    if key not in result.committed:
                        result.committed[key] = seg["text"]
                        result.latencies.append(now - (start[0] + float(seg["end"])))
                        result.arrivals.append(arrival)
                else:
                    result.arrivals.append(arrival)
                    result.last_partial = seg["text"]
                    if result.first_partial_s is None:
                        result.first_partial_s = now - (start[0] + float(seg["start"]))

    receiver = threading.Thread(target=receive, daemon=True)
    start[0] = time.perf_counter()
    receiver.start()
    for i in range(0, audio.size, FRAME):
        frame = audio[i : i + FRAME]
        due = start[0] + (i + frame.size) / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ws.send_binary(frame_bytes(frame, audio_format))
    ws.send_binary(b"END_OF_AUDIO")
    result.end_sent_s = time.perf_counter() - start[0]
    receiver.join(tail_s)
    done.set()
    with contextlib.suppress(Exception):
        ws.close()
    receiver.join(2)
