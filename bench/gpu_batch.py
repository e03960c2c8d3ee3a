#!/usr/bin/env python3
"""How a batch of windows scales on a GPU: the worker's faster-whisper engine on CUDA.

usage: python bench/gpu_batch.py MODEL_DIR [--audio ../shared/audio/jfk.wav]
           [--sizes 1,2,4,8,16,32] [--beams 5,1] [--repeat 3]

Decodes the same 11 s window (word times on, as live windows ask) in batches of each size
through `FasterWhisperEngine.decode_batch`, after one warm-up call per size, and prints the
median seconds per call, per window and the speed-up over one window at a time. The
scheduler's GPU defaults (a whole batch of file chunks beside live streams, a batch of
unmeasured live streams admitted at once) rest on a batch costing about one window.
Needs a CUDA device; imports only the engine (no gRPC). Run on demand, never in CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "worker" / "src"))

from stt_worker.config import EngineSettings
from stt_worker.engines.faster_whisper import FasterWhisperEngine
from stt_worker.types import DecodeOptions, WindowInput


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as clip:
        frames = clip.readframes(clip.getnframes())
    return (np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0).copy()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path)
    parser.add_argument("--audio", type=Path, default=REPO.parent / "shared/audio/jfk.wav")
    parser.add_argument("--sizes", default="1,2,4,8,16,32")
    parser.add_argument("--beams", default="5,1")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    audio = read_wav(args.audio)
    engine = FasterWhisperEngine.load(
        EngineSettings(model=str(args.model), device="cuda", compute_type="float16")
    )
    print("| beam | windows | s per call | s per window | speed-up over one at a time |")
    print("|---|---|---|---|---|")
    for beam in (int(b) for b in args.beams.split(",")):
        options = DecodeOptions(language="en", word_timestamps=True, beam_size=beam)
        single = None
        for size in (int(n) for n in args.sizes.split(",")):
            windows = [WindowInput(audio, options)] * size
            engine.decode_batch(windows)  # this shape's first call pays its set-up
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                engine.decode_batch(windows)
                times.append(time.perf_counter() - started)
            seconds = statistics.median(times)
            single = single or seconds
            print(
                f"| {beam} | {size} | {seconds:.3f} | {seconds / size:.3f} | "
                f"{single * size / seconds:.1f}x |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
