"""PCM bytes to float32 and the per-stream accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from stt_worker.audio import PcmAccumulator, pcm_to_float32, samples_to_ms
from stt_worker.errors import InvalidAudioError


def test_audio_linear16_scales_to_unit_range() -> None:
    data = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    samples = pcm_to_float32(data, "linear16")
    assert samples.dtype == np.float32
    np.testing.assert_allclose(samples, [0.0, 0.5, -1.0, 32767 / 32768], rtol=1e-6)


def test_audio_float32_passes_through_and_cleans_non_finite() -> None:
    data = np.array([0.25, np.nan, np.inf, -np.inf, 1e30, -3.0], dtype="<f4").tobytes()
    samples = pcm_to_float32(data, "float32")
    np.testing.assert_array_equal(
        samples, np.array([0.25, 0.0, 1.0, -1.0, 1.0, -1.0], dtype=np.float32)
    )


def test_audio_rejects_partial_samples() -> None:
    with pytest.raises(InvalidAudioError, match="whole number"):
        pcm_to_float32(b"\x00\x01\x02", "linear16")
    accumulator = PcmAccumulator("float32", max_samples=100)
    with pytest.raises(InvalidAudioError, match="whole number"):
        accumulator.append(b"\x00" * 6)


def test_audio_accumulator_joins_chunks_in_order() -> None:
    samples = np.arange(-1000, 1000, dtype="<i2")
    accumulator = PcmAccumulator("linear16", max_samples=10_000)
    data = samples.tobytes()
    for start in range(0, len(data), 334):  # uneven chunk sizes, all whole samples
        accumulator.append(data[start : start + 334])
    assert accumulator.num_samples == samples.size
    np.testing.assert_allclose(accumulator.to_float32(), samples.astype(np.float32) / 32768.0)


def test_audio_accumulator_enforces_its_limit() -> None:
    accumulator = PcmAccumulator("linear16", max_samples=16_000)
    accumulator.append(b"\x00\x00" * 16_000)
    with pytest.raises(InvalidAudioError, match="longer than"):
        accumulator.append(b"\x00\x00")


def test_audio_accumulator_duration_and_clear() -> None:
    accumulator = PcmAccumulator("linear16", max_samples=100_000)
    accumulator.append(b"\x00\x00" * 24_000)
    assert accumulator.duration_ms == 1500
    accumulator.clear()
    assert accumulator.num_samples == 0
    assert samples_to_ms(16) == 1
