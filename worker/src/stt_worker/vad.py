"""Voice-activity detection for live windows: Silero VAD as faster-whisper ships it.

The ONNX model comes inside the faster-whisper package, so it runs offline. Detection is
run on the scheduler's engine thread together with the decode (see
`session.run_window`), never on the event loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stt_worker.types import SAMPLE_RATE_HERTZ

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
