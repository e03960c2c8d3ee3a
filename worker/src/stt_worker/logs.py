"""Logging setup: JSON lines on stderr for machines, readable lines for people.

Configured once by `__main__`; every module logs through `logging.getLogger(__name__)`
and passes context (model, audio_ms, latency_ms, grpc_code, ...) as `extra`. The request
id of the stream being served (`bind_request_id`) is added to every record logged in its
task, and in the tasks that task starts, so every line about a stream carries it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came in through `extra`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)

# Third-party loggers that narrate every call at INFO.
_CHATTY_LOGGERS = ("faster_whisper", "httpx", "huggingface_hub")


_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def bind_request_id(request_id: str) -> None:
    """Tags every record logged from now on in the current task (and the tasks it starts)
    with `request_id`; an empty id tags nothing.

    It is set, never reset: grpc.aio serves each call in a task of its own, whose context
    ends with the call.

    Args:
        request_id: The gateway's `x-request-id` of the call.
    """
    _REQUEST_ID.set(request_id)


class RequestIdFilter(logging.Filter):
    """Adds the bound request id to records that do not carry one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Tags `record`; never drops it.

        Args:
            record: The record being handled.

        Returns:
            True.
        """
        request_id = _REQUEST_ID.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Renders a record as a JSON line.

        Args:
            record: The record to render.

        Returns:
            The JSON text, without a trailing newline.
        """
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ReadableFormatter(logging.Formatter):
    """`HH:MM:SS.mmm level logger: msg key=value ...` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """Renders a record as one readable line (plus a traceback if any).

        Args:
            record: The record to render.

        Returns:
            The text to print.
        """
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{when} {record.levelname.lower():<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Sends every log record to `stream` (stderr), as JSON unless it is a terminal.

    Args:
        level: Lowest level to log ("debug", "info", ...).
        stream: Where to write; stderr by default. stdout is reserved for the one
            `listening` line the gateway reads.
    """
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    is_tty = hasattr(out, "isatty") and out.isatty()
    handler.setFormatter(ReadableFormatter() if is_tty else JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    chatty_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)
