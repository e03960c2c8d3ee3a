"""The real OpenVINO engine on the OpenVINO IR of the test models (../shared/models).

The IR folders hold the same weights as the CTranslate2 test models (tiny.en, and the
multilingual base with int8 weights); loading one takes about a second.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from stt_worker.config import EngineSettings
from stt_worker.engines.openvino import (
    OpenVinoEngine,
    check_model_directory,
    model_directory,
    resolve_device,
)
from stt_worker.engines.text_timing import interpolate_words
from stt_worker.errors import ModelLoadError
from stt_worker.types import DecodeOptions, WindowInput
from worker_testing import REPO, TINY_EN, load_audio, normalize, reference_text, wer

pytestmark = pytest.mark.slow

OPENVINO_MODELS = (REPO.parent / "shared" / "models").resolve()
OV_TINY_EN = OPENVINO_MODELS / "openvino-tiny.en"
OV_BASE = OPENVINO_MODELS / "openvino-base"


@pytest.fixture(scope="module")
def ov_tiny() -> OpenVinoEngine:
    return OpenVinoEngine.load(EngineSettings(backend="openvino", model=str(OV_TINY_EN)))


@pytest.fixture(scope="module")
def ov_base() -> OpenVinoEngine:
    return OpenVinoEngine.load(EngineSettings(backend="openvino", model=str(OV_BASE)))


def test_openvino_engine_describes_the_loaded_model(ov_tiny: OpenVinoEngine) -> None:
    info = ov_tiny.info
    assert info.model_name == "openvino-tiny.en"
    assert info.backend == "openvino"
    assert info.device == "cpu"  # no Intel GPU here: auto picks the CPU
    assert info.compute_type in ("bfloat16", "float32", "float16")
    assert info.is_multilingual is False
    assert info.languages == ("en",)


def test_openvino_file_transcription_is_accurate_with_words_inside_segments(
    ov_tiny: OpenVinoEngine,
) -> None:
    audio = load_audio("jfk.wav")
    segments, info = ov_tiny.transcribe_file(audio, DecodeOptions(word_timestamps=True))
    segments = list(segments)
    text = " ".join(s.text.strip() for s in segments)
    assert wer(reference_text("jfk.wav"), text) <= 0.1, text
    assert info.language == "en"
    assert info.duration_ms == 11_000
    previous_end = 0
    for segment in segments:
        assert previous_end <= segment.start_ms < segment.end_ms <= 11_000
        assert segment.token_ids
        assert segment.words
        assert normalize("".join(w.text for w in segment.words)) == normalize(segment.text)
        for word in segment.words:
            assert segment.start_ms <= word.start_ms <= word.end_ms <= segment.end_ms
        previous_end = segment.end_ms


def test_openvino_file_without_vad_is_cut_into_windows_of_at_most_30_s(
    ov_tiny: OpenVinoEngine,
) -> None:
    clip = load_audio("ljspeech/LJ001-0001.flac")
    gap = np.zeros(8_000, dtype=np.float32)
    audio = np.concatenate([clip, gap, clip, gap, clip, gap, clip])
    assert audio.size > 16_000 * 30
    segments, info = ov_tiny.transcribe_file(audio, DecodeOptions(vad_filter=False))
    segments = list(segments)
    assert info.duration_after_vad_ms == info.duration_ms  # nothing was left out
    assert {s.window_offset_ms for s in segments} - {0}, "a second window at an offset"
    text = " ".join(s.text.strip() for s in segments)
    reference = " ".join([reference_text("ljspeech/LJ001-0001.flac")] * 4)
    assert wer(reference, text) <= 0.15, text


def test_openvino_batch_decodes_each_window_with_its_own_options(
    ov_tiny: OpenVinoEngine,
) -> None:
    jfk = load_audio("jfk.wav")
    lj = load_audio("ljspeech/LJ001-0001.flac")
    decoded = ov_tiny.decode_batch(
        [
            WindowInput(jfk, DecodeOptions(timestamps=False)),
            WindowInput(lj, DecodeOptions(word_timestamps=True, beam_size=1)),
        ]
    )
    assert len(decoded) == 2
    assert wer(reference_text("jfk.wav"), decoded[0].segments[0].text) <= 0.1
    assert all(not s.words for s in decoded[0].segments)
    lj_text = " ".join(s.text.strip() for s in decoded[1].segments)
    assert wer(reference_text("ljspeech/LJ001-0001.flac"), lj_text) <= 0.15
    assert all(s.words for s in decoded[1].segments)


def test_openvino_initial_prompt_steers_the_spelling(ov_tiny: OpenVinoEngine) -> None:
    jfk = load_audio("jfk.wav")
    (plain,) = ov_tiny.decode_batch([WindowInput(jfk, DecodeOptions())])
    (prompted,) = ov_tiny.decode_batch(
        [WindowInput(jfk, DecodeOptions(initial_prompt="FELLOW AMERICANS, ASK NOT"))]
    )
    plain_text = " ".join(s.text for s in plain.segments)
    prompted_text = " ".join(s.text for s in prompted.segments)
    assert "AMERICANS" not in plain_text
    assert "AMERICANS" in prompted_text.upper() and prompted_text != plain_text


def test_openvino_base_detects_german_and_translates_it(ov_base: OpenVinoEngine) -> None:
    audio = load_audio("multilingual/picovoice_de.flac")
    segments, info = ov_base.transcribe_file(audio, DecodeOptions())
    german = " ".join(s.text for s in segments)
    assert info.language == "de"
    assert wer(reference_text("multilingual/picovoice_de.flac"), german) <= 0.5, german
    (translated,) = ov_base.decode_batch([WindowInput(audio, DecodeOptions(task="translate"))])
    english = normalize(" ".join(s.text for s in translated.segments))
    assert translated.language == "de"
    assert {"portal", "used"} <= set(english.split()), english
    (forced,) = ov_base.decode_batch([WindowInput(audio, DecodeOptions(language="de"))])
    assert forced.language == "de"
    assert ov_base.info.is_multilingual and "de" in ov_base.info.languages


def test_openvino_refuses_a_ctranslate2_directory_and_names_the_fix() -> None:
    if not (TINY_EN / "model.bin").is_file():
        pytest.skip(f"real test model missing at {TINY_EN}: run `make test-models`")
    with pytest.raises(
        ModelLoadError, match=r"CTranslate2 .*WORKER_ENGINE__BACKEND=faster_whisper"
    ):
        check_model_directory(TINY_EN)


def test_openvino_refuses_an_incomplete_directory(tmp_path: Path) -> None:
    shutil.copy(OV_TINY_EN / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelLoadError, match=r"openvino_encoder_model\.xml"):
        check_model_directory(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        model_directory(EngineSettings(backend="openvino", model=str(tmp_path / "missing")))


def test_openvino_device_resolution() -> None:
    assert resolve_device("auto", ["CPU"]) == "CPU"
    assert resolve_device("auto", ["CPU", "GPU.0", "GPU.1"]) == "GPU"
    assert resolve_device("npu", ["CPU", "NPU"]) == "NPU"
    assert resolve_device("gpu", ["CPU", "GPU.0"]) == "GPU"
    assert resolve_device("gpu.1", ["CPU", "GPU.0", "GPU.1"]) == "GPU.1"
    with pytest.raises(ModelLoadError, match="'gpu' was requested but OpenVINO sees only CPU"):
        resolve_device("gpu", ["CPU"])


def test_interpolated_words_share_the_speech_by_characters() -> None:
    words = interpolate_words(" And so, my fellow Americans.", 1000, 3000)
    assert [w.text for w in words] == [" And", " so,", " my", " fellow", " Americans."]
    assert words[0].start_ms == 1000 and words[-1].end_ms == 3000
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(words))
    # "so," counts two letters, like "my" (to the rounding ms); "fellow" three times as long.
    lengths = [w.end_ms - w.start_ms for w in words]
    assert abs(lengths[1] - lengths[2]) <= 1
    assert abs(lengths[3] - 3 * lengths[2]) <= 3
    # With speech regions, the pause between them holds no word.
    paused = interpolate_words(" one two", 0, 4000, speech=((0.0, 1.0), (3.0, 4.0)))
    assert (paused[0].start_ms, paused[0].end_ms) == (0, 1000)
    assert (paused[1].start_ms, paused[1].end_ms) == (3000, 4000)
    assert interpolate_words("  ", 0, 100) == ()
