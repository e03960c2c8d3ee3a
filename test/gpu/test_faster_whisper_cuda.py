"""faster-whisper (CTranslate2) on a CUDA GPU in float16: the whole-file path and a batch
of eight windows, on real speech."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MAX_WER, jfk, reference, timed, transcribe, wer

from stt_worker.config import EngineSettings
from stt_worker.engines.faster_whisper import FasterWhisperEngine
from stt_worker.types import DecodeOptions, WindowInput


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
    audio = jfk()
    options = DecodeOptions(language="en", word_timestamps=True)
    for attempt in ("cold", "warm"):
        decoded, info, seconds = transcribe(engine, audio, options)
        report(f"faster_whisper.jfk_{attempt}_s", round(seconds, 3))
    text = "".join(s.text for s in decoded)
    report("faster_whisper.jfk_text", text)
    assert wer(reference("jfk.wav"), text) <= MAX_WER, text
    assert info.language == "en"
    assert all(s.words for s in decoded)


def test_cuda_float16_decodes_a_batch_of_eight(
    engine: FasterWhisperEngine, report: Callable[[str, Any], None]
) -> None:
    audio = jfk()
    windows = [WindowInput(audio, DecodeOptions(language="en", word_timestamps=True))] * 8
    engine.decode_batch(windows[:1])  # the batch path's first call pays CUDA set-up
    decoded, seconds = timed(lambda: engine.decode_batch(windows))
    report("faster_whisper.batch8_s", round(seconds, 3))
    _, single_s = timed(lambda: engine.decode_batch(windows[:1]))
    report("faster_whisper.batch1_s", round(single_s, 3))
    assert len(decoded) == 8
    for window in decoded:
        text = "".join(s.text for s in window.segments)
        assert wer(reference("jfk.wav"), text) <= MAX_WER, text
        assert window.language == "en"
        assert all(s.words for s in window.segments)
