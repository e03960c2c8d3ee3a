"""The tensorrt backend on its real runtime: TensorRT-LLM engines built by
scripts/build_tensorrt_engines.py (STT_TEST_TRT_ENGINE_DIR), real speech, a file and a batch
of eight windows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import check_batch_of_eight, check_file, timed

from stt_worker.config import EngineSettings
from stt_worker.engines import create_engine
from stt_worker.engines.base import Engine


@pytest.fixture(scope="module")
def engine(trt_engine_dir: Path, report: Callable[[str, Any], None]) -> Iterator[Engine]:
    settings = EngineSettings(backend="tensorrt", model=str(trt_engine_dir))
    loaded, seconds = timed(lambda: create_engine(settings))
    report("tensorrt.load_s", round(seconds, 3))
    yield loaded
    loaded.close()


def test_tensorrt_transcribes_a_file(engine: Engine, report: Callable[[str, Any], None]) -> None:
    assert (engine.info.backend, engine.info.device) == ("tensorrt", "cuda")
    check_file(engine, report, "tensorrt", None)  # detected on a multilingual engine


def test_tensorrt_decodes_a_batch_of_eight(
    engine: Engine, report: Callable[[str, Any], None]
) -> None:
    check_batch_of_eight(engine, report, "tensorrt")
