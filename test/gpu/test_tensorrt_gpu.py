"""The tensorrt backend on its real runtime: TensorRT-LLM engines built by
scripts/build_tensorrt_engines.py (STT_TEST_TRT_ENGINE_DIR), real speech, a file and a batch
of eight windows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MAX_WER, jfk, reference, timed, transcribe, wer

from stt_worker.config import EngineSettings
from stt_worker.engines import create_engine
from stt_worker.engines.base import Engine
from stt_worker.types import DecodeOptions, WindowInput


@pytest.fixture(scope="module")
def engine(trt_engine_dir: Path, report: Callable[[str, Any], None]) -> Iterator[Engine]:
    settings = EngineSettings(backend="tensorrt", model=str(trt_engine_dir))
    loaded, seconds = timed(lambda: create_engine(settings))
    report("tensorrt.load_s", round(seconds, 3))
    yield loaded
    loaded.close()


def test_tensorrt_transcribes_a_file(engine: Engine, report: Callable[[str, Any], None]) -> None:
    assert (engine.info.backend, engine.info.device) == ("tensorrt", "cuda")
    audio = jfk()
    options = DecodeOptions(word_timestamps=True)
    for attempt in ("cold", "warm"):
        decoded, info, seconds = transcribe(engine, audio, options)
        report(f"tensorrt.jfk_{attempt}_s", round(seconds, 3))
    text = "".join(s.text for s in decoded)
    report("tensorrt.jfk_text", text)
    assert wer(reference("jfk.wav"), text) <= MAX_WER, text
    assert info.language == "en"
    assert all(s.words for s in decoded)


def test_tensorrt_decodes_a_batch_of_eight(
    engine: Engine, report: Callable[[str, Any], None]
) -> None:
    audio = jfk()
    windows = [WindowInput(audio, DecodeOptions(language="en", word_timestamps=True))] * 8
    engine.decode_batch(windows[:1])
    decoded, seconds = timed(lambda: engine.decode_batch(windows))
    report("tensorrt.batch8_s", round(seconds, 3))
    _, single_s = timed(lambda: engine.decode_batch(windows[:1]))
    report("tensorrt.batch1_s", round(single_s, 3))
    assert len(decoded) == 8
    for window in decoded:
        text = "".join(s.text for s in window.segments)
        assert wer(reference("jfk.wav"), text) <= MAX_WER, text
        assert window.language == "en"
