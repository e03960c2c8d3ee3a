"""Engine registry: `create_engine(settings)` imports only the selected backend.

A CPU image never imports TensorRT; the test suite never imports CTranslate2 unless it
asks for the real engine.
"""

from __future__ import annotations

from stt_worker.config import EngineSettings, served_model_name
from stt_worker.engines.base import Engine
from stt_worker.errors import EngineUnavailableError

__all__ = ["Engine", "create_engine"]


def create_engine(settings: EngineSettings) -> Engine:
    """Loads the configured backend and model (slow: call it off the event loop).

    Args:
        settings: The engine section of the worker settings.

    Returns:
        A ready engine.

    Raises:
        EngineUnavailableError: The backend is not available in this build.
        ModelLoadError: The model could not be loaded.
    """
    backend = settings.backend
    if backend == "faster_whisper":
        from stt_worker.engines.faster_whisper import FasterWhisperEngine

        return FasterWhisperEngine.load(settings)
    if backend == "fake":
        from stt_worker.engines.fake import FakeEngine

        return FakeEngine(model_name=served_model_name(settings.model))
    if backend == "openvino":
        from stt_worker.engines.openvino import OpenVinoEngine

        return OpenVinoEngine.load(settings)
    if backend == "tensorrt":
        from stt_worker.engines import tensorrt

        return tensorrt.load(settings)
    raise EngineUnavailableError(f"unknown engine backend {backend!r}")
