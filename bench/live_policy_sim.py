#!/usr/bin/env python3
"""Simulate one live stream through the commit policy with the real engine, fast.

usage: .venv/bin/python bench/live_policy_sim.py [--file PATH] [--model DIR] [--threads 2]
                                                 [--beam 5] [--chunk-ms 256]

Audio "arrives" at real-time pace on a virtual clock; every decode is run for real and
advances the clock by its measured duration, so the latencies are what one stream would
see on this machine, without waiting for the audio in real time. Prints committed-text
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

from stt_worker.live_policy import (
    CommitPolicy,
    LiveOptions,
    WindowRequest,
    run_window,
)
from stt_worker.types import Segment, WindowDecode, Word
from stt_worker.vad import SileroDetector


def ms(seconds: float) -> int:
    """Seconds as the engine's milliseconds (the live path's unit from the engine)."""
    return round(seconds * 1000)


class Decoder:
    def __init__(self, model_dir: Path, threads: int, beam: int) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self.beam = beam

    def __call__(self, request: WindowRequest) -> WindowDecode:
        segments, info = self.model.transcribe(
            request.audio,
            language=request.language,
            task=request.task,
            initial_prompt=request.initial_prompt,
            hotwords=request.hotwords,
            beam_size=self.beam,
            temperature=0.0,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        out = []
        for s in segments:
            words = tuple(
                Word(w.word, ms(w.start), ms(w.end), w.probability) for w in (s.words or [])
            )
            out.append(
                Segment(
                    s.text,
                    ms(s.start),
                    ms(s.end),
                    words,
                    avg_logprob=s.avg_logprob,
                    compression_ratio=s.compression_ratio,
                    no_speech_probability=s.no_speech_prob,
                )
            )
        return WindowDecode(tuple(out), info.language, info.language_probability)


def simulate(
    audio: np.ndarray, decoder: Decoder, options: LiveOptions, chunk_ms: int
) -> dict[str, float | str]:
    clock = [0.0]
    policy = CommitPolicy(options, lambda: clock[0])
    detector = SileroDetector()
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
        result = run_window(request, decoder, detector)
        elapsed = time.perf_counter() - started
        decode_time += elapsed
        decodes += 1
        clock[0] += elapsed
        update = policy.apply(request, result, final=final)
        for segment in update.committed:
            latencies.append(clock[0] - segment.end_s)
        if update.partial is not None and first_partial is None:
            first_partial = clock[0] - update.partial.start_s

    while sent < audio.size:
        # deliver every chunk whose last sample has been "spoken" by now
        while sent < audio.size and (sent + chunk) / 16000 <= clock[0] + 1e-9:
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
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--chunk-ms", type=int, default=256)
    parser.add_argument("--min-step", type=float, default=0.3)
    parser.add_argument("--trim", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=0, help="only the first N seconds")
    parser.add_argument("--show", action="store_true", help="print the committed text")
    args = parser.parse_args()
    from faster_whisper import decode_audio

    item = clip(args.file)
    audio = decode_audio(str(AUDIO_DIR / args.file))
    if args.seconds:
        audio = audio[: int(args.seconds * 16000)]
    decoder = Decoder(args.model, args.threads, args.beam)
    options = LiveOptions(
        language="en", is_multilingual=False, min_step_s=args.min_step, trim_s=args.trim
    )
    r = simulate(audio, decoder, options, args.chunk_ms)
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
