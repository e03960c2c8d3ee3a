"""faster-whisper (CTranslate2) on a CUDA GPU in float16: the whole-file path and a batch
of eight windows, on real speech."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import check_batch_of_eight, check_file, timed

from stt_worker.config import EngineSettings
from stt_worker.engines.faster_whisper import FasterWhisperEngine


@pytest.fixture(scope="module")
def engine(tiny_en_dir: Path, report: Callable[[str, Any], None]) -> FasterWhisperEngine:
    settings = EngineSettings(model=str(tiny_en_dir), device="cuda", compute_type="float16")
    loaded, seconds = timed(lambda: FasterWhisperEngine.load(settings))
    report("faster_whisper.load_s", round(seconds, 3))
    return loaded


def test_cuda_float16_transcribes_a_file(
    engine: FasterWhisperEngine, report: Callable[[str, Any], None]
) -> None:
    assert (engine.info.device, engine.info.compute_type) == ("cuda", "float16")
    check_file(engine, report, "faster_whisper", "en")


def test_cuda_float16_decodes_a_batch_of_eight(
    engine: FasterWhisperEngine, report: Callable[[str, Any], None]
) -> None:
    check_batch_of_eight(engine, report, "faster_whisper")
