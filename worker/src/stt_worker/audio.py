"""Audio bytes from the wire to float32 samples.

`PcmAccumulator` collects a file's chunks in one growable byte buffer (amortised
appends, no numpy concatenation per chunk) in the wire's compact format (2 bytes a sample
for LINEAR16) and converts only the stretch a job needs to float32, so a recording is
never held twice.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from stt_worker.errors import InvalidAudioError
from stt_worker.types import SAMPLE_RATE_HERTZ, AudioEncoding, FloatArray

BYTES_PER_SAMPLE: dict[AudioEncoding, int] = {"linear16": 2, "float32": 4}

_INT16_SCALE = np.float32(1.0 / 32768.0)


def samples_to_ms(num_samples: int) -> int:
    """Duration of `num_samples` at 16 kHz, in whole ms (rounded down).

    Args:
        num_samples: Sample count.

    Returns:
        Milliseconds.
    """
    return num_samples * 1000 // SAMPLE_RATE_HERTZ


def pcm_to_float32(data: bytes | bytearray | memoryview, encoding: AudioEncoding) -> FloatArray:
    """Converts little-endian PCM bytes to float32 samples in [-1, 1].

    Non-finite float samples (NaN, inf) become 0 / ±1 and every float sample is clipped to
    [-1, 1], so no client's samples can poison the model.

    Args:
        data: A whole number of samples in `encoding`.
        encoding: The sample format.

    Returns:
        A new float32 array the caller owns.

    Raises:
        InvalidAudioError: `data` holds a partial sample.
    """
    width = BYTES_PER_SAMPLE[encoding]
    if len(data) % width:
        raise InvalidAudioError(
            f"audio chunk of {len(data)} bytes is not a whole number of {width}-byte samples"
        )
    if encoding == "linear16":
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32)
        samples *= _INT16_SCALE
        return samples
    samples = np.frombuffer(data, dtype="<f4").astype(np.float32, copy=True)
    if not np.isfinite(samples).all():
        np.nan_to_num(samples, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    # Samples far outside [-1, 1] (1e30, say) overflow the mel spectrogram into NaN, and a
    # NaN window makes the decoder run to its token limit: one client could stall the engine
    # for every session. Clipping costs one pass over a chunk.
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples


class AudioSource(Protocol):
    """A recording read in stretches (converted to float32 only when read)."""

    @property
    def num_samples(self) -> int:
        """Samples in the recording."""
        ...

    def samples(self, start: int, end: int) -> FloatArray:
        """Samples `start` to `end` (clipped to the recording) as float32 in [-1, 1]."""
        ...


class ArraySource:
    """An `AudioSource` over float32 samples already in memory.

    Args:
        audio: 16 kHz mono samples.
    """

    def __init__(self, audio: FloatArray) -> None:
        self._audio = audio

    @property
    def num_samples(self) -> int:
        """Samples in the recording."""
        return int(self._audio.size)

    def samples(self, start: int, end: int) -> FloatArray:
        """A view of samples `start` to `end`."""
        return self._audio[start:end]


class PcmAccumulator:
    """Collects the raw PCM of one stream; an `AudioSource` of what it holds.

    Args:
        encoding: Sample format of every chunk.
        max_samples: Most samples the stream may send.
    """

    def __init__(self, encoding: AudioEncoding, *, max_samples: int) -> None:
        self._encoding: AudioEncoding = encoding
        self._width = BYTES_PER_SAMPLE[encoding]
        self._max_bytes = max_samples * self._width
        self._data = bytearray()

    @property
    def num_samples(self) -> int:
        """Samples received so far."""
        return len(self._data) // self._width

    @property
    def duration_ms(self) -> int:
        """Audio received so far, in ms."""
        return samples_to_ms(self.num_samples)

    def append(self, chunk: bytes) -> None:
        """Adds one chunk.

        Args:
            chunk: PCM bytes; any length that is a whole number of samples.

        Raises:
            InvalidAudioError: The chunk holds a partial sample, or the stream grew past
                its limit.
        """
        if len(chunk) % self._width:
            raise InvalidAudioError(
                f"audio chunk of {len(chunk)} bytes is not a whole number of "
                f"{self._width}-byte samples"
            )
        if len(self._data) + len(chunk) > self._max_bytes:
            limit_s = self._max_bytes // self._width // SAMPLE_RATE_HERTZ
            raise InvalidAudioError(
                f"audio is longer than the worker's limit of {limit_s} s ({limit_s / 3600:.1f} h)"
            )
        self._data += chunk

    def samples(self, start: int, end: int) -> FloatArray:
        """Samples `start` to `end` (clipped) as float32, converted now (a new array)."""
        start = max(0, min(start, self.num_samples))
        end = max(start, min(end, self.num_samples))
        view = memoryview(self._data)[start * self._width : end * self._width]
        try:
            return pcm_to_float32(view, self._encoding)
        finally:
            view.release()  # a live view would stop the buffer from growing

    def to_float32(self) -> FloatArray:
        """All audio so far as float32 samples (a copy).

        Returns:
            The samples, in [-1, 1].
        """
        return pcm_to_float32(self._data, self._encoding)

    def clear(self) -> None:
        """Releases the buffered bytes."""
        self._data = bytearray()
