#!/usr/bin/env python3
"""Benchmark: long files, raw faster-whisper (sequential and batched) vs. our HTTP API.

usage: .venv/bin/python bench/long_file.py [--model DIR] [--threads 2] [--repeat 1]
                                           [--files lj003,ljspeech] [--batch 8]
                                           [--whisperlive-python /tmp/whisperlive-venv/bin/python]

For each longform file (default: both, the 13.5-minute non-native LJ file and the
3-minute LJ file) it runs, one after the other on the same machine so all see the same
load:

- raw sequential: `WhisperModel.transcribe` (beam 5, faster-whisper's defaults: no VAD,
  previous-text conditioning, temperature fallback), in process;
- raw batched: faster-whisper's `BatchedInferencePipeline` (beam 5, batch 8), in process;
- ours: `POST /v1/audio/transcriptions` on the real product (gateway + worker, started as
  `make run` does), with its default settings (VAD chunks decoded in batches);
- WhisperLive 0.10's own OpenAI-style REST endpoint on the same model and threads, when
  `--whisperlive-python` exists (../shared/peers/whisperlive installs it).

Prints RTFx (audio seconds per wall second), the ratio to raw sequential (goal >= 2) and
WER against the reference (goal: ours <= raw sequential + 0.5 point). Ratios, not absolute
seconds: the machines are shared and noisy. Run on demand, not in CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN, Gateway
from e2e.speech import AUDIO_DIR, clips, wer
from http_vs_raw import post, start_whisperlive_rest


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=TINY_EN)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--files", default="lj003,ljspeech", help="name prefixes of longform files")
    parser.add_argument("--batch", type=int, default=8, help="BatchedInferencePipeline batch")
    parser.add_argument("--skip-raw-batched", action="store_true")
    parser.add_argument(
        "--whisperlive-python",
        default="/tmp/whisperlive-venv/bin/python",
        help="python of a venv with whisper-live==0.10.0; its REST endpoint is measured too "
        "when this exists",
    )
    args = parser.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    prefixes = tuple(args.files.split(","))
    # The non-native file's reference is "good" (read prompts), not "exact": take both.
    items = [c for c in clips() if c.set == "longform" and c.path.name.startswith(prefixes)]
    if not items:
        parser.error(f"no longform file starts with {prefixes}")
    raw = WhisperModel(str(args.model), device="cpu", compute_type="int8", cpu_threads=args.threads)
    batched = BatchedInferencePipeline(raw)
    tmp = Path(tempfile.mkdtemp(prefix="stt-bench-"))
    gateway = Gateway.for_bench(tmp, args.model, args.threads)
    peer, peer_url = None, None
    if Path(args.whisperlive_python).exists():
        peer, peer_url = start_whisperlive_rest(
            args.whisperlive_python, args.model, args.threads, tmp
        )
    rows = []
    totals: dict[str, list[float]] = {"seq": [], "batched": [], "ours": [], "peer": []}
    texts: dict[str, list[str]] = {"seq": [], "batched": [], "ours": [], "peer": []}
    try:
        gateway.wait_healthy()
        post(gateway, AUDIO_DIR / "jfk.wav")  # the first request pays for start-up
        for item in items:
            times: dict[str, float] = {}
            for repeat in range(args.repeat):
                t0 = time.perf_counter()
                segments, _ = raw.transcribe(str(item.path), beam_size=5)
                seq_text = " ".join(s.text.strip() for s in segments)
                t1 = time.perf_counter()
                if not args.skip_raw_batched:
                    segments, _ = batched.transcribe(
                        str(item.path), beam_size=5, batch_size=args.batch
                    )
                    batched_text = " ".join(s.text.strip() for s in segments)
                t2 = time.perf_counter()
                ours_text = post(gateway, item.path)
                t3 = time.perf_counter()
                peer_text = post(peer_url, item.path) if peer_url is not None else ""
                t4 = time.perf_counter()
                for key, seconds in (("seq", t1 - t0), ("batched", t2 - t1), ("ours", t3 - t2)):
                    times[key] = times.get(key, 0.0) + seconds
                if peer_url is not None:
                    times["peer"] = times.get("peer", 0.0) + t4 - t3
                if repeat == 0:
                    texts["seq"].append(seq_text)
                    texts["ours"].append(ours_text)
                    if peer_url is not None:
                        texts["peer"].append(peer_text)
                    if not args.skip_raw_batched:
                        texts["batched"].append(batched_text)
            audio_s = item.duration_s * args.repeat
            rtfx = {key: audio_s / seconds for key, seconds in times.items()}
            rtfx.setdefault("peer", float("nan"))
            for key in totals:
                totals[key].append(times.get(key, 0.0))
            row_wer = {
                key: wer([item.text], texts[key][-1:]) if texts[key] else float("nan")
                for key in texts
            }
            rows.append(
                f"| {item.path.name[:40]} | {item.duration_s:.0f} | {rtfx['seq']:.1f} | "
                f"{rtfx['batched'] if not args.skip_raw_batched else float('nan'):.1f} | "
                f"{rtfx['ours']:.1f} | {rtfx['ours'] / rtfx['seq']:.2f} | "
                f"{row_wer['seq']:.1%} | {row_wer['batched']:.1%} | {row_wer['ours']:.1%} | "
                f"{rtfx['peer']:.1f} | {row_wer['peer']:.1%} |"
            )
        refs = [c.text for c in items]
        audio_total = sum(c.duration_s for c in items) * args.repeat

        def overall(key: str) -> float:
            spent = sum(totals[key])
            return audio_total / spent if spent else float("nan")

        def overall_wer(key: str) -> float:
            return wer(refs, texts[key]) if texts[key] else float("nan")

        rows.append(
            f"| **all** | {audio_total / args.repeat:.0f} | {overall('seq'):.1f} | "
            f"{overall('batched'):.1f} | {overall('ours'):.1f} | "
            f"{overall('ours') / overall('seq'):.2f} | {overall_wer('seq'):.1%} | "
            f"{overall_wer('batched'):.1%} | {overall_wer('ours'):.1%} | "
            f"{overall('peer'):.1f} | {overall_wer('peer'):.1%} |"
        )
    finally:
        gateway.stop()
        if peer is not None:
            peer.terminate()
            peer.wait(30)
    print(
        f"\nmodel {args.model.name}, int8, beam 5, {args.threads} threads, "
        f"{args.repeat} pass(es), raw batched = BatchedInferencePipeline batch {args.batch}\n"
    )
    print(
        "| file | audio s | raw seq RTFx | raw batched RTFx | our HTTP RTFx | ours / seq | "
        "WER seq | WER raw batched | WER ours | WhisperLive REST RTFx | WER WhisperLive |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
