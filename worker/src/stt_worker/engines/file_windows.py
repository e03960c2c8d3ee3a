"""How engines that decode a file window by window cut it and place its segments.

Whisper takes at most 30 s at a time. With voice-activity detection a window is a stretch
of speech regions (the pauses between them kept inside, so nothing is spliced); the
segments of a window are then moved to the recording's clock.
"""

from __future__ import annotations

import dataclasses

from stt_worker.types import SAMPLE_RATE_HERTZ, FloatArray, Segment, VadParameters
from stt_worker.vad import group_spans, speech_spans

WINDOW_SAMPLES = 30 * SAMPLE_RATE_HERTZ
"""The longest window Whisper decodes."""


def speech_windows(
    audio: FloatArray, vad: VadParameters, *, max_gap_s: float
) -> list[tuple[int, int]]:
    """The recording's speech as windows of at most 30 s (sample indices).

    Args:
        audio: The recording (16 kHz mono float32).
        vad: The request's voice-activity tuning (regions longer than 30 s are split at
            their best pause).
        max_gap_s: Longest pause kept inside one window.

    Returns:
        The windows, in order.
    """
    longest_ms = WINDOW_SAMPLES * 1000 // SAMPLE_RATE_HERTZ
    if vad.max_speech_ms is None or vad.max_speech_ms > longest_ms:
        vad = dataclasses.replace(vad, max_speech_ms=longest_ms)
    return group_spans(
        speech_spans(audio, vad),
        max_samples=WINDOW_SAMPLES,
        max_gap_samples=round(max_gap_s * SAMPLE_RATE_HERTZ),
    )


def moved(segment: Segment, offset_ms: int) -> Segment:
    """A window's segment with its times (and its words') moved into the recording."""
    return dataclasses.replace(
        segment,
        start_ms=segment.start_ms + offset_ms,
        end_ms=segment.end_ms + offset_ms,
        words=tuple(
            dataclasses.replace(w, start_ms=w.start_ms + offset_ms, end_ms=w.end_ms + offset_ms)
            for w in segment.words
        ),
        window_offset_ms=offset_ms,
    )
