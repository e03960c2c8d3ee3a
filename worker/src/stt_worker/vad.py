"""Voice-activity detection: Silero VAD as faster-whisper ships it, for live windows and
for cutting files into chunks.

The ONNX model comes inside the faster-whisper package, so it runs offline. Detection is
run on the scheduler's engine thread together with the decode (see
`session.run_window`), never on the event loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stt_worker.types import SAMPLE_RATE_HERTZ, VadParameters

# Silence shorter than this does not split a speech region (ms). Short enough that a
# pause between sentences shows, long enough that a stop consonant does not.
_MIN_SILENCE_MS = 300
_SPEECH_PAD_MS = 100


class SileroDetector:
    """`SpeechDetector` over faster-whisper's Silero VAD."""

    def speech_regions(
        self, audio: npt.NDArray[np.float32], threshold: float
    ) -> list[tuple[float, float]]:
        """Speech regions of a window as (start_s, end_s) relative to its start.

        Args:
            audio: 16 kHz mono float32 samples.
            threshold: Speech probability above which a frame counts as speech.
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        stamps = get_speech_timestamps(
            audio,
            VadOptions(
                threshold=threshold,
                min_silence_duration_ms=_MIN_SILENCE_MS,
                speech_pad_ms=_SPEECH_PAD_MS,
            ),
        )
        return [
            (int(s["start"]) / SAMPLE_RATE_HERTZ, int(s["end"]) / SAMPLE_RATE_HERTZ) for s in stamps
        ]


def speech_spans(audio: npt.NDArray[np.float32], vad: VadParameters) -> list[tuple[int, int]]:
    """Speech regions of a whole recording as (start, end) sample indices.

    Args:
        audio: 16 kHz mono float32 samples.
        vad: The file's voice-activity tuning (`max_speech_ms` splits long regions at
            their best pause).
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(
        audio,
        VadOptions(
            threshold=vad.threshold,
            min_speech_duration_ms=vad.min_speech_ms,
            max_speech_duration_s=(
                float("inf") if vad.max_speech_ms is None else vad.max_speech_ms / 1000.0
            ),
            min_silence_duration_ms=vad.min_silence_ms,
            speech_pad_ms=vad.speech_pad_ms,
        ),
    )
    return [(int(s["start"]), int(s["end"])) for s in stamps]


def group_spans(
    spans: list[tuple[int, int]], *, max_samples: int, max_gap_samples: int
) -> list[tuple[int, int]]:
    """Joins neighbouring speech regions into chunks of the recording for the decoder.

    A chunk is a contiguous stretch of the original audio (pauses between its regions
    stay in, so nothing is spliced) of at most `max_samples`; a pause longer than
    `max_gap_samples` starts a new chunk. A region longer than `max_samples` is cut into
    equal parts (callers split long regions at pauses first, via `max_speech_ms`).

    Args:
        spans: Speech regions in order, as (start, end) sample indices.
        max_samples: Longest chunk.
        max_gap_samples: Longest pause kept inside a chunk.

    Returns:
        The chunks as (start, end) sample indices, in order.
    """
    pieces: list[tuple[int, int]] = []
    for start, end in spans:
        parts = max(1, -(-(end - start) // max_samples))
        step = -(-(end - start) // parts)
        pieces.extend((s, min(end, s + step)) for s in range(start, end, step))
    chunks: list[tuple[int, int]] = []
    for start, end in pieces:
        if chunks:
            first, last = chunks[-1]
            if start - last <= max_gap_samples and end - first <= max_samples:
                chunks[-1] = (first, end)
                continue
        chunks.append((start, end))
    return chunks
