#!/usr/bin/env python3
"""Simulate one live stream through the commit policy with the real engine, fast.

usage: .venv/bin/python bench/live_policy_sim.py [--file PATH] [--model DIR] [--threads 2]
           [--beam 5] [--chunk-ms 256] [--min-step 0.3] [--trim 4] [--seconds N]
           [--cycle S] [--show] [--trace]

Audio "arrives" at real-time pace on a virtual clock; every window goes through the
server's own live path (`LiveWindow`: Silero VAD, then the engine's batch decode with the
live options) and advances the clock by its measured duration (or a fixed `--cycle`), so
the latencies are what one stream would see on this machine, without waiting for the
audio in real time. `--trace` prints every window: its span, speech regions, what Whisper
heard, what was committed and the partial. Prints committed-text
latency p50/p95 (segment end spoken -> committed), first-partial latency and WER.
A tuning aid for worker/src/stt_worker/live_policy.py; the real end-to-end benchmark is
bench/streaming.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "worker" / "src"))
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN
from e2e.speech import AUDIO_DIR, clip, wer

from stt_worker.config import Backend, EngineSettings, LiveSettings
from stt_worker.engines import create_engine
from stt_worker.live_policy import CommitPolicy, LiveOptions, WindowRequest
from stt_worker.live_session import LiveWindow, live_detector, live_options
from stt_worker.types import StreamConfig, WindowDecode


def ms(seconds: float) -> int:
    """Seconds as the engine's milliseconds (the live path's unit from the engine)."""
    return round(seconds * 1000)


class Decoder:
    """The server's own live decode path: `LiveWindow` (VAD, then the engine's batch decode
    with the live options) on the chosen backend, one window at a time."""

    def __init__(self, model_dir: Path, threads: int, beam: int, backend: Backend) -> None:
        self.engine = create_engine(
            EngineSettings(
                backend=backend, model=str(model_dir), cpu_threads=threads, beam_size=beam
            )
        )
        self.detector = live_detector(StreamConfig(encoding=None, sample_rate_hertz=16_000))

    def __call__(self, request: WindowRequest) -> WindowDecode:
        window = LiveWindow(request, self.detector, LiveWindow.strategy(LiveSettings(), False))
        prepared = window.prepare()
        decoded = None if prepared is None else self.engine.decode_batch([prepared])[0]
        return window.finish(decoded)


def simulate(
    audio: np.ndarray,
    decoder: Decoder,
    options: LiveOptions,
    chunk_ms: int,
    *,
    trace: bool,
    cycle_s: float | None = None,
) -> dict[str, float | str]:
    clock = [0.0]
    policy = CommitPolicy(options, lambda: clock[0])
    chunk = 16 * chunk_ms
    sent = 0
    latencies: list[float] = []
    first_partial: float | None = None
    decode_time = 0.0
    decodes = 0

    def run(final: bool) -> None:
        nonlocal first_partial, decode_time, decodes
        request = policy.next_request(final=final)
        if request is None:
            return
        started = time.perf_counter()
        result = decoder(request)
        elapsed = time.perf_counter() - started
        decode_time += elapsed
        decodes += 1
        # A fixed cycle makes runs comparable on a busy machine (the windows then do not
        # depend on how fast this run's decodes happened to be).
        clock[0] += elapsed if cycle_s is None else cycle_s
        update = policy.apply(request, result, final=final)
        for segment in update.committed:
            latencies.append(clock[0] - segment.end_s)
        if trace:
            window_end = request.offset_s + request.audio.size / 16000
            heard = "".join(w.text for s in result.segments for w in s.words)
            print(
                f"[{request.offset_s:6.2f}-{window_end:6.2f}] regions "
                f"{[(round(a, 2), round(b, 2)) for a, b in result.speech_regions or ()]}\n"
                f"    heard:{heard}\n"
                + "".join(
                    f"    COMMIT:{c.text} ({c.start_s:.2f}-{c.end_s:.2f})\n"
                    for c in update.committed
                )
                + (f"    partial:{update.partial.text}" if update.partial else "    partial: -")
            )
        if update.partial is not None and first_partial is None:
            first_partial = clock[0] - update.partial.start_s

    while sent < audio.size:
        # deliver every chunk whose last sample has been "spoken" by now
        while sent < audio.size and min(sent + chunk, audio.size) / 16000 <= clock[0] + 1e-9:
            policy.push_audio(audio[sent : sent + chunk])
            sent += chunk
        if policy.wants_decode():
            run(final=False)
        else:
            clock[0] = max(clock[0], min(sent + chunk, audio.size) / 16000)
    run(final=True)
    lat = np.array(latencies) if latencies else np.array([float("nan")])
    return {
        "text": policy.committed_text,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "max": float(lat.max()),
        "first_partial": first_partial if first_partial is not None else float("nan"),
        "decodes": decodes,
        "busy": decode_time / (audio.size / 16000),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", default="longform/ljspeech_LJ001-0001_0025_concat.flac")
    parser.add_argument("--model", type=Path, default=TINY_EN)
    parser.add_argument(
        "--backend", default="faster_whisper", choices=("faster_whisper", "openvino")
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--chunk-ms", type=int, default=256)
    parser.add_argument("--min-step", type=float, default=None, help="default: the worker's")
    parser.add_argument("--trim", type=float, default=None, help="default: the worker's")
    parser.add_argument("--seconds", type=float, default=0, help="only the first N seconds")
    parser.add_argument("--show", action="store_true", help="print the committed text")
    parser.add_argument("--trace", action="store_true", help="print every decode")
    parser.add_argument(
        "--cycle",
        type=float,
        default=None,
        help="advance the clock this many seconds per decode instead of the measured time "
        "(repeatable A/B runs on a busy machine; one stream here decodes in about 0.3 s)",
    )
    args = parser.parse_args()
    from faster_whisper import decode_audio

    item = clip(args.file)
    audio = decode_audio(str(AUDIO_DIR / args.file))
    if args.seconds:
        audio = audio[: int(args.seconds * 16000)]
    decoder = Decoder(args.model, args.threads, args.beam, args.backend)
    options = live_options(
        StreamConfig(encoding=None, sample_rate_hertz=16_000, mode="live"),
        decoder.engine.info,
        LiveSettings(
            **({} if args.min_step is None else {"min_step_ms": round(args.min_step * 1000)}),
            **({} if args.trim is None else {"trim_s": args.trim}),
        ),
    )
    r = simulate(audio, decoder, options, args.chunk_ms, trace=args.trace, cycle_s=args.cycle)
    print(
        f"{args.file}: committed p50 {r['p50']:.2f}s p95 {r['p95']:.2f}s max {r['max']:.2f}s, first partial "
        f"{r['first_partial']:.2f}s, WER {wer([item.text], [str(r['text'])]):.2%}, {r['decodes']} decodes, "
        f"engine busy {r['busy']:.0%} of real time"
    )
    if args.show:
        print(r["text"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
