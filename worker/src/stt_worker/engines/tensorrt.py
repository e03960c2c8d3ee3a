"""The TensorRT-LLM engine (NVIDIA GPUs); not implemented yet."""

from __future__ import annotations

from typing import NoReturn

from stt_worker.config import EngineSettings
from stt_worker.errors import EngineUnavailableError


def load(settings: EngineSettings) -> NoReturn:
    """Would load a TensorRT-LLM Whisper engine.

    Args:
        settings: The engine section of the worker settings.

    Raises:
        EngineUnavailableError: Always; the backend is not implemented yet.
    """
    del settings
    raise EngineUnavailableError(
        "the 'tensorrt' backend is not implemented yet; use WORKER_ENGINE__BACKEND=faster_whisper"
    )
