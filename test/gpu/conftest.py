"""GPU-only tests: the CUDA faster-whisper engine and the TensorRT-LLM engine on real speech.

Run with `make test-gpu` (or scripts/device_gpu_check.sh on a bare GPU machine). Every test
here is marked `requires_gpu` and skips with its reason where its GPU, runtime or model is
missing, so the run says what was and was not exercised. `make test-worker` does not
collect this folder (it runs test/worker only).

Only the worker's engine modules are imported (no gRPC, no jiwer), so the tests run on a
machine that has numpy, the engines' runtimes and pytest. Timings go to the JSON file
named by STT_GPU_REPORT, when set, for the device check's summary.
"""

from __future__ import annotations

import json
import os
import re
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stt_worker.engines.base import Engine
from stt_worker.types import DecodeOptions, FileInfo, Segment, WindowInput

REPO = Path(__file__).resolve().parents[2]
AUDIO_DIR = Path(os.environ.get("STT_TEST_AUDIO_DIR", REPO.parent / "shared" / "audio"))
MODELS_DIR = Path(
    os.environ.get("STT_TEST_MODELS_DIR", Path.home() / ".cache" / "whisperlive-hybrid" / "models")
).expanduser()
TRT_ENGINE_DIR_ENV = "STT_TEST_TRT_ENGINE_DIR"
MAX_WER = 0.10


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.requires_gpu)


def jfk() -> np.ndarray:
    """../shared/audio/jfk.wav (16 kHz mono s16le) as float32 samples."""
    with wave.open(str(AUDIO_DIR / "jfk.wav"), "rb") as clip:
        assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (16000, 1, 2)
        frames = clip.readframes(clip.getnframes())
    return (np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0).copy()


def reference(relative_path: str) -> str:
    for line in (AUDIO_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["path"] == relative_path:
            return str(entry["text"])
    raise KeyError(relative_path)


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def wer(ref: str, hyp: str) -> float:
    """Word error rate: word-level edit distance over the reference's length."""
    a, b = words(ref), words(hyp)
    row = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, right in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (left != right))
    return row[-1] / max(1, len(a))


@pytest.fixture(scope="session")
def report() -> Iterator[Callable[[str, Any], None]]:
    """`report(key, value)` records a measurement for STT_GPU_REPORT."""
    values: dict[str, Any] = {}
    yield values.__setitem__
    target = os.environ.get("STT_GPU_REPORT")
    if target:
        Path(target).write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def transcribe(
    engine: Engine, audio: np.ndarray, options: DecodeOptions
) -> tuple[list[Segment], FileInfo, float]:
    """A whole-file decode: its segments, the file's info and the seconds it took."""
    started = time.perf_counter()
    segments, info = engine.transcribe_file(audio, options)
    decoded = list(segments)
    return decoded, info, time.perf_counter() - started


def cuda_devices() -> tuple[int, str]:
    """GPUs CTranslate2 sees, or 0 and why none."""
    try:
        import ctranslate2
    except Exception as exc:
        return 0, f"CTranslate2 cannot be imported: {exc}"
    try:
        count = int(ctranslate2.get_cuda_device_count())
    except Exception as exc:
        return 0, f"CTranslate2 cannot query CUDA: {exc}"
    return count, "" if count else "no CUDA device visible to CTranslate2"


@pytest.fixture(scope="session")
def tiny_en_dir() -> Path:
    count, why = cuda_devices()
    if not count:
        pytest.skip(why)
    path = MODELS_DIR / "tiny.en"
    if not (path / "model.bin").is_file():
        pytest.skip(f"tiny.en model missing at {path} (STT_TEST_MODELS_DIR; make test-models)")
    return path


@pytest.fixture(scope="session")
def trt_engine_dir() -> Path:
    configured = os.environ.get(TRT_ENGINE_DIR_ENV)
    if not configured:
        pytest.skip(
            f"{TRT_ENGINE_DIR_ENV} is not set (an engine directory built by "
            "scripts/build_tensorrt_engines.py)"
        )
    try:
        import tensorrt_llm  # noqa: F401
        import torch
    except Exception as exc:
        pytest.skip(f"TensorRT-LLM cannot be imported: {exc}")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible to torch")
    return Path(configured)


def check_file(
    engine: Engine, report: Callable[[str, Any], None], name: str, language: str | None
) -> None:
    """jfk.wav as a file with word times, cold and warm: text within MAX_WER, English (given
    or detected), words on every segment; timings reported under `name`."""
    audio = jfk()
    options = DecodeOptions(language=language, word_timestamps=True)
    for attempt in ("cold", "warm"):
        decoded, info, seconds = transcribe(engine, audio, options)
        report(f"{name}.jfk_{attempt}_s", round(seconds, 3))
    text = "".join(s.text for s in decoded)
    report(f"{name}.jfk_text", text)
    assert wer(reference("jfk.wav"), text) <= MAX_WER, text
    assert info.language == "en"
    assert all(s.words for s in decoded)


def check_batch_of_eight(engine: Engine, report: Callable[[str, Any], None], name: str) -> None:
    """Eight jfk.wav windows in one call (after one call that pays the batch path's set-up),
    and one alone: each window's text within MAX_WER, English, with words."""
    audio = jfk()
    windows = [WindowInput(audio, DecodeOptions(language="en", word_timestamps=True))] * 8
    engine.decode_batch(windows[:1])
    decoded, seconds = timed(lambda: engine.decode_batch(windows))
    report(f"{name}.batch8_s", round(seconds, 3))
    _, single_s = timed(lambda: engine.decode_batch(windows[:1]))
    report(f"{name}.batch1_s", round(single_s, 3))
    assert len(decoded) == 8
    for window in decoded:
        text = "".join(s.text for s in window.segments)
        assert wer(reference("jfk.wav"), text) <= MAX_WER, text
        assert window.language == "en"
        assert all(s.words for s in window.segments)
