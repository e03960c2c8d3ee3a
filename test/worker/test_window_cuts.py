"""Unit tests of the window-cutting strategies (stt_worker.window_cuts), on hand-built
words and silences (times in seconds of the stream)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from stt_worker.window_cuts import (
    CutOptions,
    Span,
    WindowWords,
    cut_point,
    silence_cut,
    silences,
    word_cut,
)

OPTIONS = CutOptions(trim_s=4.0, max_buffer_s=20.0, load_trim_s=4.0, cut_gap_s=0.25)


@dataclass(frozen=True)
class W:
    start_s: float
    end_s: float


def window(
    committed: Sequence[W],
    rest: Sequence[W] = (),
    *,
    length_s: float,
    silences: Sequence[Span] | None = None,
    in_window: Sequence[W] | None = None,
    start_s: float = 0.0,
) -> WindowWords:
    return WindowWords(
        committed=committed,
        in_window=committed if in_window is None else in_window,
        rest=rest,
        silences=silences,
        start_s=start_s,
        length_s=length_s,
    )


# -- silences ------------------------------------------------------------------------


def test_silences_lie_between_regions_and_after_the_last_in_stream_time() -> None:
    regions = [(0.5, 1.0), (1.6, 2.0)]
    assert silences(regions, offset_s=10.0, window_end_s=13.0) == [(11.0, 11.6), (12.0, 13.0)]


def test_silences_skip_a_short_trailing_silence_and_the_leading_one() -> None:
    assert silences([(0.5, 1.0), (1.6, 2.9)], offset_s=0.0, window_end_s=3.0) == [(1.0, 1.6)]
    assert silences([], offset_s=0.0, window_end_s=3.0) == []


# -- silence_cut ---------------------------------------------------------------------


def test_silence_cut_keeps_a_lead_in_before_the_next_onset() -> None:
    last, nxt = W(1.0, 1.5), W(3.0, 3.4)
    assert silence_cut(last, [nxt], [(1.5, 3.0)]) == pytest.approx(2.7)


def test_silence_cut_of_a_short_silence_is_its_start() -> None:
    assert silence_cut(W(1.0, 1.5), [W(1.7, 2.0)], [(1.5, 1.7)]) == 1.5


def test_silence_cut_takes_the_latest_silence_after_the_last_committed_word() -> None:
    gaps = [(0.5, 0.9), (1.6, 2.0), (2.2, 3.0)]
    assert silence_cut(W(1.0, 1.55), [W(3.0, 3.5)], gaps) == pytest.approx(2.7)


def test_silence_cut_ignores_silences_before_the_last_word_or_past_the_next() -> None:
    last = W(1.0, 1.5)
    assert silence_cut(last, [W(2.0, 2.5)], [(0.2, 0.8), (2.6, 3.0)]) is None
    assert silence_cut(last, [], [(0.2, 0.8)]) is None


def test_silence_cut_tolerates_jittered_word_times() -> None:
    # The word "ends" 40 ms into the silence, the next "starts" 40 ms before its end.
    assert silence_cut(W(1.0, 1.54), [W(2.46, 3.0)], [(1.5, 2.5)]) == pytest.approx(2.2)


def test_silence_cut_trusts_the_detector_over_a_stretched_word_end() -> None:
    # Whisper has "you." end at 7.84, 0.1 s into the silence the detector heard from 7.74
    # (JFK under load): the cut still falls in that silence, not inside the speech before.
    assert silence_cut(W(7.5, 7.84), [W(8.1, 8.6)], [(7.74, 8.11)]) == pytest.approx(7.81)
    # A silence that ends before the word's reported end is not after it.
    assert silence_cut(W(7.5, 7.84), [W(8.1, 8.6)], [(7.6, 7.8)]) is None


# -- word_cut ------------------------------------------------------------------------


def test_word_cut_keeps_a_short_window_whole() -> None:
    committed = [W(0.0, 0.5), W(0.6, 1.0)]
    assert word_cut(window(committed, length_s=4.0), OPTIONS, fluent=False) is None
    assert word_cut(window(committed, length_s=4.0), OPTIONS, fluent=True) is None


def test_word_cut_after_everything_committed_without_a_detector() -> None:
    committed = [W(0.0, 0.5), W(0.6, 1.0)]
    assert word_cut(window(committed, length_s=4.5), OPTIONS, fluent=False) == pytest.approx(1.1)


def test_word_cut_with_a_detector_keeps_the_last_word_when_speech_goes_on() -> None:
    committed = [W(0.0, 0.5), W(0.7, 1.0)]
    got = word_cut(window(committed, length_s=4.5, silences=[]), OPTIONS, fluent=False)
    assert got == pytest.approx(0.6)
    # One word alone: cut just after it.
    got = word_cut(window(committed[:1], length_s=4.5, silences=[]), OPTIONS, fluent=False)
    assert got == pytest.approx(0.6)


def test_word_cut_at_a_pause_right_after_the_last_committed_word() -> None:
    committed, rest = [W(0.0, 1.0)], [W(1.4, 2.0)]
    assert word_cut(window(committed, rest, length_s=4.5), OPTIONS, fluent=False) == 1.2
    # Too short a gap, or too short a window: no cut.
    close = [W(1.1, 2.0)]
    assert word_cut(window(committed, close, length_s=4.5), OPTIONS, fluent=False) is None
    assert word_cut(window(committed, rest, length_s=3.5), OPTIONS, fluent=False) is None


def test_word_cut_past_the_longest_window_cuts_after_the_last_committed_word() -> None:
    committed, rest = [W(0.0, 1.0)], [W(1.05, 2.0)]
    assert word_cut(window(committed, rest, length_s=20.5), OPTIONS, fluent=False) == 1.0
    # Fluent: the widest gap first; with no gap in the window, after the last word.
    assert word_cut(window(committed, rest, length_s=20.5), OPTIONS, fluent=True) == 1.025
    no_gaps = window(committed, rest, length_s=20.5, in_window=[])
    assert word_cut(no_gaps, OPTIONS, fluent=True) == 1.0


def test_fluent_cut_at_the_latest_pause_behind_committed_words() -> None:
    committed = [W(0.0, 0.5), W(0.9, 1.2), W(1.25, 1.6), W(2.0, 2.3)]
    rest = [W(2.35, 2.8)]
    got = word_cut(window(committed, rest, length_s=4.5), OPTIONS, fluent=True)
    assert got == pytest.approx(1.8)


def test_fluent_cut_without_pauses_waits_for_twice_the_length_then_takes_the_widest_gap() -> None:
    committed = [W(0.0, 0.5), W(0.6, 1.0), W(1.15, 1.5)]
    rest = [W(1.55, 2.0)]
    assert word_cut(window(committed, rest, length_s=6.0), OPTIONS, fluent=True) is None
    got = word_cut(window(committed, rest, length_s=8.5), OPTIONS, fluent=True)
    assert got == pytest.approx(1.075)


def test_fluent_cut_ignores_gaps_before_the_window_start() -> None:
    committed = [W(0.0, 0.5), W(1.0, 1.5), W(1.55, 2.0)]
    rest = [W(2.05, 2.5)]
    win = window(committed, rest, length_s=4.5, start_s=0.8)
    assert word_cut(win, OPTIONS, fluent=True) is None


# -- cut_point -----------------------------------------------------------------------


def test_cut_point_prefers_the_silence_then_falls_back_to_words() -> None:
    committed, rest = [W(0.0, 1.0)], [W(2.0, 2.5)]
    with_silence = window(committed, rest, length_s=4.5, silences=[(1.0, 2.0)])
    assert cut_point(with_silence, OPTIONS, fluent=False) == pytest.approx(1.7)
    without = window(committed, rest, length_s=4.5, silences=[])
    assert cut_point(without, OPTIONS, fluent=False) == pytest.approx(1.5)


def test_cut_point_is_none_before_anything_is_committed() -> None:
    assert cut_point(window([], [W(0.0, 1.0)], length_s=30.0), OPTIONS, fluent=True) is None


def test_word_cut_at_a_gap_the_detector_did_not_hear_keeps_the_last_committed_word() -> None:
    # Measured on LJ001: Whisper put "therefore" 0.26 s after "natural", the detector heard
    # speech throughout; a cut in that gap fell inside "therefore" (re-heard as "for").
    committed, rest = [W(0.0, 0.6), W(0.7, 1.0)], [W(1.4, 2.0)]
    got = word_cut(window(committed, rest, length_s=4.5, silences=[]), OPTIONS, fluent=False)
    assert got == pytest.approx(0.65)
    # Without a detector the gap is all there is to go by.
    assert word_cut(window(committed, rest, length_s=4.5), OPTIONS, fluent=False) == 1.2
