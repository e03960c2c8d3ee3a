#!/usr/bin/env python3
"""Streaming benchmark: real speech played in real time over the WhisperLive protocol.

usage: .venv/bin/python bench/streaming.py [--streams 1,2,4] [--file PATH] [--ours] [--whisperlive]
                                           [--whisperlive-batch] [--model DIR] [--threads 2]
                                           [--whisperlive-python /tmp/whisperlive-venv/bin/python]

For each server and each stream count N, N clients connect at once and each sends the
same file as float32 frames of 4096 samples (256 ms, like WhisperLive's own client),
paced in real time, then END_OF_AUDIO. Reported per row:

- committed latency p50 / p95: arrival of a segment as `completed` minus the moment its
  end was spoken (stream start + segment end), over all streams;
- first partial: arrival of the first partial minus the moment its start was spoken;
- WER of the committed text plus the last partial (WhisperLive never commits its tail);
- streams refused (WhisperLive's WAIT) or failed.

Then, per server, the most streams it served in full within committed p95 <= 3 s and
<= 5 s (with WER <= 4.5 %), over the stream counts measured.

Starts our product (gateway + worker) and, when asked, WhisperLive 0.10's own server from
../shared/peers/whisperlive (install it there first; it is not a project dependency) on
the same model and threads. Run on demand, never in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))


from e2e.conftest import TINY_EN, Gateway, free_port, wait_for
from e2e.live_client import RATE, StreamResult, run_stream
from e2e.speech import AUDIO_DIR, clip, wer


def measure(
    url: str, audio: np.ndarray, model: str, streams: int, tail_s: float
) -> list[StreamResult]:
    results = [StreamResult() for _ in range(streams)]
    threads = [
        threading.Thread(target=run_stream, args=(url, audio, model, r, tail_s)) for r in results
    ]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    return results


class FileLoad:
    """POSTs one file to the HTTP API over and over, in a thread, until stopped."""

    def __init__(self, base_url: str, path: Path) -> None:
        import httpx
        from faster_whisper.audio import decode_audio

        self._stop = threading.Event()
        self._audio_s = 0.0
        duration = decode_audio(str(path)).size / RATE

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    with path.open("rb") as handle:
                        response = httpx.post(
                            f"{base_url}/v1/audio/transcriptions",
                            files={"file": (path.name, handle)},
                            data={"model": "whisper-1"},
                            timeout=3600,
                        )
                except httpx.HTTPError:
                    return  # the server stopped (end of the run)
                if response.status_code == 200:
                    self._audio_s += duration

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stops after the request in flight; returns the file audio fully transcribed."""
        self._stop.set()
        return self._audio_s


def start_whisperlive(
    python: str, model_dir: Path, threads: int, batch: bool, log: Path
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [
        python,
        str(REPO.parent / "shared" / "peers" / "whisperlive" / "serve.py"),
        str(model_dir),
        "--port",
        str(port),
    ]
    if batch:
        cmd.append("--batch")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def listening() -> bool:
        import socket

        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    if not wait_for(listening, 180):
        proc.kill()
        raise RuntimeError(f"WhisperLive did not start; see {log}")
    return proc, port


class LoadSampler:
    """Reads our worker's load from /health every second while the streams run."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self._stop = threading.Event()
        self.cycles: list[float] = []
        self.batches: list[float] = []

        def loop() -> None:
            while not self._stop.wait(1.0):
                with contextlib.suppress(Exception):
                    load = httpx.get(f"{base_url}/health", timeout=2).json()["load"]
                    if load["live_streams"] and load["live_cycle_ms"]:
                        self.cycles.append(load["live_cycle_ms"] / 1000)
                        self.batches.append(load["mean_batch_size"])

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[float, float]:
        """Median live decode cycle (s) and windows per engine call over the run."""
        self._stop.set()
        self._thread.join()
        if not self.cycles:
            return float("nan"), float("nan")
        return statistics.median(self.cycles), statistics.median(self.batches)


@dataclass
class Row:
    name: str
    streams: int
    p95: float
    wer: float
    refused: int
    text: str


def save_texts(directory: Path | None, name: str, results: list[StreamResult]) -> None:
    """Keeps each stream's transcript (committed text plus the last partial)."""
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    slug = name.split(" (")[0].replace(" ", "_")
    for i, result in enumerate(results):
        (directory / f"{slug}-{len(results)}-{i}.txt").write_text(result.text() + "\n")


def row(name: str, n: int, results: list[StreamResult], reference: str) -> Row:
    lat = [x for r in results for x in r.latencies]
    firsts = [r.first_partial_s for r in results if r.first_partial_s is not None]
    errors = [r.error for r in results if r.error]
    p50 = float(np.percentile(lat, 50)) if lat else float("nan")
    p95 = float(np.percentile(lat, 95)) if lat else float("nan")
    first = statistics.median(firsts) if firsts else float("nan")
    served = [r for r in results if not r.error]
    w = wer([reference] * len(served), [r.text() for r in served]) if served else float("nan")
    note = f" ({len(errors)} refused or failed: {errors[0]})" if errors else ""
    text = (
        f"| {name} | {n} | {p50:.2f} s | {p95:.2f} s | {first:.2f} s | {w:.1%} | {len(lat)} |{note}"
    )
    return Row(name, n, p95, w, len(errors), text)


def capacity(rows: list[Row], bound_s: float, max_wer: float) -> dict[str, int]:
    """Per server, the most streams served in full at committed p95 <= bound_s and WER <=
    max_wer (0 if none)."""
    best: dict[str, int] = {}
    for r in rows:
        ok = r.refused == 0 and r.p95 <= bound_s and r.wer <= max_wer
        best[r.name] = max(best.get(r.name, 0), r.streams if ok else 0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", default="1")
    parser.add_argument("--file", default="longform/ljspeech_LJ001-0001_0025_concat.flac")
    parser.add_argument("--model", type=Path, default=TINY_EN)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ours", action="store_true")
    parser.add_argument("--whisperlive", action="store_true")
    parser.add_argument("--whisperlive-batch", action="store_true")
    parser.add_argument("--whisperlive-python", default="/tmp/whisperlive-venv/bin/python")
    parser.add_argument(
        "--tail",
        type=float,
        default=20.0,
        help="seconds to wait for results after the audio",
    )
    parser.add_argument(
        "--file-load",
        default="",
        help="while streaming to our server, keep POSTing this file (relative to ../shared/audio) "
        "to /v1/audio/transcriptions, to see live latency under a concurrent file load",
    )
    parser.add_argument(
        "--texts",
        type=Path,
        default=None,
        help="write each stream's transcript to DIR/<server>-<N>-<i>.txt, to see the errors",
    )
    args = parser.parse_args()
    if not (args.ours or args.whisperlive or args.whisperlive_batch):
        args.ours = True
    from faster_whisper import decode_audio

    item = clip(args.file)
    audio = decode_audio(str(AUDIO_DIR / args.file))
    counts = [int(n) for n in args.streams.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="stt-stream-bench-"))
    rows: list[Row] = []
    if args.ours:
        gateway = Gateway.for_bench(tmp, args.model, args.threads)
        try:
            gateway.wait_healthy()
            for n in counts:
                load = (
                    FileLoad(gateway.base_url, AUDIO_DIR / args.file_load)
                    if args.file_load
                    else None
                )
                sampler = LoadSampler(gateway.base_url)
                results = measure(
                    f"ws://127.0.0.1:{gateway.ws_port}",
                    audio,
                    args.model.name,
                    n,
                    args.tail,
                )
                cycle, batch = sampler.stop()
                name = "ours"
                if load is not None:
                    name = f"ours + file load ({load.stop():.0f} s of file audio done)"
                save_texts(args.texts, name, results)
                rows.append(row(name, n, results, item.text))
                print(
                    f"{rows[-1].text}  (worker: live cycle {cycle:.2f} s, {batch:.1f} windows "
                    "per engine call)",
                    flush=True,
                )
        finally:
            gateway.stop()
    for batch, wanted in ((False, args.whisperlive), (True, args.whisperlive_batch)):
        if not wanted:
            continue
        proc, port = start_whisperlive(
            args.whisperlive_python,
            args.model,
            args.threads,
            batch,
            tmp / "whisperlive.log",
        )
        try:
            for n in counts:
                results = measure(f"ws://127.0.0.1:{port}", audio, args.model.name, n, args.tail)
                name = "WhisperLive 0.10" + (" batch" if batch else "")
                save_texts(args.texts, name, results)
                rows.append(row(name, n, results, item.text))
                print(rows[-1].text, flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
    print(
        f"\n{item.path.name} ({item.duration_s:.0f} s), model {args.model.name}, {args.threads} threads\n"
    )
    print("| server | streams | committed p50 | committed p95 | first partial | WER | segments |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(r.text)
    print("\n| server | most streams at p95 <= 3 s | at p95 <= 5 s | (all served, WER <= 4.5 %) |")
    print("|---|---|---|---|")
    three, five = capacity(rows, 3.0, 0.045), capacity(rows, 5.0, 0.045)
    for name in three:
        print(f"| {name} | {three[name]} | {five[name]} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
