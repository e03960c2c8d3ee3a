"""OpenAI Realtime transcription on `/v1/realtime`, driven by the official `openai` SDK.

The real gateway and worker (tiny.en): real speech, resampled to 24 kHz PCM16 and sent at
real time in 100 ms appends, as a microphone client would. Every server event is also
checked against the SDK's own models (strict validation, not just the SDK's lenient parse).
Both session shapes play the same three-turn program while our WhisperLive port hears it at
the same time: their transcripts must be within 2 WER points of that port's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from faster_whisper.audio import decode_audio
from openai import AsyncOpenAI
from openai.types.beta.realtime import RealtimeServerEvent as BetaRealtimeServerEvent
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter, ValidationError
from websockets.exceptions import ConnectionClosed

from .conftest import TINY_EN, Gateway, record_metric, serve
from .live_client import StreamResult, run_stream
from .speech import AUDIO_DIR, clip, wer, write_wav

RATE = 24_000
APPEND_S = 0.1
API_KEY = "realtime-e2e-key"

# Short clips tiny.en gets right offline, one per turn.
UTTERANCES = (
    "samples/ms_whatstheweatherlike.wav",  # "What's the weather like?"
    "lj_prompts_nonnative/LJ001-0125.flac",  # "this is the narrowing of the modern letters."
    "librispeech/test-clean/1089-134691-0000.flac",  # "HE COULD WAIT NO LONGER"
)
GAP_S = 1.5
# Strict validation of server events against the SDK's unions of server events. The beta
# union has no `transcription_session.created`, and its session object insists on a
# `client_secret` that only sessions made over REST have: those two are left out.
GA_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
BETA_EVENTS: TypeAdapter[Any] = TypeAdapter(BetaRealtimeServerEvent)


def speech(relative: str) -> np.ndarray:
    """A corpus clip as 16-bit PCM at 24 kHz."""
    audio = decode_audio(str(AUDIO_DIR / relative), sampling_rate=RATE)
    return np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype="<i2")


@pytest.fixture(scope="module")
def realtime_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """tiny.en, with the live latency bound of admission raised: these tests play a second
    stream (our WhisperLive port) beside each Realtime session and compare transcripts,
    and a machine busy with other work must not turn the second one away (admission has
    its own tests, test_worker_limits.py)."""
    yield from serve(
        tmp_path_factory, "realtime-gateway", TINY_EN, {"WORKER_LIMITS__MAX_LIVE_CYCLE_S": "10"}
    )


def whisperlive_port(gateway: Gateway, pcm: np.ndarray) -> tuple[threading.Thread, StreamResult]:
    """The same program played to our WhisperLive port at the same time (float32, 16 kHz),
    as the reference the Realtime transcripts are held to."""
    wav = io.BytesIO()
    write_wav(wav, pcm, RATE)
    wav.seek(0)
    audio = decode_audio(wav, sampling_rate=16_000)
    result = StreamResult()
    thread = threading.Thread(
        target=run_stream,
        args=(f"ws://127.0.0.1:{gateway.ws_port}", audio, "tiny.en", result),
        kwargs={"tail_s": 30},
        daemon=True,
    )
    thread.start()
    return thread, result


def sdk(gateway: Gateway, api_key: str = "unused") -> AsyncOpenAI:
    # The beta client always connects with wss:// unless told the WebSocket URL.
    return AsyncOpenAI(
        base_url=f"{gateway.base_url}/v1",
        websocket_base_url=f"{gateway.base_url.replace('http:', 'ws:')}/v1",
        api_key=api_key,
        max_retries=0,
    )


@dataclass
class Transcript:
    """What the server said, by item."""

    events: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    """Events the SDK's models refuse, with why."""

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def completed(self) -> list[dict[str, Any]]:
        return self.of_type("conversation.item.input_audio_transcription.completed")

    def deltas(self, item_id: str) -> str:
        return "".join(
            e["delta"]
            for e in self.of_type("conversation.item.input_audio_transcription.delta")
            if e["item_id"] == item_id
        )


async def receive(conn: Any, transcript: Transcript, dialect: str) -> None:  # noqa: ANN401
    """Records every event (raw JSON, strictly validated) until the connection closes."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            raw = json.loads(await conn.recv_bytes())
            is_beta_session = str(raw.get("type")).startswith("transcription_session.")
            if not (dialect == "beta" and is_beta_session):
                try:
                    (GA_EVENTS if dialect == "ga" else BETA_EVENTS).validate_python(raw)
                except ValidationError as error:
                    transcript.invalid.append(f"{raw.get('type')}: {error}")
            raw["_arrived"] = time.monotonic()
            transcript.events.append(raw)


async def append_realtime(conn: Any, pcm: np.ndarray) -> None:  # noqa: ANN401
    """Sends `pcm` in 100 ms appends at real time, as a microphone would: each once its
    audio has been spoken (at the call's start plus where the append ends in `pcm`)."""
    step = round(APPEND_S * RATE)
    start = time.monotonic()
    for i, offset in enumerate(range(0, pcm.size, step)):
        chunk = pcm[offset : offset + step].tobytes()
        await asyncio.sleep(max(0.0, start + (i + 1) * APPEND_S - time.monotonic()))
        await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())


async def wait_until(predicate: Any, timeout_s: float) -> None:  # noqa: ANN401
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def check_items(transcript: Transcript, count: int) -> list[str]:
    """One item per turn, each told in order: its deltas join to its transcript, its commit
    chains to the one before. Returns the transcripts."""
    assert not transcript.invalid, transcript.invalid
    completed = transcript.completed()
    assert len(completed) == count, [e["transcript"] for e in completed]
    committed = transcript.of_type("input_audio_buffer.committed")
    assert [e["item_id"] for e in committed] == [e["item_id"] for e in completed]
    assert [e["previous_item_id"] for e in committed] == [None] + [
        e["item_id"] for e in committed[:-1]
    ]
    for event in completed:
        assert transcript.deltas(event["item_id"]) == event["transcript"]
        assert event["usage"]["type"] == "duration" and event["usage"]["seconds"] > 0
    ids = [e["event_id"] for e in transcript.events]
    assert len(set(ids)) == len(ids)
    return [e["transcript"] for e in completed]


def spoken_program() -> tuple[np.ndarray, list[float]]:
    """UTTERANCES joined by GAP_S pauses, and where each utterance ends in it (seconds)."""
    pieces = [silence(0.5)]
    speech_ends_s = []
    for path in UTTERANCES:
        pieces.append(speech(path))
        speech_ends_s.append(sum(p.size for p in pieces) / RATE)
        pieces.append(silence(GAP_S))
    return np.concatenate(pieces), speech_ends_s


async def assert_close_to_whisperlive(
    dialect: str, texts: list[str], whisperlive: threading.Thread, result: StreamResult
) -> None:
    """The Realtime transcripts of the program within 2 WER points of what our WhisperLive
    port made of the same program, played alongside, over the whole program."""
    await asyncio.to_thread(whisperlive.join, 60)
    assert not whisperlive.is_alive() and result.server_closed
    assert result.error is None, result.error
    whole = [" ".join(clip(path).text for path in UTTERANCES)]
    realtime_score = wer(whole, [" ".join(texts)])
    whisperlive_score = wer(whole, [result.text()])
    record_metric(
        f"Realtime ({dialect}) / WhisperLive port WER on the same program (tiny.en)",
        f"{realtime_score:.2%} / {whisperlive_score:.2%}",
    )
    assert realtime_score <= whisperlive_score + 0.02, (texts, result.text())


async def test_ga_server_vad_one_completed_item_per_spoken_turn(realtime_gateway: Gateway) -> None:
    program, speech_ends_s = spoken_program()
    transcript = Transcript()
    async with sdk(realtime_gateway).realtime.connect(
        extra_query={"intent": "transcription"}
    ) as conn:
        receiver = asyncio.create_task(receive(conn, transcript, "ga"))
        await wait_until(lambda: transcript.of_type("session.created"), 10)
        await conn.session.update(
            session={
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "whisper-1", "language": "en"}}},
            }
        )
        whisperlive, whisperlive_result = whisperlive_port(realtime_gateway, program)
        sent_at = time.monotonic()
        await append_realtime(conn, program)
        await wait_until(lambda: len(transcript.completed()) >= len(UTTERANCES), 30)
        await asyncio.sleep(0.5)  # nothing more may follow
        receiver.cancel()
    created = transcript.events[0]
    assert created["type"] == "session.created"
    assert created["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    texts = check_items(transcript, len(UTTERANCES))
    started = transcript.of_type("input_audio_buffer.speech_started")
    stopped = transcript.of_type("input_audio_buffer.speech_stopped")
    assert len(started) == len(stopped) == len(UTTERANCES)
    for begin, end in zip(started, stopped, strict=True):
        assert begin["item_id"] == end["item_id"]
        assert begin["audio_start_ms"] < end["audio_end_ms"]
    # From the end of each utterance's audio (sent at real time) to its completed transcript,
    # silence_duration_ms (500) included; and from where the worker ended the turn in the
    # audio (`audio_end_ms`) to the completed transcript.
    delays = [
        event["_arrived"] - (sent_at + end_s)
        for event, end_s in zip(transcript.completed(), speech_ends_s, strict=True)
    ]
    turn_delays = [
        event["_arrived"] - (sent_at + stop["audio_end_ms"] / 1000)
        for event, stop in zip(transcript.completed(), stopped, strict=True)
    ]
    record_metric(
        "Realtime end of speech to completed (tiny.en, 500 ms silence), mean / max",
        f"{np.mean(delays):.2f} s / {max(delays):.2f} s",
    )
    record_metric(
        "Realtime turn end (audio_end_ms) to completed, mean / max",
        f"{np.mean(turn_delays):.2f} s / {max(turn_delays):.2f} s",
    )
    references = [clip(path).text for path in UTTERANCES]
    score = wer(references, texts)
    record_metric("Realtime server VAD WER (tiny.en, 3 turns)", f"{score:.2%}")
    assert score <= 0.15, texts
    await assert_close_to_whisperlive("GA", texts, whisperlive, whisperlive_result)


async def test_ga_manual_commit_after_each_utterance_and_bad_events(
    realtime_gateway: Gateway,
) -> None:
    paths = UTTERANCES[:2]
    transcript = Transcript()
    async with sdk(realtime_gateway).realtime.connect(
        extra_query={"intent": "transcription"}
    ) as conn:
        receiver = asyncio.create_task(receive(conn, transcript, "ga"))
        await conn.send_raw("{not json")
        await conn.send_raw(json.dumps({"type": "response.create", "event_id": "bad-1"}))
        await conn.send_raw(
            json.dumps({"type": "input_audio_buffer.append", "event_id": "bad-2", "audio": "@@"})
        )
        await conn.input_audio_buffer.commit(event_id="bad-3")
        await wait_until(lambda: len(transcript.of_type("error")) >= 4, 5)
        errors = [e["error"] for e in transcript.of_type("error")]
        assert [(e["code"], e["event_id"]) for e in errors] == [
            ("invalid_json", None),
            ("invalid_value", "bad-1"),
            ("invalid_value", "bad-2"),
            ("input_audio_buffer_commit_empty", "bad-3"),
        ]
        assert {e["type"] for e in errors} == {"invalid_request_error"}
        await conn.session.update(
            session={"type": "transcription", "audio": {"input": {"turn_detection": None}}}
        )
        await wait_until(lambda: transcript.of_type("session.updated"), 10)
        assert (
            transcript.of_type("session.updated")[0]["session"]["audio"]["input"]["turn_detection"]
            is None
        )
        for i, path in enumerate(paths):
            await append_realtime(conn, np.concatenate([speech(path), silence(0.3)]))
            await conn.input_audio_buffer.commit(event_id=f"commit-{i}")
            await wait_until(
                lambda i=i: len(transcript.of_type("input_audio_buffer.committed")) > i, 5
            )
        await wait_until(lambda: len(transcript.completed()) >= len(paths), 30)
        receiver.cancel()
    # The bad events were answered; the session went on as if they had not been sent.
    assert len(transcript.of_type("error")) == 4
    assert not transcript.of_type("input_audio_buffer.speech_started")
    texts = check_items(transcript, len(paths))
    assert wer([clip(p).text for p in paths], texts) <= 0.15, texts


def g711(relative: str, law: str) -> bytes:
    """A corpus clip encoded by ffmpeg as G.711 at 8 kHz (`mulaw` or `alaw`)."""
    source = str(AUDIO_DIR / relative)
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", source, "-ac", "1", "-ar", "8000", "-f", law, "-"],
        capture_output=True,
        check=True,
    ).stdout


async def g711_session(gateway: Gateway, audio_type: str, encoded: bytes) -> list[str]:
    """One manually committed turn of G.711 audio, sent at real time in 100 ms appends."""
    transcript = Transcript()
    async with sdk(gateway).realtime.connect(extra_query={"intent": "transcription"}) as conn:
        receiver = asyncio.create_task(receive(conn, transcript, "ga"))
        await conn.session.update(
            session={
                "type": "transcription",
                "audio": {"input": {"format": {"type": audio_type}, "turn_detection": None}},
            }
        )
        await wait_until(lambda: transcript.of_type("session.updated"), 10)
        step = 800  # 100 ms at 8 kHz, a byte a sample
        start = time.monotonic()
        for i, offset in enumerate(range(0, len(encoded), step)):
            await asyncio.sleep(max(0.0, start + (i + 1) * APPEND_S - time.monotonic()))
            chunk = encoded[offset : offset + step]
            await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await conn.input_audio_buffer.commit()
        await wait_until(lambda: transcript.completed(), 30)
        receiver.cancel()
    session = transcript.of_type("session.updated")[0]["session"]
    assert session["audio"]["input"]["format"] == {"type": audio_type}
    return check_items(transcript, 1)


async def test_g711_mu_law_and_a_law_speech(realtime_gateway: Gateway) -> None:
    """Telephony audio: speech encoded by ffmpeg as μ-law and as A-law, two sessions at once;
    a wrong expansion table garbles the words, not just the level."""
    mu_path, a_path = UTTERANCES[1], UTTERANCES[2]
    mu_texts, a_texts = await asyncio.gather(
        g711_session(realtime_gateway, "audio/pcmu", g711(mu_path, "mulaw")),
        g711_session(realtime_gateway, "audio/pcma", g711(a_path, "alaw")),
    )
    assert wer([clip(mu_path).text], mu_texts) <= 0.15, mu_texts
    assert wer([clip(a_path).text], a_texts) <= 0.15, a_texts


async def test_beta_transcription_session(realtime_gateway: Gateway) -> None:
    transcript = Transcript()
    client = sdk(realtime_gateway)
    async with client.beta.realtime.connect(
        model="whisper-1", extra_query={"intent": "transcription"}
    ) as conn:
        receiver = asyncio.create_task(receive(conn, transcript, "beta"))
        await wait_until(lambda: transcript.events, 10)
        assert transcript.events[0]["type"] == "transcription_session.created"
        assert transcript.events[0]["session"]["input_audio_format"] == "pcm16"
        await conn.transcription_session.update(
            session={
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 600},
            }
        )
        await wait_until(lambda: transcript.of_type("transcription_session.updated"), 5)
        program, _ = spoken_program()
        whisperlive, whisperlive_result = whisperlive_port(realtime_gateway, program)
        await append_realtime(conn, program)
        await wait_until(lambda: len(transcript.completed()) >= len(UTTERANCES), 30)
        receiver.cancel()
    texts = check_items(transcript, len(UTTERANCES))
    assert wer([clip(path).text for path in UTTERANCES], texts) <= 0.15, texts
    await assert_close_to_whisperlive("beta", texts, whisperlive, whisperlive_result)


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from serve(tmp_path_factory, "realtime-keyed", TINY_EN, {"GATEWAY_API_KEYS": API_KEY})


async def test_keys_refuse_the_upgrade_without_the_key(keyed_gateway: Gateway) -> None:
    with pytest.raises(Exception, match="401"):
        async with sdk(keyed_gateway, "wrong-key").realtime.connect(
            extra_query={"intent": "transcription"}
        ):
            pass
    async with sdk(keyed_gateway, API_KEY).realtime.connect(
        extra_query={"intent": "transcription"}
    ) as conn:
        event = await conn.recv()
        assert event.type == "session.created"
