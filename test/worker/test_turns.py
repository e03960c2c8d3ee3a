"""Unit tests of turn detection (stt_worker.turns) over made-up frame probabilities."""

from __future__ import annotations

import numpy as np

from stt_worker.turns import SpeechBegin, TurnEnd, TurnEvent, TurnOptions, TurnTracker
from stt_worker.vad import SileroScorer

FRAME = 512  # samples, Silero's 32 ms


def frames(*runs: tuple[float, int]) -> list[float]:
    """Probabilities: each run is (probability, frames)."""
    return [p for p, n in runs for _ in range(n)]


def tracker(silence_ms: int = 500, prefix_padding_ms: int = 300) -> TurnTracker:
    return TurnTracker(TurnOptions(silence_ms, prefix_padding_ms, threshold=0.5))


def test_silence_after_speech_ends_the_turn_at_the_last_speech_plus_the_silence() -> None:
    turns = tracker()
    # 1 s of silence, 2 s of speech, 1 s of silence (32 ms frames: 500 ms is 15.6 frames).
    events = turns.hear(frames((0.0, 31), (0.9, 63), (0.0, 31)), FRAME)
    speech_start, speech_end = 31 * FRAME, 94 * FRAME
    assert events == [
        SpeechBegin(0, speech_start - 4800),
        TurnEnd(0, 0, speech_end + 8000, had_speech=True, reason="silence"),
    ]
    assert (turns.turn_index, turns.turn_start) == (1, speech_end + 8000)


def test_a_turn_of_silence_is_never_ended_by_silence() -> None:
    turns = tracker()
    assert turns.hear(frames((0.1, 500)), FRAME) == []
    assert turns.end_turn(500 * FRAME, "stream_end") == TurnEnd(
        0, 0, 500 * FRAME, had_speech=False, reason="stream_end"
    )


def test_speech_goes_on_above_the_threshold_less_the_hysteresis_and_through_short_pauses() -> None:
    turns = tracker()
    events = turns.hear(
        frames(
            (0.9, 10),
            (0.4, 30),  # below the threshold but above 0.35: still speech
            (0.2, 12),  # a pause of 384 ms: shorter than the silence
            (0.6, 10),  # speech again
            (0.2, 12),
            (0.4, 3),  # not enough to start speech again: 480 ms of silence so far
        ),
        FRAME,
    )
    assert events == [SpeechBegin(0, 0)]  # the padding never reaches before the turn
    (end,) = turns.hear([0.0], FRAME)
    assert end == TurnEnd(0, 0, 62 * FRAME + 8000, had_speech=True, reason="silence")


def test_two_utterances_make_two_turns_whichever_way_the_frames_come() -> None:
    probabilities = frames((0.9, 40), (0.0, 40), (0.8, 20), (0.0, 40))
    expected = [
        SpeechBegin(0, 0),
        TurnEnd(0, 0, 40 * FRAME + 8000, had_speech=True, reason="silence"),
        SpeechBegin(1, 80 * FRAME - 4800),
        TurnEnd(1, 40 * FRAME + 8000, 100 * FRAME + 8000, had_speech=True, reason="silence"),
    ]
    for size in (1, 7, len(probabilities)):
        turns = tracker()
        events: list[TurnEvent] = []
        for i in range(0, len(probabilities), size):
            events.extend(turns.hear(probabilities[i : i + size], FRAME))
        assert events == expected, size


def test_a_requested_end_cuts_speech_and_the_next_turn_starts_where_it_was_cut() -> None:
    turns = tracker(silence_ms=0)
    assert turns.hear(frames((0.9, 20)), FRAME) == [SpeechBegin(0, 0)]
    at = 20 * FRAME + 100  # the audio received, inside the next frame
    assert turns.end_turn(at, "requested") == TurnEnd(0, 0, at, True, "requested")
    # That frame, scored later, is speech of the next turn, which starts at the cut.
    assert turns.hear(frames((0.9, 100), (0.0, 100)), FRAME) == [SpeechBegin(1, at)]
    # Without a silence duration only requests end turns.
    assert turns.end_turn(220 * FRAME, "stream_end") == TurnEnd(
        1, at, 220 * FRAME, True, "stream_end"
    )


def test_a_request_on_a_turn_without_audio_ends_an_empty_turn() -> None:
    turns = tracker()
    turns.hear(frames((0.9, 10)), FRAME)
    first = turns.end_turn(10 * FRAME, "requested")
    assert turns.end_turn(10 * FRAME, "requested") == TurnEnd(
        1, first.end, first.end, had_speech=False, reason="requested"
    )


def test_the_silero_scorer_scores_whole_frames_and_keeps_the_rest_for_later() -> None:
    scorer = SileroScorer()
    audio = np.zeros(FRAME * 3 + 100, np.float32)
    assert scorer.score(audio).shape == (3,)
    assert scorer.score(np.zeros(FRAME - 101, np.float32)).shape == (0,)
    assert scorer.score(np.zeros(1, np.float32)).shape == (1,)
