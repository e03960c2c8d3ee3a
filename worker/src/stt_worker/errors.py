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


class EngineUnavailableError(EngineError):
    """The configured engine backend cannot be created on this machine or build."""


class ModelLoadError(EngineError):
    """The model could not be loaded (missing directory, bad files, unknown name)."""


class UnimplementedError(WorkerError):
    """The request asks for something this worker does not do yet (UNIMPLEMENTED)."""
