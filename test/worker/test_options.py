"""Config validation: format, model names, temperature schedule, language, task."""

from __future__ import annotations

import pytest

from stt_worker.errors import InvalidConfigError
from stt_worker.options import (
    FileDefaults,
    check_audio_format,
    check_model,
    file_decode_options,
    resolve_language,
    temperature_schedule,
)
from stt_worker.types import (
    DEFAULT_TEMPERATURES,
    EngineInfo,
    StreamConfig,
    VadOverrides,
    VadParameters,
)

MULTILINGUAL = EngineInfo(
    model_name="base",
    backend="fake",
    device="cpu",
    compute_type="int8",
    cpu_threads=1,
    is_multilingual=True,
    languages=("en", "de", "fr", "yue"),
)
ENGLISH_ONLY = EngineInfo(
    model_name="tiny.en",
    backend="fake",
    device="cpu",
    compute_type="int8",
    cpu_threads=1,
    is_multilingual=False,
    languages=("en",),
)


def config(**fields: object) -> StreamConfig:
    values: dict[str, object] = {"encoding": "linear16", "sample_rate_hertz": 16_000}
    values.update(fields)
    return StreamConfig(**values)  # type: ignore[arg-type]


def test_temperature_schedule_zero_is_whispers_default() -> None:
    assert temperature_schedule(0.0) == DEFAULT_TEMPERATURES


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (0.5, (0.5, 0.7, 0.9)),
        (0.4, (0.4, 0.6, 0.8, 1.0)),
        (0.2, (0.2, 0.4, 0.6, 0.8, 1.0)),
        (1.0, (1.0,)),
        (0.95, (0.95,)),
    ],
)
def test_temperature_schedule_steps_up_to_one(
    temperature: float, expected: tuple[float, ...]
) -> None:
    assert temperature_schedule(temperature) == pytest.approx(expected)


@pytest.mark.parametrize("temperature", [-0.1, 1.01, float("nan"), float("inf")])
def test_temperature_schedule_rejects_out_of_range(temperature: float) -> None:
    with pytest.raises(InvalidConfigError, match="temperature"):
        temperature_schedule(temperature)


@pytest.mark.parametrize(
    "name",
    ["", "whisper-1", "tiny", "base.en", "large-v3", "turbo", "distil-large-v3", "my-model"],
)
def test_model_check_accepts_served_and_standard_names(name: str) -> None:
    check_model(name, served="my-model")


@pytest.mark.parametrize("name", ["gpt-4o-transcribe", "whisper-2", "my-model-2"])
def test_model_check_rejects_other_names_naming_the_served_model(name: str) -> None:
    with pytest.raises(InvalidConfigError, match="'my-model'"):
        check_model(name, served="my-model")


def test_format_check_rejects_unspecified_encoding_and_bad_rate() -> None:
    check_audio_format(config())
    with pytest.raises(InvalidConfigError, match="encoding"):
        check_audio_format(config(encoding=None))
    with pytest.raises(InvalidConfigError, match="16000"):
        check_audio_format(config(sample_rate_hertz=8000))


def test_language_is_normalised_and_checked() -> None:
    assert resolve_language(None, MULTILINGUAL) is None
    assert resolve_language("", MULTILINGUAL) is None
    assert resolve_language("DE", MULTILINGUAL) == "de"
    assert resolve_language("fr-CA", MULTILINGUAL) == "fr"
    assert resolve_language("yue", MULTILINGUAL) == "yue"
    with pytest.raises(InvalidConfigError, match="unknown language"):
        resolve_language("xx", MULTILINGUAL)


def test_language_other_than_english_is_rejected_on_english_only_model() -> None:
    assert resolve_language("en-US", ENGLISH_ONLY) == "en"
    with pytest.raises(InvalidConfigError, match="English-only"):
        resolve_language("de", ENGLISH_ONLY)


def test_translate_is_rejected_on_english_only_model() -> None:
    with pytest.raises(InvalidConfigError, match="cannot translate"):
        file_decode_options(config(task="translate"), ENGLISH_ONLY, FileDefaults())
    options = file_decode_options(config(task="translate"), MULTILINGUAL, FileDefaults())
    assert options.task == "translate"


def test_file_options_apply_defaults_and_overrides() -> None:
    defaults = FileDefaults(enable_vad=True, no_speech_threshold=0.6, vad=VadParameters())
    options = file_decode_options(config(), MULTILINGUAL, defaults)
    assert options.vad_filter is True
    assert options.no_speech_threshold == 0.6
    assert options.vad == VadParameters()
    assert options.language is None
    assert options.initial_prompt is None

    options = file_decode_options(
        config(
            enable_vad=False,
            no_speech_threshold=0.3,
            temperature=0.6,
            initial_prompt="Glossary: gRPC.",
            word_timestamps=True,
            vad=VadOverrides(threshold=0.3, min_silence_ms=500, max_speech_ms=0),
        ),
        MULTILINGUAL,
        defaults,
    )
    assert options.vad_filter is False
    assert options.no_speech_threshold == 0.3
    assert options.temperatures == pytest.approx((0.6, 0.8, 1.0))
    assert options.initial_prompt == "Glossary: gRPC."
    assert options.word_timestamps is True
    assert options.vad.threshold == 0.3
    assert options.vad.min_silence_ms == 500
    assert options.vad.max_speech_ms is None  # 0 means unset


@pytest.mark.parametrize(
    "fields",
    [
        {"no_speech_threshold": 1.5},
        {"vad": VadOverrides(threshold=1.0)},
        {"temperature": 2.0},
        {"initial_prompt": "x" * 4097},
        {"hotwords": "x" * 4097},
    ],
)
def test_file_options_reject_out_of_range_values(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidConfigError):
        file_decode_options(config(**fields), MULTILINGUAL, FileDefaults())


def test_prompts_up_to_their_caps_are_taken_and_longer_ones_are_named() -> None:
    options = file_decode_options(
        config(initial_prompt="p" * 4096, hotwords="h" * 4096), MULTILINGUAL, FileDefaults()
    )
    assert options.initial_prompt is not None and len(options.initial_prompt) == 4096
    with pytest.raises(InvalidConfigError, match="initial_prompt is 5000 characters"):
        file_decode_options(config(initial_prompt="p" * 5000), MULTILINGUAL, FileDefaults())
