"""Log formatting: JSON lines for machines, readable lines for a terminal."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from stt_worker.logs import JsonFormatter, ReadableFormatter, configure_logging


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def make_record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "stt_worker.test", logging.WARNING, __file__, 1, "decoded %s windows", (3,), None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_logs_json_formatter_writes_keys_and_extras() -> None:
    line = JsonFormatter().format(make_record(request_id="r-1", audio_ms=1500))
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "stt_worker.test"
    assert entry["msg"] == "decoded 3 windows"
    assert entry["request_id"] == "r-1"
    assert entry["audio_ms"] == 1500
    assert entry["ts"].endswith("+00:00")
    assert "args" not in entry
    assert "levelno" not in entry


def test_logs_json_formatter_includes_the_traceback() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed", None, exc_info=sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: broken" in entry["exc"]


def test_logs_readable_formatter_is_one_line_with_extras() -> None:
    line = ReadableFormatter().format(make_record(request_id="r-1"))
    assert "warning" in line
    assert "decoded 3 windows" in line
    assert "request_id=r-1" in line
    assert "\n" not in line


@pytest.mark.usefixtures("restore_root_logger")
def test_logs_configure_uses_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("info", stream)
    logging.getLogger("stt_worker.test").info("hello", extra={"model": "tiny.en"})
    logging.getLogger("stt_worker.test").debug("hidden")
    logging.getLogger("faster_whisper").info("chatty library line")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["model"] == "tiny.en"
