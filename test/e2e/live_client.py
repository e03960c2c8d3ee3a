"""A WhisperLive-protocol client that plays audio in real time and times the commits.

Used by the e2e tests and by `bench/streaming.py`: it speaks the protocol as WhisperLive's
own client does (options JSON, float32 frames of 4096 samples, END_OF_AUDIO) and records,
for every segment that arrives as `completed`, how long after its end was spoken it came.
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


@dataclass
class StreamResult:
    latencies: list[float] = field(default_factory=list)
    first_partial_s: float | None = None
    committed: dict[tuple[str, str], str] = field(default_factory=dict)
    last_partial: str = ""
    """The partial of the latest message ("" when it had none)."""
    error: str | None = None

    def text(self) -> str:
        ordered = sorted(self.committed.items(), key=lambda kv: float(kv[0][0]))
        return " ".join(t.strip() for _, t in ordered) + " " + self.last_partial.strip()


def run_stream(
    url: str, audio: np.ndarray, model: str, result: StreamResult, tail_s: float
) -> None:
    uid = str(uuid.uuid4())
    ws = websocket.create_connection(url, timeout=60)
    ws.send(
        json.dumps(
            {
                "uid": uid,
                "language": "en",
                "task": "transcribe",
                "model": model,
                "use_vad": False,
                "send_last_n_segments": 10,
                "no_speech_thresh": 0.45,
                "clip_audio": False,
                "same_output_threshold": 10,
            }
        )
    )
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
                return
            if not raw:
                return
            now = time.perf_counter()
            message = json.loads(raw)
            if message.get("message") == "DISCONNECT":
                return
            if "segments" not in message:
                continue
            # Each message is the whole state: the last completed segments and at most one
            # partial; a message without a partial means there is none (all committed).
            result.last_partial = ""
            for seg in message["segments"]:
                key = (seg.get("start", "0"), seg.get("end", "0"))
                if seg.get("completed"):
                    if key not in result.committed:
                        result.committed[key] = seg["text"]
                        result.latencies.append(now - (start[0] + float(seg["end"])))
                else:
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
        ws.send_binary(frame.astype(np.float32).tobytes())
    ws.send_binary(b"END_OF_AUDIO")
    receiver.join(tail_s)
    done.set()
    with contextlib.suppress(Exception):
        ws.close()
    receiver.join(2)
