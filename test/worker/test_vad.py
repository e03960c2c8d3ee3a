"""Voice-activity detection over whole recordings, scored in pieces."""

from __future__ import annotations

import numpy as np
import pytest

from stt_worker.types import VadParameters
from stt_worker.vad import PIECE_SAMPLES, SpeechPass, SpeechSegmenter, speech_spans
from worker_testing import load_audio

LONG_FILE = "longform/lj003_nonnative_0001_0098_concat.flac"


@pytest.mark.parametrize(
    "vad",
    [
        VadParameters(min_silence_ms=2000, speech_pad_ms=400, max_speech_ms=29_000),
        VadParameters(threshold=0.6, min_speech_ms=250, min_silence_ms=500, speech_pad_ms=30),
    ],
)
def test_speech_spans_in_pieces_match_one_faster_whisper_pass(vad: VadParameters) -> None:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    # Five minutes: five pieces, so state and context cross four piece boundaries.
    audio = load_audio(LONG_FILE)[: 5 * PIECE_SAMPLES - 1234]
    expected = get_speech_timestamps(
        audio,
        VadOptions(
            threshold=vad.threshold,
            min_speech_duration_ms=vad.min_speech_ms,
            max_speech_duration_s=(
                float("inf") if vad.max_speech_ms is None else vad.max_speech_ms / 1000
            ),
            min_silence_duration_ms=vad.min_silence_ms,
            speech_pad_ms=vad.speech_pad_ms,
        ),
    )
    spans = speech_spans(audio, vad)
    assert len(spans) > 10
    assert spans == [(int(s["start"]), int(s["end"])) for s in expected]


def test_speech_pass_takes_a_ragged_piece_only_last() -> None:
    speech = SpeechPass(VadParameters())
    speech.feed(np.zeros(1000, np.float32))
    with pytest.raises(ValueError, match="last piece"):
        speech.feed(np.zeros(512, np.float32))


def test_speech_segmenter_splits_pads_and_drops_by_its_tuning() -> None:
    frame = 512
    # 0.5 s silence, 1 s speech, 0.2 s pause, 1 s speech, 1 s silence, 0.1 s blip.
    pattern = [(0.5, 0.0), (1.0, 0.9), (0.2, 0.1), (1.0, 0.9), (1.0, 0.0), (0.1, 0.9)]
    probabilities = np.concatenate(
        [np.full(round(s * 16_000 / frame), p, np.float32) for s, p in pattern]
    )
    size = probabilities.size * frame
    segmenter = SpeechSegmenter(
        VadParameters(min_speech_ms=250, min_silence_ms=500, speech_pad_ms=50)
    )
    segmenter.feed(probabilities[:7])  # fed in uneven parts, as pieces arrive
    segmenter.feed(probabilities[7:])
    ((start, end),) = segmenter.finish(size)  # the 0.2 s pause is kept, the blip dropped
    assert abs(start - (0.5 - 0.05) * 16_000) <= frame
    assert abs(end - (2.7 + 0.05) * 16_000) <= frame
