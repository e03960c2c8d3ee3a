#!/usr/bin/env python3
"""Turn mode: how long after a turn's end its `turn_end` arrives.

usage: .venv/bin/python bench/turn_delay.py [--model DIR] [--streams 1] [--threads 2]
           [--silence-ms 500] [--chunk-ms 100] [--device cpu] [--backend faster_whisper]

A worker runs in this process (the real engine, gRPC on a free port). Each stream sends,
in real time in chunks of `--chunk-ms`, LJ Speech utterances joined by 1.5 s of silence,
in turn mode with `silence_duration_ms`. For every `turn_end` ended by silence the delay
is its arrival minus the moment the turn's end offset had been sent (the end of the
silence that ended it); for every speech begin, its arrival minus the moment its offset
plus the prefix padding (the detected start of speech) had been sent. Delays are printed
per stream and as p50 / max over all. `--backend fake` decodes instantly: what is left is
the detection itself (Silero still hears the real audio).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "worker" / "src"))

from faster_whisper import decode_audio

from stt.v1 import transcriber_pb2 as pb
from stt.v1 import transcriber_pb2_grpc as pb_grpc
from stt_worker.config import EngineSettings, LimitsSettings, WorkerSettings
from stt_worker.engines import create_engine
from stt_worker.server import WorkerServer

AUDIO = REPO.parent / "shared" / "audio" / "ljspeech"
CLIPS = ("LJ001-0002", "LJ001-0004", "LJ001-0008", "LJ001-0006", "LJ001-0011")
RATE = 16_000
PADDING_MS = 300


def stream_audio() -> np.ndarray:
    pause = np.zeros(RATE * 3 // 2, np.float32)
    parts = []
    for clip in CLIPS:
        parts += [decode_audio(str(AUDIO / f"{clip}.flac"), sampling_rate=RATE), pause]
    return np.concatenate(parts)


async def one_stream(
    stub: pb_grpc.TranscriberServiceStub, audio: np.ndarray, silence_ms: int, chunk_ms: int
) -> tuple[list[float], list[float]]:
    chunk = RATE * chunk_ms // 1000
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    started = 0.0

    async def requests() -> AsyncIterator[pb.StreamingTranscribeRequest]:
        nonlocal started
        yield pb.StreamingTranscribeRequest(
            config=pb.StreamingTranscribeConfig(
                encoding=pb.AUDIO_ENCODING_LINEAR16,
                sample_rate_hertz=RATE,
                mode=pb.TRANSCRIPTION_MODE_LIVE,
                interim_results=True,
                turns=pb.TurnConfig(silence_duration_ms=silence_ms, prefix_padding_ms=PADDING_MS),
            )
        )
        started = time.perf_counter()
        for i in range(0, audio.size, chunk):
            # Sent once its audio has been "spoken".
            await asyncio.sleep(max(0.0, started + (i + chunk) / RATE - time.perf_counter()))
            yield pb.StreamingTranscribeRequest(audio=pcm[2 * i : 2 * (i + chunk)])

    ends, begins = [], []
    async for response in stub.StreamingTranscribe(requests()):
        now = time.perf_counter() - started
        if response.HasField("turn_end") and response.turn_end.reason == 1:
            ends.append(now - response.turn_end.end_offset_ms / 1000)
        elif response.speech_event:
            spoken = response.speech_event_offset_ms + PADDING_MS
            begins.append(now - spoken / 1000)
    return ends, begins


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default=str(Path.home() / ".cache/whisperlive-hybrid/models/tiny.en")
    )
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--silence-ms", type=int, default=500)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="faster_whisper")
    args = parser.parse_args()
    settings = WorkerSettings(
        host="127.0.0.1",
        port=0,
        engine=EngineSettings(
            model=args.model, cpu_threads=args.threads, device=args.device, backend=args.backend
        ),
        # Every stream starts at once: none is told to wait while the first are measured.
        limits=LimitsSettings(unmeasured_live_streams=args.streams),
    )
    server = WorkerServer(settings, engine_factory=create_engine)
    port = await server.start()
    await server.load()
    audio = stream_audio()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.TranscriberServiceStub(channel)
        runs = await asyncio.gather(
            *(one_stream(stub, audio, args.silence_ms, args.chunk_ms) for _ in range(args.streams))
        )
    await server.stop(0)
    for n, (ends, begins) in enumerate(runs):
        print(
            f"stream {n}: turn_end delays (s) {[round(d, 3) for d in ends]}, "
            f"speech begin delays {[round(d, 3) for d in begins]}"
        )
    ends = [d for run in runs for d in run[0]]
    begins = [d for run in runs for d in run[1]]
    print(
        f"{args.streams} stream(s), {len(ends)} turns: turn_end delay p50 "
        f"{statistics.median(ends):.3f} s, max {max(ends):.3f} s; speech begin delay p50 "
        f"{statistics.median(begins):.3f} s, max {max(begins):.3f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
