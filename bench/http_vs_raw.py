#!/usr/bin/env python3
"""Benchmark: raw faster-whisper in-process vs. the same model through our HTTP API.

usage: .venv/bin/python bench/http_vs_raw.py [--model DIR] [--threads 2] [--repeat 2]
                                             [--sets librispeech,ljspeech,longform]
                                             [--skip-memory]

Starts the real product (gateway + worker, as `make run` does) on free ports, then for
each file alternates raw in-process decoding and an HTTP request, so both see the same
machine load. Prints per-set real-time factors (audio seconds per wall second, RTFx) and
their ratio (ours / raw; goal >= 0.95), WER for both, and the gateway's memory growth
while a 100 MB upload is transcribed (goal <= 64 MB). Ratios, not absolute seconds: the
machines are shared and noisy. Run on demand, not in CI.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import httpx
import numpy as np

# The e2e harness (package `e2e` under test/) starts the product exactly as the tests do.
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN, Gateway, free_port, wait_for
from e2e.speech import AUDIO_DIR, clips_of, wer


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def post(gateway: Gateway | str, path: Path) -> str:
    base_url = gateway if isinstance(gateway, str) else gateway.base_url
    with path.open("rb") as handle:
        response = httpx.post(
            f"{base_url}/v1/audio/transcriptions",
            files={"file": (path.name, handle, "application/octet-stream")},
            data={"model": "whisper-1"},
            timeout=3600,
        )
    response.raise_for_status()
    return str(response.json()["text"])


def make_big_wav(path: Path, size_bytes: int, speech: Path) -> float:
    """A 16 kHz mono WAV of about size_bytes: real speech repeated with pauses."""
    from faster_whisper import decode_audio

    clip = (decode_audio(str(speech)) * 32767).astype(np.int16)
    pause = np.zeros(16000 * 2, dtype=np.int16)
    unit = np.concatenate([clip, pause]).tobytes()
    frames = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        while frames * 2 + len(unit) < size_bytes - 44:
            out.writeframes(unit)
            frames += len(unit) // 2
    return frames / 16000


def bench_memory(gateway: Gateway, tmp: Path) -> tuple[float, float, float]:
    assert gateway.process is not None
    big = tmp / "big.wav"
    audio_s = make_big_wav(big, 100 * 1000 * 1000, AUDIO_DIR / "jfk.wav")
    pid = gateway.process.pid
    before = rss_kb(pid, "VmRSS")
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid, "VmRSS"))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    post(gateway, big)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return (peak[0] - before) / 1024, audio_s, elapsed


def start_whisperlive_rest(
    python: str, model_dir: Path, threads: int, tmp: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """WhisperLive 0.10's own server with its OpenAI-style REST endpoint, same model."""
    ws_port, rest_port = free_port(), free_port()
    serve = REPO.parent / "shared" / "peers" / "whisperlive" / "serve.py"
    cmd = [
        python,
        str(serve),
        str(model_dir),
        "--port",
        str(ws_port),
        "--rest-port",
        str(rest_port),
    ]
    log = (tmp / "whisperlive.log").open("ab")
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{rest_port}"

    def up() -> bool:
        return httpx.get(f"{url}/docs", timeout=2).status_code < 500

    if not wait_for(up, 180):
        proc.kill()
        raise RuntimeError(f"WhisperLive REST did not start; see {tmp / 'whisperlive.log'}")
    return proc, url


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=TINY_EN)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sets", default="librispeech,ljspeech,longform")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--whisperlive-python",
        default="/tmp/whisperlive-venv/bin/python",
        help="python of a venv with whisper-live==0.10.0 (../shared/peers/whisperlive); "
        "its REST endpoint is measured too when this exists",
    )
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    raw = WhisperModel(str(args.model), device="cpu", compute_type="int8", cpu_threads=args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="stt-bench-"))
    gateway = Gateway.for_bench(tmp, args.model, args.threads)
    peer = None
    peer_url = None
    if Path(args.whisperlive_python).exists():
        peer, peer_url = start_whisperlive_rest(
            args.whisperlive_python, args.model, args.threads, tmp
        )
    try:
        gateway.wait_healthy()
        rows = []
        for set_name in args.sets.split(","):
            items = (
                clips_of(set_name)
                if set_name != "longform"
                else [c for c in clips_of("longform") if "ljspeech" in c.path.name]
            )
            audio_s = sum(c.duration_s for c in items)
            raw_times, vad_times, http_times, peer_times = [], [], [], []
            raw_texts, http_texts, peer_texts = [], [], []
            for repeat in range(args.repeat):
                for item in items:
                    t0 = time.perf_counter()
                    segments, _ = raw.transcribe(str(item.path), beam_size=5)
                    text = " ".join(s.text.strip() for s in segments)
                    t1 = time.perf_counter()
                    segments, _ = raw.transcribe(str(item.path), beam_size=5, vad_filter=True)
                    list(segments)
                    t2 = time.perf_counter()
                    ours = post(gateway, item.path)
                    t3 = time.perf_counter()
                    raw_times.append(t1 - t0)
                    vad_times.append(t2 - t1)
                    http_times.append(t3 - t2)
                    if peer_url is not None:
                        theirs = post(peer_url, item.path)
                        peer_times.append(time.perf_counter() - t3)
                    if repeat == 0:
                        raw_texts.append(text)
                        http_texts.append(ours)
                        if peer_url is not None:
                            peer_texts.append(theirs)
            refs = [c.text for c in items]
            n = args.repeat
            raw_rtfx = audio_s * n / sum(raw_times)
            vad_rtfx = audio_s * n / sum(vad_times)
            http_rtfx = audio_s * n / sum(http_times)
            peer_rtfx = audio_s * n / sum(peer_times) if peer_times else float("nan")
            peer_wer = wer(refs, peer_texts) if peer_texts else float("nan")
            rows.append(
                f"| {set_name} | {len(items)} | {audio_s:.0f} | {raw_rtfx:.1f} | {vad_rtfx:.1f} | "
                f"{http_rtfx:.1f} | {http_rtfx / raw_rtfx:.2f} | {http_rtfx / vad_rtfx:.2f} | "
                f"{wer(refs, raw_texts):.1%} | {wer(refs, http_texts):.1%} | {peer_rtfx:.1f} | "
                f"{peer_wer:.1%} |"
            )

        print(f"\nmodel {args.model.name}, int8, beam 5, {args.threads} threads, {n} passes\n")
        print(
            "| set | files | audio s | raw RTFx | raw+VAD RTFx | our HTTP RTFx | ratio vs raw | "
            "ratio vs raw+VAD | WER raw | WER ours | WhisperLive REST RTFx | WER WhisperLive |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for line in rows:
            print(line)
        if not args.skip_memory:
            growth_mb, big_audio_s, elapsed = bench_memory(gateway, tmp)
            print(
                f"\ngateway RSS growth while transcribing a 100 MB WAV ({big_audio_s / 60:.0f} min of audio, "
                f"{elapsed:.0f} s): {growth_mb:.1f} MB (goal <= 64 MB)"
            )
    finally:
        gateway.stop()
        if peer is not None:
            peer.terminate()
            peer.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
