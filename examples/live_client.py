"""Live transcription over the WhisperLive protocol: a file played in real time, or the
microphone. Committed text is printed line by line; the partial is shown on stderr.

    python examples/live_client.py speech.wav          # a file (any format ffmpeg reads)
    python examples/live_client.py --mic               # the microphone (needs PyAudio)

Needs `websocket-client` (and ffmpeg for files). STT_WS_URL (default ws://localhost:5050)
and STT_API_KEY (when the server has keys; sent as `Authorization: Bearer`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import websocket

RATE = 16_000
FRAME_SAMPLES = 4096  # 256 ms, as WhisperLive's own client sends
FRAME_BYTES = FRAME_SAMPLES * 4  # float32


def file_frames(path: str) -> Iterator[bytes]:
    """The file as 16 kHz mono float32 frames, decoded by ffmpeg, paced in real time."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", path]
    command += ["-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"]
    decoder = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert decoder.stdout is not None
    started = time.monotonic()
    sent = 0
    while chunk := decoder.stdout.read(FRAME_BYTES):
        # Real time, as a microphone would: the server paces sessions by their audio.
        time.sleep(max(0.0, started + sent / RATE - time.monotonic()))
        sent += len(chunk) // 4
        yield chunk
    if decoder.wait() != 0:
        sys.exit(f"ffmpeg could not decode {path}")


def mic_frames() -> Iterator[bytes]:
    """The default microphone as 16 kHz mono float32 frames, until Ctrl-C."""
    import pyaudio  # optional dependency, only for --mic

    audio = pyaudio.PyAudio()
    stream = audio.open(
        format=pyaudio.paFloat32,
        channels=1,
        rate=RATE,
        input=True,
        frames_per_buffer=FRAME_SAMPLES,
    )
    try:
        while True:
            yield stream.read(FRAME_SAMPLES, exception_on_overflow=False)
    except KeyboardInterrupt:
        return
    finally:
        stream.close()
        audio.terminate()


def print_updates(ws: websocket.WebSocket, done: threading.Event) -> None:
    """Prints each newly committed segment; shows the partial on stderr."""
    printed: set[tuple[str, str]] = set()
    while True:
        try:
            raw = ws.recv()
        except websocket.WebSocketException:
            break
        if not raw:
            break
        message = json.loads(raw)
        if message.get("status") in ("ERROR", "WAIT") or message.get("message") == "DISCONNECT":
            print(f"\nserver: {message}", file=sys.stderr)
        for segment in message.get("segments", []):
            key = (segment["start"], segment["end"])
            if segment.get("completed"):
                if key not in printed:
                    printed.add(key)
                    print(f"[{float(segment['start']):7.2f}] {segment['text'].strip()}", flush=True)
            else:
                print(f"\r… {segment['text'].strip()[-70:]:<72}", end="", file=sys.stderr)
    done.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="audio file to play (omit with --mic)")
    parser.add_argument("--mic", action="store_true", help="stream the microphone instead")
    parser.add_argument("--language", default="en", help="language code, or 'auto'")
    parser.add_argument("--model", default=None, help="model name the server must serve")
    args = parser.parse_args()
    if args.mic == bool(args.file):
        parser.error("give a file or --mic")

    url = os.environ.get("STT_WS_URL", "ws://localhost:5050")
    key = os.environ.get("STT_API_KEY")
    headers = [f"Authorization: Bearer {key}"] if key else []
    ws = websocket.create_connection(url, header=headers, timeout=120)
    options = {
        "uid": str(uuid.uuid4()),
        "language": None if args.language == "auto" else args.language,
        "task": "transcribe",
        "use_vad": True,
    }
    if args.model:
        options["model"] = args.model
    ws.send(json.dumps(options))
    ready = json.loads(ws.recv())
    if ready.get("message") != "SERVER_READY":
        print(f"not ready: {ready}", file=sys.stderr)  # WAIT (server full) or ERROR
        return 1
    done = threading.Event()
    threading.Thread(target=print_updates, args=(ws, done), daemon=True).start()
    frames = mic_frames() if args.mic else file_frames(args.file)
    for frame in frames:
        if done.is_set():
            return 1  # the server closed the session
        ws.send_binary(frame)
    ws.send_binary(b"END_OF_AUDIO")
    # The server sends the last segments, then closes.
    if not done.wait(120):
        print("no end from the server", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
