#!/usr/bin/env python3
"""Turn latency: our OpenAI Realtime endpoint beside our WhisperLive port, on the same speech.

usage: .venv/bin/python bench/realtime.py [--streams 1,4] [--model DIR] [--threads 2] [--tail 20]
                                          [--utterances K]

Starts our product (gateway + worker, tiny.en by default) and plays one program of real
speech in real time: eight short utterances (the three of test/e2e/test_realtime.py, then
five LJ Speech clips) after 0.5 s of silence, joined by 1.5 s pauses and followed by 3 s of
silence (so the last utterance ends as the others do, before any end of stream). For each
stream count N in --streams (default 1,4), N clients play it at once over each protocol
in turn, Realtime first:

- Realtime: `GET /v1/realtime?intent=transcription` with the official `openai` SDK
  (`client.realtime.connect(extra_query={"intent": "transcription"})`), server VAD
  (silence_duration_ms 500), 24 kHz PCM16 in 100 ms appends, each sent once spoken;
- WhisperLive: our WhisperLive port with the WhisperLive-protocol client of
  bench/streaming.py (float32 frames of 256 ms, each sent once spoken, then END_OF_AUDIO).

Speech start and end of each utterance: Silero VAD's first and last speech sample in its
clip (no padding), placed in the program. Times are measured from the moment that audio
was spoken (the stream's start plus its place in the program). Per protocol and N, over
all utterances of all served streams:

- turn end -> completed p50 / p95: Realtime, from each utterance's speech end to the
  `conversation.item.input_audio_transcription.completed` of its turn (its last turn if VAD
  split it), the 500 ms of silence that ends a turn included; WhisperLive, from its speech
  end to the arrival of the completed segment that covers its last word (WhisperLive has
  no turns: a segment completes when the server commits it);
- speech start -> first delta / partial p50 / p95: Realtime, from its speech start to the
  first `...input_audio_transcription.delta` of its turn (deltas carry committed words
  only); WhisperLive, to the first segment, partial or completed, that reaches into its speech;
- WER of each stream's whole transcript (Realtime: its completed transcripts in order;
  WhisperLive: committed text plus the last partial) against the utterances' references;
- failures: streams that failed (refused, an `error` event, a dropped connection), turns
  of served streams that never got a completed, Realtime events the SDK's models refuse.

Turns (Realtime items) and segments are given to the utterance whose span, cut at the
middle of each pause, holds their midpoint. The worker measures live decode costs to admit
sessions: list N = 1 first, so a larger N is not told to wait. Run on demand, never in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))

from e2e.conftest import TINY_EN, Gateway
from e2e.live_client import RATE as WHISPERLIVE_RATE
from e2e.live_client import StreamResult
from e2e.speech import AUDIO_DIR, clip, wer
from e2e.test_realtime import (
    GAP_S,
    UTTERANCES,
    Transcript,
    append_realtime,
    receive,
    sdk,
    speech,
    wait_until,
)
from e2e.test_realtime import RATE as REALTIME_RATE
from faster_whisper import decode_audio
from faster_whisper.vad import VadOptions, get_speech_timestamps
from streaming import measure

PROGRAM = (
    *UTTERANCES,
    "ljspeech/LJ001-0002.flac",
    "ljspeech/LJ001-0004.flac",
    "ljspeech/LJ001-0008.flac",
    "ljspeech/LJ001-0006.flac",
    "ljspeech/LJ001-0011.flac",
)
LEAD_S = 0.5
END_S = 3.0
SESSION = {
    "type": "transcription",
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        }
    },
}


@dataclass(frozen=True, slots=True)
class Utterance:
    """One utterance of the program: its reference and where its speech starts and ends."""

    text: str
    speech_start_s: float
    speech_end_s: float


@dataclass(frozen=True, slots=True)
class Program:
    """The utterances, and the program as float32 at 16 kHz (WhisperLive) and PCM16 at
    24 kHz (Realtime)."""

    utterances: list[Utterance]
    float16k: np.ndarray
    pcm24k: np.ndarray

    def owner(self, t_s: float) -> int:
        """The utterance whose span, cut at the middle of each pause, holds `t_s`."""
        cuts = [(a.speech_end_s + b.speech_start_s) / 2 for a, b in pairwise(self.utterances)]
        return sum(t_s >= cut for cut in cuts)


def build_program(paths: tuple[str, ...]) -> Program:
    clips16 = [
        decode_audio(str(AUDIO_DIR / path), sampling_rate=WHISPERLIVE_RATE) for path in paths
    ]
    starts, cursor = [], LEAD_S
    for audio in clips16:
        starts.append(cursor)
        cursor += audio.size / WHISPERLIVE_RATE + GAP_S
    total_s = cursor - GAP_S + END_S
    float16k = np.zeros(round(total_s * WHISPERLIVE_RATE), np.float32)
    pcm24k = np.zeros(round(total_s * REALTIME_RATE), "<i2")
    utterances = []
    vad = VadOptions(min_silence_duration_ms=2000, speech_pad_ms=0)
    for path, audio, start_s in zip(paths, clips16, starts, strict=True):
        at16, at24 = round(start_s * WHISPERLIVE_RATE), round(start_s * REALTIME_RATE)
        float16k[at16 : at16 + audio.size] = audio
        audio24 = speech(path)
        pcm24k[at24 : at24 + audio24.size] = audio24
        spoken = get_speech_timestamps(audio, vad) or [{"start": 0, "end": audio.size}]
        utterances.append(
            Utterance(
                clip(path).text,
                start_s + spoken[0]["start"] / WHISPERLIVE_RATE,
                start_s + spoken[-1]["end"] / WHISPERLIVE_RATE,
            )
        )
    return Program(utterances, float16k, pcm24k)


@dataclass
class Timed:
    """One stream in this benchmark's terms: per utterance, when (seconds after the stream's
    start) the text covering its last word came as completed and when its first text came
    (None: never); the stream's transcript; why it failed."""

    completed_s: list[float | None]
    first_s: list[float | None]
    text: str
    error: str | None = None
    invalid_events: int = 0


def whisperlive_timed(result: StreamResult, program: Program) -> Timed:
    count = len(program.utterances)
    timed = Timed([None] * count, [None] * count, result.text(), result.error)
    covered_to = [-math.inf] * count
    for arrival in result.arrivals:  # in order of arrival
        owner = program.owner((arrival.start_s + arrival.end_s) / 2)
        if arrival.completed and arrival.end_s > covered_to[owner]:
            covered_to[owner] = arrival.end_s
            timed.completed_s[owner] = arrival.at_s
        # The first text that reaches into an utterance's speech, centred in it or before it.
        for i in range(owner, len(program.utterances)):
            if timed.first_s[i] is None and arrival.end_s > program.utterances[i].speech_start_s:
                timed.first_s[i] = arrival.at_s
    return timed


@dataclass
class RealtimeRun:
    transcript: Transcript = field(default_factory=Transcript)
    started: float = 0.0
    """time.monotonic() when the program's first sample was spoken."""
    error: str | None = None


def turns_done(transcript: Transcript) -> bool:
    """Every turn the server VAD started has its completed (or failed) event."""
    started = {e["item_id"] for e in transcript.of_type("input_audio_buffer.speech_started")}
    ended = {e["item_id"] for e in transcript.completed()} | {
        e["item_id"]
        for e in transcript.of_type("conversation.item.input_audio_transcription.failed")
    }
    return bool(started) and started <= ended


async def realtime_stream(
    gateway: Gateway, program: Program, run: RealtimeRun, tail_s: float
) -> None:
    try:
        async with sdk(gateway).realtime.connect(extra_query={"intent": "transcription"}) as conn:
            receiver = asyncio.create_task(receive(conn, run.transcript, "ga"))
            await conn.session.update(session=SESSION)
            run.started = time.monotonic()
            await append_realtime(conn, program.pcm24k)
            with contextlib.suppress(AssertionError):  # the tail ran out: turns go missing
                await wait_until(lambda: receiver.done() or turns_done(run.transcript), tail_s)
            receiver.cancel()
    except Exception as error:
        run.error = f"{type(error).__name__}: {error}"
    errors = run.transcript.of_type("error")
    if errors and run.error is None:
        run.error = f"error event {errors[0]['error'].get('code')}"


def realtime_timed(run: RealtimeRun, program: Program) -> Timed:
    count = len(program.utterances)
    transcript = run.transcript
    completed = transcript.completed()
    timed = Timed(
        [None] * count,
        [None] * count,
        " ".join(e["transcript"] for e in completed),
        run.error,
        len(transcript.invalid),
    )
    span_ms: dict[str, list[float]] = {}
    for e in transcript.of_type("input_audio_buffer.speech_started"):
        span_ms[e["item_id"]] = [e["audio_start_ms"]]
    for e in transcript.of_type("input_audio_buffer.speech_stopped"):
        span_ms.setdefault(e["item_id"], []).append(e["audio_end_ms"])
    owner = {item: program.owner(sum(ms) / len(ms) / 1000) for item, ms in span_ms.items()}
    for e in completed:  # a later turn of the same utterance covers its last word
        if e["item_id"] in owner:
            timed.completed_s[owner[e["item_id"]]] = e["_arrived"] - run.started
    for e in transcript.of_type("conversation.item.input_audio_transcription.delta"):
        u = owner.get(e["item_id"])
        if u is not None and timed.first_s[u] is None:
            timed.first_s[u] = e["_arrived"] - run.started
    return timed


async def realtime_streams(
    gateway: Gateway, program: Program, streams: int, tail_s: float
) -> list[Timed]:
    runs = [RealtimeRun() for _ in range(streams)]
    tasks = []
    for run in runs:
        tasks.append(asyncio.create_task(realtime_stream(gateway, program, run, tail_s)))
        await asyncio.sleep(0.05)  # as bench/streaming.py starts its clients
    await asyncio.gather(*tasks)
    return [realtime_timed(run, program) for run in runs]


def percentiles(values: list[float]) -> str:
    if not values:
        return "- | -"
    p50, p95 = np.percentile(values, [50, 95])
    return f"{p50:.2f} s | {p95:.2f} s"


def row(protocol: str, streams: int, timed: list[Timed], program: Program) -> str:
    served = [t for t in timed if t.error is None]
    utterances = program.utterances
    ends = [
        at - u.speech_end_s
        for t in served
        for at, u in zip(t.completed_s, utterances, strict=True)
        if at is not None
    ]
    firsts = [
        at - u.speech_start_s
        for t in served
        for at, u in zip(t.first_s, utterances, strict=True)
        if at is not None
    ]
    reference = " ".join(u.text for u in utterances)
    score = wer([reference] * len(served), [t.text for t in served]) if served else math.nan
    failed = [t.error for t in timed if t.error]
    missing = sum(at is None for t in served for at in t.completed_s)
    invalid = sum(t.invalid_events for t in timed)
    failures = [f"{len(failed)} of {streams} streams" + (f" ({failed[0]})" if failed else "")]
    failures.append(f"{missing} of {len(served) * len(utterances)} turns without completed")
    if invalid:
        failures.append(f"{invalid} events the SDK refuses")
    return (
        f"| {protocol} | {streams} | {percentiles(ends)} | {percentiles(firsts)} | "
        f"{score:.1%} | {', '.join(failures)} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", default="1,4", help="stream counts, comma-separated")
    parser.add_argument("--model", type=Path, default=TINY_EN, help="CTranslate2 model directory")
    parser.add_argument("--threads", type=int, default=2, help="engine threads")
    parser.add_argument(
        "--tail", type=float, default=20.0, help="seconds to wait for results after the audio"
    )
    parser.add_argument(
        "--utterances",
        type=int,
        default=len(PROGRAM),
        help=f"play only the first K of the {len(PROGRAM)} utterances (a quick check)",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    program = build_program(PROGRAM[: args.utterances])
    gateway = Gateway.for_bench(
        Path(tempfile.mkdtemp(prefix="stt-realtime-bench-")), args.model, args.threads
    )
    rows = []
    try:
        gateway.wait_healthy()
        for n in counts:
            timed = asyncio.run(realtime_streams(gateway, program, n, args.tail))
            rows.append(row("Realtime", n, timed, program))
            print(rows[-1], flush=True)
            results = measure(
                f"ws://127.0.0.1:{gateway.ws_port}", program.float16k, args.model.name, n, args.tail
            )
            rows.append(
                row("WhisperLive", n, [whisperlive_timed(r, program) for r in results], program)
            )
            print(rows[-1], flush=True)
    finally:
        gateway.stop()
    speech_s = sum(u.speech_end_s - u.speech_start_s for u in program.utterances)
    print(
        f"\n{len(program.utterances)} utterances ({speech_s:.0f} s of speech, "
        f"{program.float16k.size / WHISPERLIVE_RATE:.0f} s program), model {args.model.name}, "
        f"{args.threads} threads\n"
    )
    print(
        "| protocol | streams | turn end -> completed p50 | p95 | speech start -> first "
        "delta / partial p50 | p95 | WER | failures |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for line in rows:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
