#!/usr/bin/env python3
"""Backends side by side: faster-whisper and OpenVINO on the same weights, in one run.

usage: .venv/bin/python bench/backends.py [--sets librispeech,ljspeech,longform]
           [--streams 1,4,8] [--live-file PATH] [--threads 2] [--skip-files]
           [--skip-live] [--whisperlive] [--whisperlive-python PATH]

Files: our product (gateway + worker, as `make run` starts it) on each backend in turn
transcribes every file of the sets through POST /v1/audio/transcriptions, one request at
a time; the raw runtimes decode the same files in process (faster-whisper's `transcribe`
with beam 5 and VAD; OpenVINO GenAI's `WhisperPipeline.generate` on the whole file), so
each backend is also compared with its own runtime. Reported: RTFx (audio seconds per
wall second) and WER per set.

Live: for each backend, N WhisperLive-protocol clients stream the same file in real time
at once (bench/streaming.py's measurement), and the most streams served within committed
p95 <= 3 s and <= 5 s (WER <= 4.5 %) is printed; `--whisperlive` adds WhisperLive 0.10's
own server on the CTranslate2 weights in the same run.

Models: tiny.en as CTranslate2 (the test models) and as OpenVINO IR
(../shared/models/openvino-tiny.en). Ratios, not absolute seconds: these machines are
shared and noisy. Run on demand, never in CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))
sys.path.insert(0, str(REPO / "bench"))

from e2e.conftest import OPENVINO_TINY_EN, TINY_EN, Gateway
from e2e.speech import AUDIO_DIR, Clip, clip, clips_of, wer
from streaming import capacity, measure, row, start_whisperlive

MODELS = {"faster_whisper": TINY_EN, "openvino": OPENVINO_TINY_EN}


@dataclass
class FileRow:
    name: str
    set_name: str
    audio_s: float
    wall_s: float
    wer: float

    def text(self) -> str:
        return (
            f"| {self.name} | {self.set_name} | {self.audio_s:.0f} s | "
            f"{self.audio_s / self.wall_s:.1f}x | {self.wer:.2%} |"
        )


def via_http(gateway: Gateway, item: Clip) -> str:
    with item.path.open("rb") as handle:
        response = httpx.post(
            f"{gateway.base_url}/v1/audio/transcriptions",
            files={"file": (item.path.name, handle)},
            data={"model": "whisper-1"},
            timeout=3600,
        )
    response.raise_for_status()
    return str(response.json()["text"])


def raw_decoder(backend: str, threads: int, beam: int = 5) -> Any:  # noqa: ANN401
    """The backend's own runtime in process, as a `path -> text` function."""
    from faster_whisper import WhisperModel, decode_audio

    if backend == "faster_whisper":
        model = WhisperModel(str(TINY_EN), device="cpu", compute_type="int8", cpu_threads=threads)

        def faster(path: Path) -> str:
            segments, _ = model.transcribe(str(path), beam_size=beam, vad_filter=True)
            return " ".join(s.text.strip() for s in segments)

        return faster
    import openvino_genai

    pipeline = openvino_genai.WhisperPipeline(
        str(OPENVINO_TINY_EN), "CPU", INFERENCE_NUM_THREADS=threads
    )

    def openvino(path: Path) -> str:
        result = pipeline.generate(decode_audio(str(path)), num_beams=beam, return_timestamps=True)
        return " ".join(c.text.strip() for c in result.chunks)

    return openvino


def bench_raw(backend: str, sets: list[str], threads: int, beams: list[int]) -> list[FileRow]:
    """The runtimes alone at each beam width (what a default could be chosen from)."""
    rows: list[FileRow] = []
    for beam in beams:
        raw = raw_decoder(backend, threads, beam)
        for set_name in sets:
            items = clips_of(set_name)
            started = time.perf_counter()
            texts = [raw(item.path) for item in items]
            wall_s = time.perf_counter() - started
            audio_s = sum(item.duration_s for item in items)
            refs = [item.text for item in items]
            name = f"raw {backend} runtime, beam {beam}"
            rows.append(FileRow(name, set_name, audio_s, wall_s, wer(refs, texts)))
            print(rows[-1].text(), flush=True)
    return rows


def bench_files(backend: str, sets: list[str], threads: int, tmp: Path) -> list[FileRow]:
    rows: list[FileRow] = []
    gateway = Gateway.for_bench(tmp, MODELS[backend], threads, backend)
    try:
        gateway.wait_healthy()
        raw = raw_decoder(backend, threads)
        for set_name in sets:
            items = clips_of(set_name)
            ours, theirs = [], []
            ours_s = raw_s = 0.0
            for item in items:
                started = time.perf_counter()
                ours.append(via_http(gateway, item))
                ours_s += time.perf_counter() - started
                started = time.perf_counter()
                theirs.append(raw(item.path))
                raw_s += time.perf_counter() - started
            refs = [item.text for item in items]
            audio_s = sum(item.duration_s for item in items)
            rows.append(FileRow(f"ours, {backend}", set_name, audio_s, ours_s, wer(refs, ours)))
            rows.append(
                FileRow(f"raw {backend} runtime", set_name, audio_s, raw_s, wer(refs, theirs))
            )
            print(rows[-2].text(), rows[-1].text(), sep="\n", flush=True)
    finally:
        gateway.stop()
    return rows


def bench_live(backend: str, counts: list[int], live_file: str, threads: int, tmp: Path) -> list:
    from faster_whisper import decode_audio

    item = clip(live_file)
    audio = decode_audio(str(AUDIO_DIR / live_file))
    rows = []
    gateway = Gateway.for_bench(tmp, MODELS[backend], threads, backend)
    try:
        gateway.wait_healthy()
        for n in counts:
            results = measure(f"ws://127.0.0.1:{gateway.ws_port}", audio, "tiny.en", n, 20.0)
            rows.append(row(f"ours, {backend}", n, results, item.text))
            print(rows[-1].text, flush=True)
    finally:
        gateway.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="librispeech,ljspeech,longform")
    parser.add_argument("--streams", default="1,4,8")
    parser.add_argument("--live-file", default="longform/ljspeech_LJ001-0001_0025_concat.flac")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backends", default="faster_whisper,openvino")
    parser.add_argument("--skip-files", action="store_true")
    parser.add_argument(
        "--raw-beams",
        default="",
        help="also run the raw runtimes alone at these beam widths (e.g. 5,1), no server",
    )
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--whisperlive", action="store_true")
    parser.add_argument("--whisperlive-python", default="/tmp/whisperlive-venv/bin/python")
    args = parser.parse_args()
    backends = args.backends.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="stt-backends-bench-"))
    file_rows: list[FileRow] = []
    live_rows = []
    if args.raw_beams:
        beams = [int(b) for b in args.raw_beams.split(",")]
        for backend in backends:
            file_rows += bench_raw(backend, args.sets.split(","), args.threads, beams)
    if not args.skip_files:
        for backend in backends:
            file_rows += bench_files(backend, args.sets.split(","), args.threads, tmp)
    if not args.skip_live:
        counts = [int(n) for n in args.streams.split(",")]
        for backend in backends:
            live_rows += bench_live(backend, counts, args.live_file, args.threads, tmp)
        if args.whisperlive:
            from faster_whisper import decode_audio

            item = clip(args.live_file)
            audio = decode_audio(str(AUDIO_DIR / args.live_file))
            proc, port = start_whisperlive(
                args.whisperlive_python, TINY_EN, args.threads, False, tmp / "whisperlive.log"
            )
            try:
                for n in counts:
                    results = measure(f"ws://127.0.0.1:{port}", audio, "tiny.en", n, 20.0)
                    live_rows.append(row("WhisperLive 0.10", n, results, item.text))
                    print(live_rows[-1].text, flush=True)
            finally:
                proc.terminate()
                proc.wait(30)
    print(f"\ntiny.en, {args.threads} threads\n")
    if file_rows:
        print("| decoder | set | audio | RTFx | WER |\n|---|---|---|---|---|")
        for file_row in file_rows:
            print(file_row.text())
    if live_rows:
        print(f"\nlive: {args.live_file}\n")
        print(
            "| server | streams | committed p50 | committed p95 | first partial | WER | segments |"
        )
        print("|---|---|---|---|---|---|---|")
        for live_row in live_rows:
            print(live_row.text)
        for bound in (3.0, 5.0):
            best = capacity(live_rows, bound, 0.045)
            served = ", ".join(f"{name}: {n}" for name, n in best.items())
            print(f"most streams within committed p95 <= {bound:.0f} s, WER <= 4.5 %: {served}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
