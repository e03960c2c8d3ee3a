"""`python -m stt_worker`: settings, logging, the metrics exporter (when set), the server.

stdout carries exactly one line, written once the gRPC port is bound:
`{"event": "listening", "address": "127.0.0.1:PORT", "port": PORT}`. The gateway starts
the worker with `--port 0` and reads that line to learn the port. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import ValidationError

from stt_worker import __version__, metrics
from stt_worker.config import Backend, LogLevel, WorkerSettings, settings_help
from stt_worker.logs import configure_logging
from stt_worker.server import serve

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stt_worker",
        description=(
            "Speech-to-text worker: serves one Whisper model over gRPC "
            "(stt.v1.TranscriberService and grpc.health.v1.Health). Every flag overrides "
            "the matching WORKER_* environment variable."
        ),
        epilog="settings (environment variables):\n" + settings_help(),
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


def _announce(address: str, port: int) -> None:
    line = json.dumps({"event": "listening", "address": address, "port": port})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the worker.

    Args:
        argv: Command-line arguments (default: sys.argv[1:]).

    Returns:
        The exit code: 0 after a clean shutdown, 1 if start-up failed, 2 for bad settings.
    """
    args = _parser().parse_args(argv)
    try:
        settings = WorkerSettings(**_overrides(args))
    except ValidationError as exc:
        sys.stderr.write(f"invalid worker settings:\n{exc}\n")
        return 2
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
    finally:
        if exporter is not None:
            exporter.shutdown()


if __name__ == "__main__":
    sys.exit(main())
