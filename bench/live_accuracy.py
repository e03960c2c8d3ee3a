#!/usr/bin/env python3
"""Live accuracy benchmark: how much a live stream loses against offline decoding.

usage: .venv/bin/python bench/live_accuracy.py [--sets short,longform,multispeaker]
           [--pauses 0.7,1.0,2.0] [--clips 2] [--clients float32,int16,whisperlive-client]
           [--servers ours,whisperlive] [--whisperlive-int16] [--quick] [--model DIR]
           [--threads 2] [--use-vad] [--tail 20] [--json PATH]
           [--whisperlive-python /tmp/whisperlive-venv/bin/python]

Sets, built from ../shared/audio (clip sets once per pause):
- `short`: clips of librispeech, lj_prompts_nonnative and samples (`--clips` of each,
  evenly spread, exact references, at most 15 s), interleaved and joined with a pause;
- `librispeech`, `lj_prompts_nonnative`, `samples`: one source each, joined the same way;
- `multilingual`: the non-English picovoice clips, with language detection (only with a
  multilingual model, e.g. `--model ~/.cache/whisperlive-hybrid/models/base`); the
  languages follow each other in one stream, and a server that detects the language once
  per session can get only the first one right;
- `longform`: the 3-minute LJ file (its 25 sentences are the utterances);
- `multispeaker`: the two multispeaker files (speaker turns / channels are the utterances)
  joined with a 1 s pause.
Every set ends with a pause. With an English-only model only English clips are used.

Each set is streamed in real time, one stream at a time, to each server (ours: gateway +
worker; WhisperLive 0.10's own server from ../shared/peers/whisperlive, same model and
threads) with each client: `float32` (raw protocol, 4096-sample float32 frames, like
WhisperLive's client), `int16` (raw protocol, `audio_format: "int16"`; on WhisperLive only
with `--whisperlive-int16`: it converts int16 to the same float32 samples as its own
client) and `whisperlive-client` (WhisperLive's stock `TranscriptionClient`, unchanged, on a
WAV of the set; its SRT text is scored). The offline reference is faster-whisper itself
(same model dir, int8, beam 5, the given threads, language "en" for English clips) on each
clip or file separately.

Reported per set and per (server, client):
- WER live (committed text plus the last partial) and WER offline, and their ratio;
- first words kept: share of utterances whose first reference word is aligned `equal` when
  the whole normalised transcript is aligned (jiwer) to the utterances' references;
- words inserted in pauses: alignment insertions after one utterance's last reference word
  and before the next one's first (or after the last one);
- committed latency p50 / p95: arrival of a `completed` segment minus the moment its end
  was spoken (not available from the stock client: '-').
One markdown table at the end; `--json` (default bench/results/live_accuracy-<time>.json)
keeps every transcript, the utterances whose first word was lost (reference, aligned
hypothesis and context) and the words inserted in pauses.

The default run (short set at three pauses, the 3-minute file, multispeaker; ours with
three clients, WhisperLive with two) takes about 33 minutes; `--quick` (one short set of
3 clips at 1.0 s, float32 only) about 2. Run on demand, never in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN, Gateway
from e2e.live_client import RATE, StreamResult, run_stream
from e2e.speech import AUDIO_DIR, Clip, clip, clips_of, normalize, wer, write_wav
from streaming import start_whisperlive

CLIENTS = ("float32", "int16", "whisperlive-client")
SERVERS = ("ours", "whisperlive")
CLIP_SETS = ("short", "librispeech", "lj_prompts_nonnative", "samples", "multilingual")
SETS = (*CLIP_SETS, "longform", "multispeaker")
SHORT_SOURCES = ("librispeech", "lj_prompts_nonnative", "samples")
LONGFORM = "longform/ljspeech_LJ001-0001_0025_concat.flac"
MULTISPEAKER = (
    "multispeaker/picovoice_diarization_test.flac",
    "multispeaker/fw_stereo_diarization.flac",
)
MAX_CLIP_S = 15.0
# Languages written without spaces between words have no word error rate to speak of.
UNSPACED = {"zh", "ja", "th"}
SERVER_NAMES = {"ours": "ours", "whisperlive": "WhisperLive 0.10"}
# Wall time of one stream beyond its audio: the raw client's connect and final results, the
# stock client's 15 s of waiting for no change before it sends END_OF_AUDIO.
OVERHEAD_S = {"float32": 4.0, "int16": 4.0, "whisperlive-client": 18.0}


@dataclass
class Utterance:
    """One reference utterance of a set, in the order spoken."""

    text: str
    source: str
    start_s: float | None = None
    """Where it starts in the set's audio (None inside a file with no timings)."""


@dataclass
class OfflinePiece:
    """One file decoded offline, and the utterances it holds."""

    path: Path
    language: str
    text: str


@dataclass
class BenchSet:
    name: str
    pause_s: float | None
    language: str
    """Language for normalisation: "en", or "multi" (Whisper's basic normaliser)."""
    live_language: str | None
    """Language the clients send (None: the server detects it)."""
    audio: np.ndarray
    utterances: list[Utterance]
    pieces: list[OfflinePiece]

    @property
    def duration_s(self) -> float:
        return self.audio.size / RATE

    @property
    def label(self) -> str:
        pause = f" @{self.pause_s:.1f} s" if self.pause_s is not None else ""
        return f"{self.name}{pause} ({len(self.utterances)} utt, {self.duration_s:.0f} s)"


@dataclass
class Score:
    wer: float
    first_kept: int
    utterances: int
    inserted_in_pauses: int
    first_word_failures: list[dict[str, Any]] = field(default_factory=list)
    pause_insertions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Run:
    set: str
    server: str
    client: str
    wall_s: float
    hypothesis: str = ""
    score: Score | None = None
    latencies: list[float] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


# --- sets -------------------------------------------------------------------------------


def decode(path: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    return np.asarray(decode_audio(str(path), sampling_rate=RATE), dtype=np.float32)


def spread(items: list[Clip], n: int) -> list[Clip]:
    """n items evenly spread over the list (all when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(items):
        return items
    return [items[int((i + 0.5) * len(items) / n)] for i in range(n)]


def candidates(source: str, multilingual_model: bool) -> list[Clip]:
    seen: set[str] = set()
    out = []
    for c in clips_of(source):
        english = c.language == "en"
        if source == "multilingual" and (english or c.language in UNSPACED):
            continue
        if not english and not multilingual_model:
            continue
        if c.duration_s > MAX_CLIP_S or c.text in seen:
            continue
        seen.add(c.text)  # jfk.flac and jfk.wav are the same speech
        out.append(c)
    return out


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def clip_set(name: str, pause: float, limit: int, multilingual_model: bool) -> BenchSet | None:
    sources = SHORT_SOURCES if name == "short" else (name,)
    picked = [spread(candidates(s, multilingual_model), limit) for s in sources]
    ordered = [c for group in zip_longest_all(picked) for c in group]
    if not ordered:
        return None
    parts: list[np.ndarray] = []
    utterances = []
    at = 0.0
    for c in ordered:
        audio = decode(c.path)
        utterances.append(Utterance(c.text, str(c.path.relative_to(AUDIO_DIR)), round(at, 3)))
        parts += [audio, silence(pause)]
        at += (audio.size + round(pause * RATE)) / RATE
    english = all(c.language == "en" for c in ordered)
    return BenchSet(
        name=name,
        pause_s=pause,
        language="en" if english else "multi",
        live_language="en" if english else None,
        audio=np.concatenate(parts),
        utterances=utterances,
        pieces=[OfflinePiece(c.path, c.language, c.text) for c in ordered],
    )


def zip_longest_all(groups: list[list[Clip]]) -> list[list[Clip]]:
    """Interleaves the groups: first of each, then second of each, ..."""
    rounds = max((len(g) for g in groups), default=0)
    return [[g[i] for g in groups if i < len(g)] for i in range(rounds)]


def longform_set() -> BenchSet:
    item = clip(LONGFORM)
    sentences = clips_of("ljspeech")
    # The file is LJ001-0001..0025 back to back: its sentences are the utterances.
    if " ".join(c.text for c in sentences) == item.text:
        utterances = [Utterance(c.text, str(c.path.relative_to(AUDIO_DIR))) for c in sentences]
    else:
        utterances = [Utterance(item.text, LONGFORM, 0.0)]
    audio = np.concatenate([decode(item.path), silence(1.0)])
    return BenchSet(
        "longform", None, "en", "en", audio, utterances, [OfflinePiece(item.path, "en", item.text)]
    )


def multispeaker_set() -> BenchSet:
    manifest = {
        json.loads(line)["path"]: json.loads(line)
        for line in (AUDIO_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    }
    parts: list[np.ndarray] = []
    utterances = []
    pieces = []
    at = 0.0
    for relative in MULTISPEAKER:
        entry = manifest[relative]
        audio = decode(AUDIO_DIR / relative)
        if entry.get("speaker_turns"):
            turns = [str(t["text"]) for t in entry["speaker_turns"]]
        elif entry.get("channels_text"):
            turns = [str(entry["channels_text"]["left"]), str(entry["channels_text"]["right"])]
        else:
            turns = [str(entry["text"])]
        utterances += [
            Utterance(t, relative, round(at, 3) if i == 0 else None) for i, t in enumerate(turns)
        ]
        pieces.append(OfflinePiece(AUDIO_DIR / relative, "en", " ".join(turns)))
        parts += [audio, silence(1.0)]
        at += (audio.size + RATE) / RATE
    return BenchSet("multispeaker", 1.0, "en", "en", np.concatenate(parts), utterances, pieces)


def build_sets(
    args: argparse.Namespace, multilingual_model: bool
) -> tuple[list[BenchSet], list[str]]:
    sets: list[BenchSet] = []
    notes: list[str] = []
    for name in args.sets:
        if name == "longform":
            sets.append(longform_set())
        elif name == "multispeaker":
            sets.append(multispeaker_set())
        elif name == "multilingual" and not multilingual_model:
            notes.append("multilingual set skipped: the model is English-only")
        else:
            for pause in args.pauses:
                built = clip_set(name, pause, args.clips, multilingual_model)
                if built is None:
                    notes.append(f"set {name}: no clips")
                else:
                    sets.append(built)
    return sets, notes


# --- scoring ----------------------------------------------------------------------------


def score(utterances: list[Utterance], hypothesis: str, language: str) -> Score:
    """Aligns the whole normalised hypothesis to the utterances' references, back to back."""
    refs = [normalize(u.text, language).split() for u in utterances]
    kept = [(u, r) for u, r in zip(utterances, refs, strict=True) if r]
    starts: list[int] = []
    ref_words: list[str] = []
    for _, words in kept:
        starts.append(len(ref_words))
        ref_words += words
    hyp_words = normalize(hypothesis, language).split()
    if not ref_words:
        return Score(float("nan"), 0, 0, 0)
    # Per reference word: its operation and the hypothesis index it went to (its position
    # in the hypothesis when deleted); per reference position: the words inserted before it.
    ops = ["delete"] * len(ref_words)
    at = [0] * len(ref_words)
    inserted: dict[int, list[int]] = {}
    if hyp_words:
        out = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
        error_rate = float(out.wer)
        for chunk in out.alignments[0]:
            if chunk.type == "insert":
                inserted.setdefault(chunk.ref_start_idx, []).extend(
                    range(chunk.hyp_start_idx, chunk.hyp_end_idx)
                )
                continue
            for k, ref_index in enumerate(range(chunk.ref_start_idx, chunk.ref_end_idx)):
                ops[ref_index] = chunk.type
                at[ref_index] = chunk.hyp_start_idx + (k if chunk.type != "delete" else 0)
    else:
        error_rate = 1.0
    ends = [*starts[1:], len(ref_words)]
    result = Score(error_rate, 0, len(kept), 0)
    for i, ((utterance, _), start, end) in enumerate(zip(kept, starts, ends, strict=True)):
        if ops[start] == "equal":
            result.first_kept += 1
        else:
            matched = [at[r] for r in range(start, end) if ops[r] != "delete"]
            matched += [h for k in range(start + 1, end) for h in inserted.get(k, [])]
            positions = matched or [at[start]]
            lo, hi = min(positions), max(positions)
            result.first_word_failures.append(
                {
                    "utterance": i,
                    "source": utterance.source,
                    "spoken_at_s": utterance.start_s,
                    "reference": utterance.text,
                    "first_word": ref_words[start],
                    "first_word_was": ops[start],
                    "reference_normalized": " ".join(ref_words[start:end]),
                    "hypothesis_aligned": " ".join(hyp_words[lo : hi + 1]) if matched else "",
                    "hypothesis_context": " ".join(hyp_words[max(0, lo - 6) : hi + 7]),
                }
            )
        gap = inserted.get(end, [])  # after this utterance's last word, before the next
        if gap:
            result.inserted_in_pauses += len(gap)
            result.pause_insertions.append(
                {
                    "after_utterance": i,
                    "words": " ".join(hyp_words[h] for h in gap),
                    "before": " ".join(ref_words[end : end + 3]),
                }
            )
    return result


# --- offline ----------------------------------------------------------------------------


class Offline:
    """faster-whisper on each file by itself (cached: the clip sets share clips)."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        from faster_whisper import WhisperModel

        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self.multilingual = bool(self.model.model.is_multilingual)
        self._texts: dict[Path, str] = {}

    def text(self, piece: OfflinePiece) -> str:
        if piece.path not in self._texts:
            language = "en" if piece.language == "en" or not self.multilingual else None
            segments, _ = self.model.transcribe(decode(piece.path), beam_size=5, language=language)
            self._texts[piece.path] = " ".join(s.text.strip() for s in segments)
        return self._texts[piece.path]


# --- clients ----------------------------------------------------------------------------


def srt_text(path: Path) -> str:
    """The text lines of an SRT file (every 4th line from the 3rd, as upstream reads it)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return " ".join(line.strip() for line in lines[2::4])


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Sends file descriptor 2 to a file for a while (PyAudio's ALSA and JACK complaints)."""
    saved = os.dup(2)
    with path.open("ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def run_stock_client(
    port: int, bench_set: BenchSet, model: str, use_vad: bool, work: Path, log: Path
) -> tuple[str, str | None]:
    """WhisperLive's own TranscriptionClient on a WAV of the set; (SRT text, error)."""
    from whisper_live.client import TranscriptionClient

    work.mkdir(parents=True, exist_ok=True)
    wav = work / "set.wav"
    write_wav(wav, bench_set.audio, RATE)
    srt = work / "output.srt"
    srt.unlink(missing_ok=True)
    cwd = Path.cwd()
    os.chdir(work)  # it writes <stem>_resampled.wav into the current directory
    try:
        with log.open("a") as sink, contextlib.redirect_stdout(sink):
            with stderr_to(log):
                client = TranscriptionClient(
                    "127.0.0.1",
                    port,
                    lang=bench_set.live_language,
                    model=model,
                    use_vad=use_vad,
                    mute_audio_playback=True,
                    log_transcription=False,
                    output_transcription_path=str(srt),
                )
            # It busy-waits for SERVER_READY and for 15 s without news: run it in a thread.
            worker = threading.Thread(target=client, args=(str(wav),), daemon=True)
            worker.start()
            worker.join(bench_set.duration_s + 90)
            if worker.is_alive():
                inner = client.client
                inner.server_error = True  # ends its wait for SERVER_READY
                inner.recording = False  # ends its playback
                inner.last_response_received = 0.0  # ends its wait for silence
                worker.join(10)
                return "", "the stock client did not finish"
    finally:
        os.chdir(cwd)
    if not srt.exists():
        return "", "the stock client wrote no SRT"
    return srt_text(srt), None


def run_one(
    server: str,
    port: int,
    client: str,
    bench_set: BenchSet,
    args: argparse.Namespace,
    work: Path,
) -> Run:
    run = Run(bench_set.label, SERVER_NAMES[server], client, 0.0)
    started = time.perf_counter()
    if client == "whisperlive-client":
        run.hypothesis, run.error = run_stock_client(
            port, bench_set, args.model.name, args.use_vad, work / "stock", work / "stock.log"
        )
    else:
        result = StreamResult()
        try:
            run_stream(
                f"ws://127.0.0.1:{port}",
                bench_set.audio,
                args.model.name,
                result,
                args.tail,
                language=bench_set.live_language,
                audio_format=client,
                use_vad=args.use_vad,
            )
        except Exception as exc:  # a refused or broken connection is a result too
            result.error = f"{type(exc).__name__}: {exc}"
        run.hypothesis = result.text().strip()
        run.latencies = result.latencies
        run.error = result.error
        late = (result.end_sent_s or 0.0) - bench_set.duration_s
        if late > 1.0:
            run.notes.append(
                f"END_OF_AUDIO sent {late:.1f} s late (the server read slower than real time)"
            )
        if not result.error and not result.server_closed:
            run.error = f"still open {args.tail:g} s after END_OF_AUDIO: transcript cut there"
    run.wall_s = time.perf_counter() - started
    run.score = score(bench_set.utterances, run.hypothesis, bench_set.language)
    return run


# --- report -----------------------------------------------------------------------------


def finite(value: object) -> object:
    """The value with NaN floats as None, so that the JSON stays standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def percent(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1%}"


def seconds(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.2f} s" if values else "-"


def table_rows(
    sets: list[BenchSet], offline: dict[str, tuple[float, Score]], runs: list[Run]
) -> list[str]:
    rows = [
        "| set | server | client | WER live | WER offline | live / offline | first words kept "
        "| inserted in pauses | committed p50 | committed p95 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sets:
        off_wer, off = offline[s.label]
        rows.append(
            f"| {s.label} | offline faster-whisper | - | - | {percent(off_wer)} | - "
            f"| {off.first_kept}/{off.utterances} | {off.inserted_in_pauses} | - | - |"
        )
        for r in (r for r in runs if r.set == s.label):
            sc = r.score
            assert sc is not None
            ratio = sc.wer / off_wer if off_wer > 0 else math.nan
            ratio_text = "-" if math.isnan(ratio) else f"{ratio:.2f}"
            error = "".join(f" ({x})" for x in [r.error, *r.notes] if x)
            rows.append(
                f"| {s.label} | {r.server} | {r.client}{error} | {percent(sc.wer)} "
                f"| {percent(off_wer)} | {ratio_text} | {sc.first_kept}/{sc.utterances} "
                f"| {sc.inserted_in_pauses} | {seconds(r.latencies, 50)} | {seconds(r.latencies, 95)} |"
            )
    return rows


def totals(runs: list[Run]) -> list[str]:
    """Per (server, client), over all sets: first words kept and words inserted in pauses."""
    rows = [
        "| server | client | first words kept | inserted in pauses | committed p95 |",
        "|---|---|---|---|---|",
    ]
    keys = dict.fromkeys((r.server, r.client) for r in runs)
    for server, client in keys:
        mine = [r for r in runs if (r.server, r.client) == (server, client) and r.score]
        kept = sum(r.score.first_kept for r in mine if r.score)
        total = sum(r.score.utterances for r in mine if r.score)
        inserted = sum(r.score.inserted_in_pauses for r in mine if r.score)
        lat = [x for r in mine for x in r.latencies]
        share = f"{kept}/{total} ({kept / total:.0%})" if total else "-"
        rows.append(f"| {server} | {client} | {share} | {inserted} | {seconds(lat, 95)} |")
    return rows


@contextlib.contextmanager
def serve(server: str, args: argparse.Namespace, tmp: Path) -> Iterator[int]:
    """Starts one server (ours: gateway + worker; or WhisperLive 0.10's) and yields its
    WebSocket port; stops it (by its own process) on the way out."""
    if server == "ours":
        gateway = Gateway.for_bench(tmp, args.model, args.threads)
        try:
            gateway.wait_healthy()
            yield gateway.ws_port
        finally:
            gateway.stop()
        return
    proc, port = start_whisperlive(
        args.whisperlive_python, args.model, args.threads, False, tmp / "whisperlive.log"
    )
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def plan(sets: list[BenchSet], pairs: list[tuple[str, str]]) -> float:
    """Expected wall time of the streams, in seconds."""
    return sum(s.duration_s + OVERHEAD_S[client] + 1 for s in sets for _, client in pairs)


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    wrong = [x for x in items if x not in allowed]
    if wrong:
        raise SystemExit(f"unknown {what}: {', '.join(wrong)} (choose from {', '.join(allowed)})")
    return items


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sets", default="short,longform,multispeaker", help=f"of {', '.join(SETS)}"
    )
    parser.add_argument("--pauses", default="0.7,1.0,2.0", help="seconds between clips")
    parser.add_argument("--clips", type=int, default=2, help="clips per source and set (0: all)")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument(
        "--whisperlive-int16",
        action="store_true",
        help="also stream int16 to WhisperLive (it turns them into the float32 samples its own "
        "client sends, so this row repeats its float32 row)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: set short, 1 clip per source, pause 1.0 s, float32 only",
    )
    parser.add_argument("--model", type=Path, default=TINY_EN)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--use-vad", action="store_true", help="send use_vad: true (default false)")
    parser.add_argument(
        "--tail",
        type=float,
        default=20.0,
        help="most seconds to wait for results after END_OF_AUDIO (raw clients)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="raw results (default bench/results/live_accuracy-<time>.json)",
    )
    parser.add_argument("--whisperlive-python", default="/tmp/whisperlive-venv/bin/python")
    args = parser.parse_args()
    if args.quick:
        args.sets, args.pauses, args.clients = "short", "1.0", "float32"
        args.clips = 1 if args.clips == parser.get_default("clips") else args.clips
    args.sets = parse_list(args.sets, SETS, "set")
    args.pauses = [float(p) for p in args.pauses.split(",") if p.strip()]
    clients = parse_list(args.clients, CLIENTS, "client")
    servers = parse_list(args.servers, SERVERS, "server")
    notes: list[str] = []
    if "whisperlive" in servers and not Path(args.whisperlive_python).exists():
        servers.remove("whisperlive")
        notes.append(
            f"WhisperLive skipped: no {args.whisperlive_python} (../shared/peers/whisperlive/README.md)"
        )
    pairs = [
        (server, client)
        for server in servers
        for client in clients
        if not (server == "whisperlive" and client == "int16" and not args.whisperlive_int16)
    ]
    if "whisperlive" in servers and "int16" in clients and not args.whisperlive_int16:
        notes.append(
            "int16 on WhisperLive not run: WhisperLive 0.10 accepts audio_format int16 and turns "
            "it into the same float32 samples its own client sends (--whisperlive-int16 runs it)"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = args.json or REPO / "bench" / "results" / f"live_accuracy-{stamp}.json"
    tmp = Path(tempfile.mkdtemp(prefix="stt-live-accuracy-"))

    print(f"offline reference: faster-whisper on {args.model} ...", flush=True)
    offline_engine = Offline(args.model, args.threads)
    sets, set_notes = build_sets(args, offline_engine.multilingual)
    notes += set_notes
    offline: dict[str, tuple[float, Score]] = {}
    offline_texts: dict[str, list[dict[str, str]]] = {}
    for s in sets:
        texts = [offline_engine.text(p) for p in s.pieces]
        offline[s.label] = (
            wer([p.text for p in s.pieces], texts, s.language),
            score(s.utterances, " ".join(texts), s.language),
        )
        offline_texts[s.label] = [
            {"path": str(p.path.relative_to(AUDIO_DIR)), "reference": p.text, "hypothesis": t}
            for p, t in zip(s.pieces, texts, strict=True)
        ]
        print(f"  {s.label}: offline WER {percent(offline[s.label][0])}", flush=True)
    del offline_engine
    expected = plan(sets, pairs)
    print(
        f"{len(sets) * len(pairs)} streams, about {expected / 60:.0f} min of streaming (logs in {tmp})",
        flush=True,
    )

    runs: list[Run] = []
    for server in servers:
        server_pairs = [c for s, c in pairs if s == server]
        if not server_pairs:
            continue
        with serve(server, args, tmp) as port:
            # A short stream first: the first session may load the model or warm it up.
            warm = StreamResult()
            run_stream(
                f"ws://127.0.0.1:{port}",
                sets[0].audio[: 2 * RATE],
                args.model.name,
                warm,
                10.0,
                language=sets[0].live_language,
            )
            for s in sets:
                for client in server_pairs:
                    run = run_one(server, port, client, s, args, tmp)
                    runs.append(run)
                    sc = run.score
                    assert sc is not None
                    print(
                        f"  {s.label} | {run.server} | {client}: WER {percent(sc.wer)}, first words "
                        f"{sc.first_kept}/{sc.utterances}, {sc.inserted_in_pauses} inserted in pauses, "
                        f"committed p95 {seconds(run.latencies, 95)}"
                        + "".join(f"; {x}" for x in [run.error, *run.notes] if x),
                        flush=True,
                    )
                    time.sleep(1.0)

    print(
        f"\nmodel {args.model.name}, {args.threads} threads, use_vad {str(args.use_vad).lower()}, one stream at a time\n"
    )
    print("\n".join(table_rows(sets, offline, runs)))
    print()
    print("\n".join(totals(runs)))
    for note in notes:
        print(f"\nnote: {note}")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "config": {
            "model": str(args.model),
            "threads": args.threads,
            "use_vad": args.use_vad,
            "pauses": args.pauses,
            "clips_per_source": args.clips,
            "pairs": pairs,
            "notes": notes,
        },
        "sets": [
            {
                "label": s.label,
                "name": s.name,
                "pause_s": s.pause_s,
                "duration_s": round(s.duration_s, 3),
                "utterances": [asdict(u) for u in s.utterances],
                "offline": {
                    "wer": offline[s.label][0],
                    "score": asdict(offline[s.label][1]),
                    "files": offline_texts[s.label],
                },
            }
            for s in sets
        ],
        "runs": [
            {
                **{k: v for k, v in asdict(r).items() if k != "latencies"},
                "committed_latencies_s": [round(x, 3) for x in r.latencies],
            }
            for r in runs
        ],
    }
    json_path.write_text(json.dumps(finite(report), indent=1, ensure_ascii=False) + "\n")
    print(f"\nraw results: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
