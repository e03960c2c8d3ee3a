"""Validation of a stream's config and the decoding options derived from it.

Pure functions over domain types: they raise `InvalidConfigError` with a message meant
for the client, and never touch gRPC or the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from stt_worker.errors import InvalidConfigError
from stt_worker.types import (
    DEFAULT_TEMPERATURES,
    SAMPLE_RATE_HERTZ,
    DecodeOptions,
    EngineInfo,
    StreamConfig,
    VadParameters,
)

# Longest `initial_prompt` and `hotwords`, in characters. Whisper reads at most 223 tokens
# of each (the prompt's last, the hotwords' first; a token is about 4 characters of
# English), so more only costs tokenizing; the caps leave room for any real prompt and
# match the gateway's caps, so its clients hear of a long prompt from the gateway first.
MAX_PROMPT_CHARS = 4096
MAX_HOTWORDS_CHARS = 4096

# Names a client may ask for that the worker's one model serves, whatever it is: OpenAI's
# API name and the standard Whisper sizes (`distil-*` is matched by prefix).
STANDARD_MODEL_NAMES = frozenset(
    {
        "whisper-1",
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "medium.en",
        "large",
        "large-v1",
        "large-v2",
        "large-v3",
        "large-v3-turbo",
        "turbo",
    }
)
_DISTIL_PREFIX = "distil-"

_TEMPERATURE_STEP = 0.2


@dataclass(frozen=True, slots=True)
class FileDefaults:
    """The worker's defaults for what a file stream's config leaves unset."""

    enable_vad: bool = True
    no_speech_threshold: float = 0.6
    vad: VadParameters = field(default_factory=VadParameters)


def check_audio_format(config: StreamConfig) -> None:
    """Checks the encoding and sample rate.

    Args:
        config: The stream's config.

    Raises:
        InvalidConfigError: The encoding is unset or the rate is not 16000 Hz.
    """
    if config.encoding is None:
        raise InvalidConfigError(
            "encoding must be AUDIO_ENCODING_LINEAR16 or AUDIO_ENCODING_FLOAT32"
        )
    if config.sample_rate_hertz != SAMPLE_RATE_HERTZ:
        raise InvalidConfigError(
            f"sample_rate_hertz must be {SAMPLE_RATE_HERTZ}, got {config.sample_rate_hertz}"
        )


def check_model(requested: str, served: str) -> None:
    """Checks that the requested model is one the loaded model serves.

    Empty, "whisper-1", any standard Whisper size name and the served name itself are
    all served by the one loaded model.

    Args:
        requested: The model the client asked for.
        served: The name the loaded model is served under.

    Raises:
        InvalidConfigError: Any other name.
    """
    name = requested.strip()
    if (
        not name
        or name == served
        or name.lower() in STANDARD_MODEL_NAMES
        or name.lower().startswith(_DISTIL_PREFIX)
    ):
        return
    raise InvalidConfigError(
        f"model {requested!r} is not served here; this worker serves {served!r}"
    )


def temperature_schedule(temperature: float) -> tuple[float, ...]:
    """The fallback schedule for a requested temperature.

    Decoding starts at `temperature` and steps up by 0.2 to at most 1.0 when a result
    fails the quality checks; 0 gives Whisper's usual (0.0, 0.2, ..., 1.0).

    Args:
        temperature: The client's temperature, in [0, 1].

    Returns:
        The temperatures to try, in order.

    Raises:
        InvalidConfigError: The temperature is outside [0, 1].
    """
    if not math.isfinite(temperature) or not 0.0 <= temperature <= 1.0:
        raise InvalidConfigError(f"temperature must be in [0, 1], got {temperature}")
    if temperature == 0.0:
        return DEFAULT_TEMPERATURES
    steps = int((1.0 - temperature) / _TEMPERATURE_STEP + 1e-6)
    return tuple(round(temperature + i * _TEMPERATURE_STEP, 6) for i in range(steps + 1))


def resolve_language(code: str | None, info: EngineInfo) -> str | None:
    """Normalises and checks a language code against the loaded model.

    Args:
        code: The client's code ("en", "EN", "en-US"), or None/empty to detect.
        info: The loaded model.

    Returns:
        A code the model knows, or None to detect.

    Raises:
        InvalidConfigError: The code is unknown, or the model is English-only and the code
            is not English.
    """
    if code is None or not code.strip():
        return None
    normalised = code.strip().lower().replace("_", "-")
    candidates = [normalised]
    if "-" in normalised:
        candidates.append(normalised.split("-", 1)[0])
    if not info.is_multilingual:
        if any(c == "en" for c in candidates):
            return "en"
        raise InvalidConfigError(
            f"model {info.model_name!r} is English-only; language {code!r} is not supported"
        )
    for candidate in candidates:
        if candidate in info.languages:
            return candidate
    raise InvalidConfigError(f"unknown language code {code!r}")


def check_task_and_no_speech(
    config: StreamConfig, info: EngineInfo, default_no_speech: float
) -> float:
    """Checks what file and live streams share: the task fits the model, the prompt and
    hotwords are within their caps, and the no-speech threshold (the client's, else the
    default) is in [0, 1].

    Returns:
        The no-speech threshold to use.

    Raises:
        InvalidConfigError: Translation on an English-only model, a prompt or hotwords
            too long, or a bad threshold.
    """
    for name, text, limit in (
        ("initial_prompt", config.initial_prompt, MAX_PROMPT_CHARS),
        ("hotwords", config.hotwords, MAX_HOTWORDS_CHARS),
    ):
        if text is not None and len(text) > limit:
            raise InvalidConfigError(
                f"{name} is {len(text)} characters long; at most {limit} are allowed "
                "(Whisper reads at most 223 tokens of it)"
            )
    if config.task == "translate" and not info.is_multilingual:
        raise InvalidConfigError(
            f"model {info.model_name!r} is English-only and cannot translate; "
            "use a multilingual model"
        )
    no_speech = (
        default_no_speech if config.no_speech_threshold is None else config.no_speech_threshold
    )
    if not math.isfinite(no_speech) or not 0.0 <= no_speech <= 1.0:
        raise InvalidConfigError(f"no_speech_threshold must be in [0, 1], got {no_speech}")
    return no_speech


def file_decode_options(
    config: StreamConfig, info: EngineInfo, defaults: FileDefaults
) -> DecodeOptions:
    """The decoding options of a file stream: the client's choices over the defaults.

    Args:
        config: The stream's config.
        info: The loaded model.
        defaults: The worker's file defaults.

    Returns:
        Options for `Engine.transcribe_file`.

    Raises:
        InvalidConfigError: A value is out of range or the model cannot do what is asked.
    """
    no_speech = check_task_and_no_speech(config, info, defaults.no_speech_threshold)
    vad_filter = defaults.enable_vad if config.enable_vad is None else config.enable_vad
    return DecodeOptions(
        language=resolve_language(config.language, info),
        task=config.task,
        initial_prompt=config.initial_prompt or None,
        hotwords=config.hotwords or None,
        temperatures=temperature_schedule(config.temperature),
        word_timestamps=config.word_timestamps,
        vad_filter=vad_filter,
        vad=_vad_parameters(config, defaults.vad),
        no_speech_threshold=no_speech,
        coarse_segments=config.coarse_segments,
    )


def _vad_parameters(config: StreamConfig, base: VadParameters) -> VadParameters:
    vad = config.vad
    threshold = base.threshold if vad.threshold is None else vad.threshold
    if not math.isfinite(threshold) or not 0.0 < threshold < 1.0:
        raise InvalidConfigError(f"vad.threshold must be in (0, 1), got {threshold}")
    max_speech_ms = base.max_speech_ms
    if vad.max_speech_ms:  # 0 means unset, as the proto says
        max_speech_ms = vad.max_speech_ms
    return VadParameters(
        threshold=threshold,
        min_speech_ms=base.min_speech_ms if vad.min_speech_ms is None else vad.min_speech_ms,
        min_silence_ms=base.min_silence_ms if vad.min_silence_ms is None else vad.min_silence_ms,
        speech_pad_ms=base.speech_pad_ms if vad.speech_pad_ms is None else vad.speech_pad_ms,
        max_speech_ms=max_speech_ms,
    )
