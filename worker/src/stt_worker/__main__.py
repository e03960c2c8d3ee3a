"""`python -m stt_worker`: settings, logging, the metrics exporter (when set), the server.

stdout is the gateway's channel, one JSON line per event:
`{"event": "listening", "address": "127.0.0.1:PORT", "port": PORT}` once the gRPC port
is bound (the gateway starts the worker with `--port 0` and reads the port from it), and
`{"event": "fatal", "reason": "configuration", "message": "..."}` right before the worker
exits with EX_CONFIG because it cannot run as configured. Logs go to stderr.

Exit codes: 0 after a clean shutdown; 1 when start-up failed in a way that may pass (a
busy port, out of memory, a failed warm-up; the gateway restarts the worker); 2 for a
command-line usage error (argparse's own); 78 (EX_CONFIG) for a configuration error:
invalid settings, a missing runtime, a model that cannot be found, downloaded or loaded,
a device that is not there. Restarting does not fix those, so the gateway does not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from stt_worker import __version__, metrics
from stt_worker.config import (
    LEGACY_MODEL_ENV,
    LEGACY_THREADS_ENV,
    Backend,
    LogLevel,
    WorkerSettings,
    settings_help,
)
from stt_worker.errors import ConfigurationError
from stt_worker.logs import configure_logging
from stt_worker.server import serve

# Named, not __name__: run with -m, this module is "__main__", a name that says nothing.
logger = logging.getLogger("stt_worker.main")

EX_CONFIG = 78
"""Exit code of a configuration error (sysexits.h); the gateway does not restart it."""

_EXIT_CODES = """exit codes:
  0   stopped cleanly (SIGTERM or SIGINT)
  1   start-up failed in a way that may pass (port taken, out of memory, warm-up failed):
      a supervisor should restart the worker
  2   command-line usage error
  78  configuration error (EX_CONFIG): invalid settings, a missing runtime, a model that
      cannot be found, downloaded or loaded, a device that is not there; one error line
      on stderr says what to change, and stdout gets
      {"event": "fatal", "reason": "configuration", "message": ...}; do not restart

"""

# Settings that the legacy names also set (see config.py), named in error messages.
_LEGACY_NAMES = {
    ("engine", "model"): LEGACY_MODEL_ENV,
    ("engine", "cpu_threads"): LEGACY_THREADS_ENV,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stt_worker",
        description=(
            "Speech-to-text worker: serves one Whisper model over gRPC "
            "(stt.v1.TranscriberService and grpc.health.v1.Health). Every flag overrides "
            "the matching WORKER_* environment variable."
        ),
        epilog=_EXIT_CODES + "settings (environment variables):\n" + settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="interface to bind (WORKER_HOST, default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="TCP port, 0 = any free port (WORKER_PORT, default 50051)"
    )
    parser.add_argument(
        "--model",
        help=(
            "Whisper size name or model directory (WORKER_ENGINE__MODEL, else "
            "FASTERWHISPER_MODEL, default base)"
        ),
    )
    parser.add_argument(
        "--backend",
        choices=get_args(Backend),
        help="engine backend (WORKER_ENGINE__BACKEND, default faster_whisper)",
    )
    parser.add_argument(
        "--device",
        help=(
            "WORKER_ENGINE__DEVICE (default auto): auto, cpu or cuda for faster_whisper; "
            "auto, cpu, gpu[.N] or npu for openvino; auto or cuda for tensorrt"
        ),
    )
    parser.add_argument("--compute-type", help="WORKER_ENGINE__COMPUTE_TYPE (default auto)")
    parser.add_argument(
        "--cpu-threads",
        type=int,
        help="WORKER_ENGINE__CPU_THREADS, else OMP_NUM_THREADS (default 0 = all cores)",
    )
    parser.add_argument(
        "--log-level", choices=get_args(LogLevel), help="WORKER_LOG_LEVEL (default info)"
    )
    parser.add_argument("--version", action="version", version=f"stt-worker {__version__}")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    top: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    for name in ("host", "port", "log_level"):
        if getattr(args, name) is not None:
            top[name] = getattr(args, name)
    for name in ("model", "backend", "device", "compute_type", "cpu_threads"):
        if getattr(args, name) is not None:
            engine[name] = getattr(args, name)
    if engine:
        top["engine"] = engine
    return top


def _write_event(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _announce(address: str, port: int) -> None:
    _write_event({"event": "listening", "address": address, "port": port})


def _setting_name(location: tuple[int | str, ...]) -> str:
    """The environment variable of a setting, from a validation error's location."""
    if not location:
        return "worker settings"
    path = tuple(str(part) for part in location)
    if len(path) == 1 and path[0] in WorkerSettings.model_fields:
        field = WorkerSettings.model_fields[path[0]]
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            return f"{path[0]} settings"  # a check across the section's fields
    name = "WORKER_" + "__".join(part.upper() for part in path)
    legacy = _LEGACY_NAMES.get((path[0], path[1]) if len(path) == 2 else ("", ""))
    return name if legacy is None else f"{name} (or {legacy})"


def describe_validation_error(error: ValidationError) -> str:
    """One line that names each invalid setting and what is wrong with it.

    Args:
        error: What pydantic found.

    Returns:
        `invalid worker settings: WORKER_X: why (got 'value'); ...`.
    """
    problems = []
    for item in error.errors(include_url=False):
        why = str(item["msg"]).removeprefix("Value error, ")
        got = item.get("input")
        # Checks across a section get the whole section as input; a field gets its value.
        shown = "" if isinstance(got, dict) or item["type"] == "missing" else f" (got {got!r})"
        problems.append(f"{_setting_name(item['loc'])}: {why}{shown}")
    return "invalid worker settings: " + "; ".join(problems)


def _exit_for_configuration(message: str) -> int:
    """Reports a configuration error: one error line on stderr, the `fatal` event on
    stdout for the gateway, and the exit code that tells it not to restart."""
    logger.error("configuration error: %s", message)
    _write_event({"event": "fatal", "reason": "configuration", "message": message})
    return EX_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the worker.

    Args:
        argv: Command-line arguments (default: sys.argv[1:]).

    Returns:
        The exit code: 0 after a clean shutdown, 1 if start-up failed in a way that may
        pass, 78 (EX_CONFIG) for a configuration error (see the module's docstring).
    """
    args = _parser().parse_args(argv)
    try:
        settings = WorkerSettings(**_overrides(args))
    except ValidationError as exc:
        configure_logging(args.log_level or "info")
        return _exit_for_configuration(describe_validation_error(exc))
    configure_logging(settings.log_level)
    if settings.metrics_port:
        try:
            exporter = metrics.start_exporter(settings.host, settings.metrics_port)
        except OSError as exc:
            logger.error("%s", exc.strerror)
            return 1
        logger.info(
            "serving metrics", extra={"address": f"{settings.host}:{settings.metrics_port}"}
        )
    else:
        exporter = None
    try:
        return asyncio.run(serve(settings, announce=_announce))
    except ConfigurationError as exc:
        return _exit_for_configuration(str(exc))
    finally:
        if exporter is not None:
            exporter.shutdown()


if __name__ == "__main__":
    sys.exit(main())
