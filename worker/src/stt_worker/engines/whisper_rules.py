"""Whisper's quality rules on a decoded window, shared by every engine.

The reference implementation's checks: a text that compresses too well is a repetition
loop, and an improbable text is decoded again at the next temperature of the schedule,
unless the window is silence (likely no speech *and* an improbable text).
"""

from __future__ import annotations

import zlib

COMPRESSION_RATIO_THRESHOLD = 2.4
"""Above this, a text is a repetition loop."""
LOG_PROB_THRESHOLD = -1.0
"""Below this average token log-probability, a text is improbable."""


def compression_ratio(text: str) -> float:
    """How well `text` compresses: high values mean a repetition loop."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def is_silence(no_speech_prob: float, avg_logprob: float, no_speech_threshold: float) -> bool:
    """Whisper's silence rule: likely no speech *and* an improbable text."""
    return no_speech_prob > no_speech_threshold and avg_logprob < LOG_PROB_THRESHOLD


def needs_fallback(compression: float, avg_logprob: float, *, silence: bool) -> bool:
    """Whether a window's text must be decoded again at the next temperature."""
    if silence:
        return False
    return compression > COMPRESSION_RATIO_THRESHOLD or avg_logprob < LOG_PROB_THRESHOLD
