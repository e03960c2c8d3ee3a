"""Voice-activity detection: Silero VAD as faster-whisper ships it, for live windows and
for cutting files into chunks.

The ONNX model comes inside the faster-whisper package, so it runs offline. Detection is
run on the scheduler's engine thread together with the decode (see
`live_policy.run_window`), never on the event loop; the turn detection of live streams
(`SileroScorer`) on a thread of its own (see `live_session`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stt_worker.types import SAMPLE_RATE_HERTZ, VadParameters

# Live defaults. Silence shorter than this does not split a speech region (ms): short
# enough that a pause between sentences shows, long enough that a stop consonant does
# not. Pauses between regions are what commits a live stream's words early.
LIVE_MIN_SILENCE_MS = 300
LIVE_SPEECH_PAD_MS = 100
# A live stream's tuning is capped so that a pause can still commit words at all.
MAX_LIVE_MIN_SILENCE_MS = 5000
MAX_LIVE_SPEECH_PAD_MS = 1000


class SileroDetector:
    """`SpeechDetector` over faster-whisper's Silero VAD.

    Args:
        min_silence_ms: Silence at least this long ends a speech region.
        speech_pad_ms: Padding added on both sides of each region.
        min_speech_ms: Regions shorter than this are dropped.
    """

    def __init__(
        self,
        *,
        min_silence_ms: int = LIVE_MIN_SILENCE_MS,
        speech_pad_ms: int = LIVE_SPEECH_PAD_MS,
        min_speech_ms: int = 0,
    ) -> None:
        self._min_silence_ms = min_silence_ms
        self._speech_pad_ms = speech_pad_ms
        self._min_speech_ms = min_speech_ms

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
                min_speech_duration_ms=self._min_speech_ms,
                min_silence_duration_ms=self._min_silence_ms,
                speech_pad_ms=self._speech_pad_ms,
            ),
        )
        return [
            (int(s["start"]) / SAMPLE_RATE_HERTZ, int(s["end"]) / SAMPLE_RATE_HERTZ) for s in stamps
        ]


# Silero scores frames of this many samples, each seeing the frame before's last samples.
_FRAME = 512
_CONTEXT = 64
_STATE_SHAPE = (1, 1, 128)
# A pass over a recording scores it in pieces of this many frames (60 s), one engine job
# each, so a live window never waits behind more than one piece.
PIECE_FRAMES = 1875
PIECE_SAMPLES = PIECE_FRAMES * _FRAME
# A region forced to split at its longest speech may split at a pause this long (ms).
_SPLIT_PAUSE_MS = 98


class SpeechSegmenter:
    """Turns per-frame speech probabilities into speech regions, frame by frame.

    The rules are Silero's as faster-whisper applies them (so a file cut in pieces gets
    the regions a single pass would): speech starts at a frame at or above the
    threshold and ends once the probability stayed below `threshold - 0.15` for
    `min_silence_ms`; a region longer than `max_speech_ms` is split at its last pause
    of at least 98 ms (or hard, without one); regions shorter than `min_speech_ms` are
    dropped; `finish` pads each region by `speech_pad_ms` (half the gap when two
    regions are closer than twice the padding).

    Args:
        vad: The tuning.
    """

    def __init__(self, vad: VadParameters) -> None:
        rate = SAMPLE_RATE_HERTZ
        self._on = vad.threshold
        self._off = max(vad.threshold - 0.15, 0.01)
        self._pad = rate * vad.speech_pad_ms / 1000
        self._min_speech = rate * vad.min_speech_ms / 1000
        self._min_silence = rate * vad.min_silence_ms / 1000
        self._split_pause = rate * _SPLIT_PAUSE_MS / 1000
        self._max_speech = (
            float("inf")
            if vad.max_speech_ms is None
            else rate * vad.max_speech_ms / 1000 - _FRAME - 2 * self._pad
        )
        self._frames = 0
        self._regions: list[list[int]] = []
        # The open region's start, or None outside speech.
        self._start: int | None = None
        # Where the current pause began, the last pause long enough to split at, and
        # where speech resumed after it; 0 is "none" (no region can pause at sample 0).
        self._pause_at = 0
        self._split_at = 0
        self._resume_at = 0

    def feed(self, probabilities: npt.NDArray[np.float32]) -> None:
        """Takes the next frames' speech probabilities, in order."""
        for probability in probabilities.tolist():
            self._step(float(probability), self._frames * _FRAME)
            self._frames += 1

    def _step(self, probability: float, at: int) -> None:
        speech = probability >= self._on
        if speech and self._pause_at:
            self._pause_at = 0
            if self._resume_at < self._split_at:
                self._resume_at = at
        if self._start is None:
            if speech:
                self._start = at
            return
        if at - self._start > self._max_speech:
            if self._split_at:
                self._regions.append([self._start, self._split_at])
                self._start = None if self._resume_at < self._split_at else self._resume_at
                self._split_at = self._resume_at = self._pause_at = 0
                if self._start is None:
                    return
            else:
                self._regions.append([self._start, at])
                self._start = None
                self._split_at = self._resume_at = self._pause_at = 0
                return
        if probability >= self._off:
            return
        if not self._pause_at:
            self._pause_at = at
        if at - self._pause_at > self._split_pause:
            self._split_at = self._pause_at
        if at - self._pause_at >= self._min_silence:
            if self._pause_at - self._start > self._min_speech:
                self._regions.append([self._start, self._pause_at])
            self._start = None
            self._split_at = self._resume_at = self._pause_at = 0

    def finish(self, num_samples: int) -> list[tuple[int, int]]:
        """The padded speech regions of a recording of `num_samples`, as sample indices."""
        regions = [list(r) for r in self._regions]
        if self._start is not None and num_samples - self._start > self._min_speech:
            regions.append([self._start, num_samples])
        pad = self._pad
        for index, region in enumerate(regions):
            if index == 0:
                region[0] = int(max(0, region[0] - pad))
            if index + 1 < len(regions):
                following = regions[index + 1]
                gap = following[0] - region[1]
                if gap < 2 * pad:
                    region[1] += gap // 2
                    following[0] = int(max(0, following[0] - gap // 2))
                else:
                    region[1] = int(min(num_samples, region[1] + pad))
                    following[0] = int(max(0, following[0] - pad))
            else:
                region[1] = int(min(num_samples, region[1] + pad))
        return [(start, end) for start, end in regions]


class _SileroState:
    """Silero's recurrent state and the last frame's context, carried from call to call, so
    frames scored in pieces get the probabilities of a single pass."""

    def __init__(self) -> None:
        self._state = (
            np.zeros(_STATE_SHAPE, dtype=np.float32),
            np.zeros(_STATE_SHAPE, dtype=np.float32),
        )
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def score(self, frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Speech probabilities of the next frames, shaped (n, `_FRAME`)."""
        from faster_whisper.vad import get_vad_model

        if frames.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        contexts = np.concatenate([self._context[None, :], frames[:-1, -_CONTEXT:]])
        hidden, cell = self._state
        probabilities, hidden, cell = get_vad_model().session.run(
            None, {"input": np.concatenate([contexts, frames], axis=1), "h": hidden, "c": cell}
        )
        self._state = (hidden, cell)
        self._context = frames[-1, -_CONTEXT:].copy()
        return np.asarray(probabilities, dtype=np.float32).reshape(-1)


class SileroScorer:
    """`turns.SpeechScorer` over Silero: a live stream's audio scored as it arrives, in
    frames of 32 ms (turn detection). Cheap: about 0.3 % of a core per stream."""

    frame_samples = _FRAME

    def __init__(self) -> None:
        self._silero = _SileroState()
        self._pending = np.zeros(0, dtype=np.float32)

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The probabilities of the frames `audio` completes (the rest waits)."""
        joined = np.concatenate([self._pending, audio]) if self._pending.size else audio
        whole = joined.size - joined.size % _FRAME
        self._pending = joined[whole:].copy()
        return self._silero.score(joined[:whole].reshape(-1, _FRAME))


class SpeechPass:
    """Voice-activity detection over a whole recording, fed piece by piece.

    Silero's state and each frame's context carry from one piece to the next, so the
    regions are those of a single pass; pieces must be whole frames (`PIECE_SAMPLES`),
    except the last.

    Args:
        vad: The tuning.
    """

    def __init__(self, vad: VadParameters) -> None:
        self._segmenter = SpeechSegmenter(vad)
        self._silero = _SileroState()
        self._num_samples = 0
        self._ragged = False

    def feed(self, audio: npt.NDArray[np.float32]) -> None:
        """Scores the next piece of the recording (run it on the engine thread).

        Raises:
            ValueError: An earlier piece was not a whole number of frames.
        """
        if self._ragged:
            raise ValueError("only the last piece may end inside a frame")
        if audio.size == 0:
            return
        self._num_samples += audio.size
        if audio.size % _FRAME:
            self._ragged = True
            audio = np.pad(audio, (0, _FRAME - audio.size % _FRAME))
        self._segmenter.feed(self._silero.score(audio.reshape(-1, _FRAME)))

    def finish(self) -> list[tuple[int, int]]:
        """The speech regions of everything fed, as (start, end) sample indices."""
        return self._segmenter.finish(self._num_samples)


def speech_spans(audio: npt.NDArray[np.float32], vad: VadParameters) -> list[tuple[int, int]]:
    """Speech regions of a whole recording as (start, end) sample indices.

    Args:
        audio: 16 kHz mono float32 samples.
        vad: The file's voice-activity tuning (`max_speech_ms` splits long regions at
            their best pause).
    """
    speech = SpeechPass(vad)
    for start in range(0, audio.size, PIECE_SAMPLES):
        speech.feed(audio[start : start + PIECE_SAMPLES])
    return speech.finish()


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
