"""Logging setup: JSON lines on stderr for machines, readable lines for people.

Configured once by `__main__`; every module logs through `logging.getLogger(__name__)`
and passes context (request_id, model, audio_ms, latency_ms, grpc_code, ...) as `extra`.
"""

from __future__ import annotations

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
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    chatty_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty_level)
