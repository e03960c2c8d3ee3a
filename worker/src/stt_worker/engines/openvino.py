"""The OpenVINO engine (Intel CPUs and GPUs); not implemented yet."""

from __future__ import annotations

from typing import NoReturn

from stt_worker.config import EngineSettings
from stt_worker.errors import EngineUnavailableError


def load(settings: EngineSettings) -> NoReturn:
    """Would load an OpenVINO Whisper model.

    Args:
        settings: The engine section of the worker settings.

    Raises:
        EngineUnavailableError: Always; the backend is not implemented yet.
    """
    del settings
    raise EngineUnavailableError(
        "the 'openvino' backend is not implemented yet; use WORKER_ENGINE__BACKEND=faster_whisper"
    )
