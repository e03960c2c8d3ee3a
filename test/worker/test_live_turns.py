"""Turn mode of live streams through the gRPC surface, on the fake engine with loud audio
heard as speech: the response sequence, the offsets, and the status codes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import numpy as np
import pytest

from stt.v1 import transcriber_pb2 as pb
from stt_worker.config import LiveSettings
from stt_worker.engines.fake import FakeEngine
from stt_worker.live_session import LiveReply, start_live_session
from stt_worker.scheduler import Scheduler
from stt_worker.types import StreamConfig, TurnConfig
from worker_testing import (
    LOUD_SPEECH,
    SEQUENTIAL_FILES,
    RunningWorker,
    audio_requests,
    config_request,
    expect_status,
    to_linear16,
    tone,
)

END_TURN = pb.StreamingTranscribeRequest(end_turn=pb.EndTurn())


@pytest.fixture
async def loud_worker(start_worker: Callable[..., Any], fake_engine: FakeEngine) -> RunningWorker:
    """A worker on the fake engine whose live streams hear its tones as speech."""
    worker: RunningWorker = await start_worker(
        lambda _settings: fake_engine, speech=LOUD_SPEECH, file=SEQUENTIAL_FILES
    )
    return worker


def turn_config(**turns: float) -> pb.StreamingTranscribeRequest:
    return config_request(
        mode=pb.TRANSCRIPTION_MODE_LIVE, interim_results=True, turns=pb.TurnConfig(**turns)
    )


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * 16_000), np.float32)


def kind(response: pb.StreamingTranscribeResponse) -> str:
    """What a response carries; never two of results, a speech event and a turn end."""
    kinds = [
        name
        for name, present in (
            ("results", bool(response.results)),
            ("speech", response.speech_event != pb.SPEECH_EVENT_UNSPECIFIED),
            ("turn_end", response.HasField("turn_end")),
            ("summary", response.HasField("summary")),
        )
        if present
    ]
    assert len(kinds) == 1, response
    return kinds[0]


def split_turns(
    responses: list[pb.StreamingTranscribeResponse],
) -> list[tuple[list[pb.StreamingTranscribeResponse], pb.TurnEnd]]:
    """The responses of each turn (speech events and results), with its turn end."""
    turns, current = [], []
    for response in responses:
        if kind(response) == "turn_end":
            turns.append((current, response.turn_end))
            current = []
        elif kind(response) != "summary":
            current.append(response)
    assert current == [], "responses after the last turn end"
    return turns


async def test_silence_ends_each_turn_after_its_results(loud_worker: RunningWorker) -> None:
    # Tones are speech: 2 s, 1 s of silence, 1.5 s, 1 s of silence.
    audio = np.concatenate([tone(2.0), silence(1.0), tone(1.5), silence(1.0)])
    responses = await loud_worker.transcribe(
        [
            turn_config(silence_duration_ms=500, prefix_padding_ms=300),
            *audio_requests(to_linear16(audio), 3200),
        ]
    )
    assert kind(responses[-1]) == "summary"
    assert responses[-1].summary.duration_ms == 5500
    turns = split_turns(responses)
    # Speech ends with the 32 ms frame that holds the tone's last sample; each turn ends
    # 500 ms later; the quiet rest of the stream is a last turn without speech.
    assert [
        (e.turn_index, e.start_offset_ms, e.end_offset_ms, e.had_speech, e.reason) for _, e in turns
    ] == [
        (0, 0, 2016 + 500, True, pb.TURN_END_REASON_SILENCE),
        (1, 2516, 4512 + 500, True, pb.TURN_END_REASON_SILENCE),
        (2, 5012, 5500, False, pb.TURN_END_REASON_STREAM_END),
    ]
    # Each turn with speech starts with its speech event: the start of speech (at the
    # frame holding the tone's first sample) less 300 ms, never before the turn.
    events = [(r.speech_event, r.speech_event_offset_ms) for r in responses if kind(r) == "speech"]
    assert events == [(pb.SPEECH_EVENT_SPEECH_BEGIN, 0), (pb.SPEECH_EVENT_SPEECH_BEGIN, 2676)]
    finals = []
    for (turn_responses, end), expected_text in zip(
        turns,
        [" speech 0.0 to 1.0 speech 1.0 to 2.0", " 0.0 to 1.0 speech 1.0 to 2.0", ""],
        strict=True,
    ):
        if end.had_speech:
            assert kind(turn_responses[0]) == "speech"
        results = [r for response in turn_responses for r in response.results]
        turn_finals = [r for r in results if r.is_final]
        # Every result of a turn lies in the turn; its final text is all of its speech.
        # (The fake engine names each second of a window, in the turn's own time: the
        # second turn starts 484 ms before its tone, so its first word lies in silence
        # and is dropped.)
        for result in results:
            assert end.start_offset_ms <= result.start_offset_ms, result
            assert result.end_offset_ms <= end.end_offset_ms, result
        assert "".join(r.transcript for r in turn_finals) == expected_text
        # The last result before a turn end is final: nothing is left pending.
        if results:
            assert results[-1].is_final
        finals.extend(turn_finals)
    # Segment indexes count on across turns.
    assert [r.segment_index for r in finals] == list(range(len(finals)))
    assert finals[-1].start_offset_ms >= 2516


async def test_end_turn_ends_the_turn_at_the_audio_received_before_it(
    loud_worker: RunningWorker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="stt_worker.servicer"):
        responses = await loud_worker.transcribe(
            [
                turn_config(prefix_padding_ms=300),  # no silence duration: only requests
                *audio_requests(to_linear16(np.concatenate([silence(1.0), tone(1.0)]))),
                END_TURN,
                *audio_requests(to_linear16(tone(1.0))),  # speech cut in the middle
                END_TURN,
                END_TURN,  # a turn without audio
            ]
        )
    (done,) = [r for r in caplog.records if r.getMessage() == "live stream done"]
    assert done.turns == 3  # type: ignore[attr-defined]
    turns = split_turns(responses)
    assert [
        (e.turn_index, e.start_offset_ms, e.end_offset_ms, e.had_speech, e.reason) for _, e in turns
    ] == [
        (0, 0, 2000, True, pb.TURN_END_REASON_REQUESTED),
        (1, 2000, 3000, True, pb.TURN_END_REASON_REQUESTED),
        (2, 3000, 3000, False, pb.TURN_END_REASON_REQUESTED),
    ]  # and no last turn at the end of the stream: it has no audio
    (first, _), (second, _), (empty, _) = turns
    # Speech begins at the 32 ms frame holding 1 s, less the padding; in the second turn
    # at the turn's start, where the speech went on (that frame straddles the cut).
    assert [r.speech_event_offset_ms for r in first + second if kind(r) == "speech"] == [
        992 - 300,
        2000,
    ]
    assert empty == []
    (first_final,) = [r for response in first for r in response.results if r.is_final]
    (second_final,) = [r for response in second for r in response.results if r.is_final]
    assert (first_final.segment_index, first_final.transcript) == (0, " speech 1.0 to 2.0")
    # The second turn's policy counts from the turn's start; results are in stream time.
    assert (second_final.segment_index, second_final.transcript) == (1, " speech 0.0 to 1.0")
    assert (second_final.start_offset_ms, second_final.end_offset_ms) == (2000, 3000)
    # The first turn's flush detected the language (the fake engine's "en", at 0.9); the
    # next turn keeps it as if it had been configured, instead of detecting it again.
    assert [
        (r.language_code, round(r.language_probability, 2)) for r in (first_final, second_final)
    ] == [
        ("en", 0.9),
        ("en", 1.0),
    ]


async def test_end_turn_without_turns_is_invalid(loud_worker: RunningWorker) -> None:
    error = await expect_status(
        loud_worker,
        [
            config_request(mode=pb.TRANSCRIPTION_MODE_LIVE),
            *audio_requests(to_linear16(tone(0.5))),
            END_TURN,
        ],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.details() == "end_turn needs a stream with turns in its config"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            config_request(turns=pb.TurnConfig(silence_duration_ms=500)),
            "turns are only allowed in live mode",
        ),
        (turn_config(threshold=1.0), "turns threshold must be in (0, 1), got 1.0"),
        (
            turn_config(silence_duration_ms=10_001),
            "turns silence_duration_ms must be at most 10000, got 10001",
        ),
        (
            turn_config(prefix_padding_ms=5_001),
            "turns prefix_padding_ms must be at most 5000, got 5001",
        ),
    ],
)
async def test_turn_configs_out_of_range_are_invalid(
    loud_worker: RunningWorker, config: pb.StreamingTranscribeRequest, message: str
) -> None:
    error = await expect_status(
        loud_worker,
        [config, *audio_requests(to_linear16(tone(0.5)))],
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert error.details() == message


async def test_a_turn_ends_while_its_window_is_decoded_and_the_flush_replaces_that_decode(
    gate: Callable[[FakeEngine], threading.Event],
) -> None:
    engine = FakeEngine()
    release = gate(engine)
    scheduler = Scheduler(engine, max_queue=8)
    session = start_live_session(
        StreamConfig(
            encoding="linear16",
            sample_rate_hertz=16_000,
            mode="live",
            interim_results=True,
            turns=TurnConfig(silence_duration_ms=500),
        ),
        engine.info,
        scheduler,
        LiveSettings(),
        time.monotonic,
        LOUD_SPEECH,
    )

    async def inputs() -> AsyncIterator[bytes]:
        yield to_linear16(tone(2.0))
        async with asyncio.timeout(5):
            while not engine.decode_threads:  # noqa: ASYNC110 (a thread's state)
                await asyncio.sleep(0.01)
        # The first window is held in the engine; the silence that ends the turn is
        # scored meanwhile (asked for the next input, the reader is done with it).
        yield to_linear16(silence(1.0))
        release.set()

    replies: list[LiveReply] = [reply async for reply in session.run(inputs())]
    await scheduler.close()

    def summary(reply: LiveReply) -> tuple[object, ...]:
        if reply.speech_begin is not None:
            return ("speech", reply.speech_begin.offset)
        if reply.turn_end is not None:
            end = reply.turn_end
            return ("end", end.start, end.end, end.had_speech, end.reason)
        return tuple((r.text, r.is_final) for r in reply.results)

    text = " speech 0.0 to 1.0 speech 1.0 to 2.0"
    assert [summary(r) for r in replies[1:]] == [
        ("speech", 0),
        ((text, False),),  # the flush's text, announced before its commit
        ((text, True),),
        ("end", 0, 32_256 + 8_000, True, "silence"),
        ("end", 40_256, 48_000, False, "stream_end"),
    ]  # and nothing of the window decoded while the turn ended
    # The engine decoded the held window and the flush (the last turn is silence).
    assert engine.batch_sizes == [1, 1]
