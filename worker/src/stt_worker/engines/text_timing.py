"""Word times for backends whose runtime gives segment times but no word times.

OpenVINO GenAI computes word times only for models exported with cross-attention
outputs, and TensorRT-LLM's Whisper runtime not at all. For those, each segment's span is
shared among its words in proportion to their length in characters (punctuation and
spacing excluded), which is the nearest equivalent: exact at the segment's ends, and
within about a word of the truth inside a segment of steady speech. The runtimes give no
word probability either: such words carry `UNMEASURED_PROBABILITY` (1.0, since clients of
the WhisperLive protocol and the HTTP formats expect a number there, not a null).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stt_worker.types import Word

# A word as Whisper's tokenizer writes it: leading space kept, punctuation attached.
_WORD = re.compile(r"\s*\S+")
# Characters that take no speaking time.
_SILENT = re.compile(r"[\W_]+", re.UNICODE)

UNMEASURED_PROBABILITY = 1.0
"""The probability an interpolated word carries (the runtime gives none)."""


def interpolate_words(
    text: str,
    start_ms: int,
    end_ms: int,
    speech: Sequence[tuple[float, float]] | None = None,
) -> tuple[Word, ...]:
    """Splits a segment's text into words timed by their share of its characters.

    Args:
        text: The segment's text (words keep their leading space, as Whisper writes them).
        start_ms: The segment's start.
        end_ms: The segment's end (not before its start).
        speech: Where a voice-activity detector heard speech, in seconds of the same
            clock; the words are then spread over the speech inside the segment only
            (pauses take no characters). None, or no speech inside: the whole segment.

    Returns:
        The words in order, inside the segment.
    """
    pieces = _WORD.findall(text)
    if not pieces:
        return ()
    weights = [max(1, len(_SILENT.sub("", piece))) for piece in pieces]
    total = sum(weights)
    spans = _speech_inside(speech, start_ms, end_ms) or [(start_ms, max(start_ms, end_ms))]
    speaking = sum(end - start for start, end in spans)

    def moment(share: float, *, starting: bool) -> int:
        """The time at which `share` of the speaking time inside the segment has passed
        (a word starting exactly where a region ends starts in the next region)."""
        left = share * speaking
        for begin, end in spans:
            if left < end - begin or (left == end - begin and not starting):
                return round(begin + left)
            left -= end - begin
        return spans[-1][1]

    words: list[Word] = []
    done = 0
    for piece, weight in zip(pieces, weights, strict=True):
        begin = moment(done / total, starting=True)
        done += weight
        end = moment(done / total, starting=False)
        words.append(Word(piece, begin, max(begin, end), UNMEASURED_PROBABILITY))
    return tuple(words)


def _speech_inside(
    speech: Sequence[tuple[float, float]] | None, start_ms: int, end_ms: int
) -> list[tuple[int, int]]:
    """The detector's speech regions clipped to [start_ms, end_ms], in ms."""
    if not speech:
        return []
    spans = []
    for begin_s, end_s in speech:
        begin, end = max(start_ms, round(begin_s * 1000)), min(end_ms, round(end_s * 1000))
        if end > begin:
            spans.append((begin, end))
    return spans
