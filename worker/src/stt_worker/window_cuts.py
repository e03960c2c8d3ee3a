"""Where a live window may be cut: the strategies behind the commit policy's trim.

The commit policy drops audio only behind committed words, and only where nothing is
lost. Each strategy here answers one question, given the words and silences of the
window: where is a safe cut, if any? They are pure functions over times in seconds of
the stream, so each can be read and tested alone:

- `silence_cut`: in a detected silence between the last committed word and the first
  uncommitted one (the safest cut; it keeps a short lead-in before the next onset);
- `word_cut`: between words by their times, for a long window without such a silence;
  `fluent` also cuts at the widest gap between words in fluent speech;
- `cut_point`: the silence cut, else the word cut.

`silences` turns a window's voice-activity regions into the silences the cuts use.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# A word may end this far past the start of the silence after it (times jitter), s.
_CUT_TOLERANCE_S = 0.05
# Silence kept before the next speech onset when a window is cut at a silence, s.
_LEAD_IN_S = 0.3
# Shortest silence at a window's end that counts as one (the speech may go on), s.
_MIN_SILENCE_S = 0.2

Span = tuple[float, float]
"""(start_s, end_s) in seconds of the stream."""


class TimedWord(Protocol):
    """A word's times in seconds of the stream (all the cuts look at)."""

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class CutOptions:
    """The policy's window lengths that decide when a window is long enough to cut."""

    #: Window length above which it is cut behind committed words at a pause, s.
    trim_s: float = 4.0
    #: Window length above which it is cut even without a pause, s.
    max_buffer_s: float = 20.0
    #: Window length of fluent cuts, s.
    load_trim_s: float = 4.0
    #: Shortest pause between a committed word and the next one that is a safe cut, s.
    cut_gap_s: float = 0.25


@dataclass(frozen=True, slots=True)
class WindowWords:
    """What the cuts see of a window after a decode.

    Attributes:
        committed: Every word committed so far (the last one, or two, matter).
        in_window: The committed words the window still holds (committed since the
            last cut), in order.
        rest: The uncommitted words of the hypothesis, in order.
        silences: Detected silences in the window, or None when no detector ran.
        start_s: Where the window starts, seconds of the stream.
        length_s: How long the window is, seconds.
    """

    committed: Sequence[TimedWord]
    in_window: Sequence[TimedWord]
    rest: Sequence[TimedWord]
    silences: Sequence[Span] | None
    start_s: float
    length_s: float


def cut_point(window: WindowWords, options: CutOptions, *, fluent: bool) -> float | None:
    """Where to cut the window (seconds of the stream), or None to keep it whole.

    A silence after the last committed word first; without one, a cut between words.
    The caller still ignores a cut at or before the window's start.
    """
    if not window.committed:
        return None
    last = window.committed[-1]
    if window.silences is not None:
        cut = silence_cut(last, window.rest, window.silences)
        if cut is not None:
            return cut
    return word_cut(window, options, fluent=fluent)


def silence_cut(
    last: TimedWord, rest: Sequence[TimedWord], silences: Sequence[Span]
) -> float | None:
    """A cut in the latest detected silence between the last committed word and the
    first uncommitted one, or None.

    The next window then starts just before fresh speech, and neither the tail of a
    committed word (Whisper re-hears it as something new) nor the onset of the next word
    (lost for good) lies on the cut. A little silence is kept before the next onset
    (Whisper needs a lead-in).

    The detector, not Whisper, says where the silence is: Whisper often stretches a
    word's end well into the pause after it (by 0.1-0.3 s), so a silence counts once it
    starts after the word began and outlasts the word's reported end. Cutting there
    instead of between words keeps the next window from starting inside speech, where
    Whisper, re-hearing a half word, is prone to skip what follows.
    """
    limit = rest[0].start_s if rest else float("inf")
    after = [
        (a, b)
        for a, b in silences
        if a > last.start_s and b > last.end_s and b <= limit + _CUT_TOLERANCE_S
    ]
    if not after:
        return None
    start, end = after[-1]
    return max(start, end - _LEAD_IN_S)


def word_cut(window: WindowWords, options: CutOptions, *, fluent: bool) -> float | None:
    """A cut between words by their times, or None to keep the window whole.

    Everything heard committed: just after the last word once the window is past
    `trim_s` (with a detector, between the last two words instead: the speech may go
    on). Otherwise, without `fluent`, at a pause of `cut_gap_s` right after the last
    committed word past `trim_s` (with a detector, which found no silence there, between
    the last two committed words instead); with `fluent`, past `load_trim_s`, at the latest pause
    behind committed words, or at twice that length at the widest gap between words. A
    window past `max_buffer_s` is cut after the last committed word.
    """
    last = window.committed[-1]
    rest = window.rest
    length_s = window.length_s
    if not rest:
        if length_s <= options.trim_s:
            return None
        words = window.committed
        if window.silences is not None and len(words) > 1:
            # The speech goes on (no silence after the last word yet): a cut right
            # after it could fall on the tail of that word (re-heard as something
            # new) or the onset of the next. Keep the last word in the window instead;
            # the next hypothesis re-states it and it is aligned away.
            return (words[-2].end_s + last.start_s) / 2
        # Everything heard so far is committed: cut just after the last word.
        return last.end_s + 0.1
    if not fluent:
        if length_s > options.trim_s and rest[0].start_s - last.end_s >= options.cut_gap_s:
            words = window.committed
            if window.silences is not None and len(words) > 1:
                # Whisper's times show a gap but the detector heard no silence there: the
                # next word may have begun already (its start time is often late: "natural
                # | therefore" cut inside "therefore", re-heard as "for"). Keep the last
                # committed word in the window instead; it is re-stated and aligned away.
                return (words[-2].end_s + last.start_s) / 2
            return (last.end_s + rest[0].start_s) / 2
        if length_s > options.max_buffer_s:
            return last.end_s
        return None
    if length_s <= options.load_trim_s:
        return None
    # The latest pause behind committed words; in fluent speech with no such pause,
    # once the window is twice as long, the widest gap between words.
    words = [*window.in_window, rest[0]]
    gaps = [
        (b.start_s - a.end_s, (a.end_s + b.start_s) / 2)
        for a, b in itertools.pairwise(words)
        if a.end_s > window.start_s
    ]
    pauses = [mid for gap, mid in gaps if gap >= options.cut_gap_s]
    if pauses:
        return pauses[-1]
    if gaps and length_s > 2 * options.load_trim_s:
        return max(gaps)[1]
    if length_s > options.max_buffer_s:
        return last.end_s
    return None


def silences(regions: Sequence[Span], offset_s: float, window_end_s: float) -> list[Span]:
    """The silences of a window between and after its speech regions, in stream seconds
    (a window's leading silence is not one: the audio before it was cut already).

    Args:
        regions: Speech regions as (start_s, end_s) relative to the window start.
        offset_s: Where the window starts, seconds of the stream.
        window_end_s: Where the window ends, seconds of the stream.
    """
    out: list[Span] = []
    for (_, end), (start, _) in itertools.pairwise(regions):
        out.append((offset_s + end, offset_s + start))
    if regions and offset_s + regions[-1][1] < window_end_s - _MIN_SILENCE_S:
        out.append((offset_s + regions[-1][1], window_end_s))
    return out
