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

from stt_worker.types import Word

# A word as Whisper's tokenizer writes it: leading space kept, punctuation attached.
_WORD = re.compile(r"\s*\S+")
# Characters that take no speaking time.
_SILENT = re.compile(r"[\W_]+", re.UNICODE)

UNMEASURED_PROBABILITY = 1.0
"""The probability an interpolated word carries (the runtime gives none)."""


def interpolate_words(text: str, start_ms: int, end_ms: int) -> tuple[Word, ...]:
    """Splits a segment's text into words timed by their share of its characters.

    Args:
        text: The segment's text (words keep their leading space, as Whisper writes them).
        start_ms: The segment's start.
        end_ms: The segment's end (not before its start).

    Returns:
        The words in order; the first starts at `start_ms`, the last ends at `end_ms`.
    """
    pieces = _WORD.findall(text)
    if not pieces:
        return ()
    weights = [max(1, len(_SILENT.sub("", piece))) for piece in pieces]
    total = sum(weights)
    span = max(0, end_ms - start_ms)
    words: list[Word] = []
    done = 0
    for piece, weight in zip(pieces, weights, strict=True):
        begin = start_ms + round(span * done / total)
        done += weight
        words.append(
            Word(piece, begin, start_ms + round(span * done / total), UNMEASURED_PROBABILITY)
        )
    return tuple(words)
