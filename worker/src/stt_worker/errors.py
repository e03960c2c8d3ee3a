"""Domain exceptions of the worker.

Policy and compute code raise these; `servicer` is the only module that turns them into
gRPC status codes (see the table in `proto/stt/v1/transcriber.proto`).
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of every error the worker raises on purpose."""


class InvalidRequestError(WorkerError):
    """The client sent something the worker cannot serve (INVALID_ARGUMENT)."""


class InvalidConfigError(InvalidRequestError):
    """The stream's configuration is invalid: format, model, language, task, options."""


class InvalidAudioError(InvalidRequestError):
    """The stream's audio is invalid: a partial sample, no audio, too much audio."""


class CapacityError(WorkerError):
    """The worker is full: too many streams or a full scheduler queue (RESOURCE_EXHAUSTED).

    Args:
        message: What is full.
        retry_after_ms: A hint for when to try again, in ms.
    """

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class UnavailableError(WorkerError):
    """The worker cannot take work now: model not loaded or draining (UNAVAILABLE)."""


class EngineError(WorkerError):
    """The engine failed while decoding (INTERNAL; the details stay in the log)."""


class ConfigurationError(WorkerError):
    """The worker cannot start as configured, and starting it again would not help.

    Its message names what is missing or wrong and how to fix it. The process exits with
    EX_CONFIG (78), which the gateway's supervisor does not restart. Faults that may pass
    (out of memory, a failed warm-up, a busy port) are not configuration errors.
    """


class EngineUnavailableError(ConfigurationError):
    """The configured engine backend cannot run here: its runtime is not installed, or it
    is not implemented in this build."""


class ModelLoadError(ConfigurationError):
    """The model cannot be loaded as configured: a missing or wrong directory, a name that
    cannot be downloaded, a device that is not there, files the runtime refuses."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether a load failed for want of memory (CUDA, CTranslate2 and OpenVINO's
    `std::bad_alloc` say so in their messages): that may pass, so it is not a
    configuration error.

    Args:
        error: What the runtime raised.

    Returns:
        True for a memory shortage.
    """
    text = str(error).lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "bad_alloc" in text


class UnimplementedError(WorkerError):
    """The request asks for something this worker does not do yet (UNIMPLEMENTED)."""
