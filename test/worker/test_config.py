"""Settings parsing: WORKER_* names, nested sections, legacy names, CLI overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stt_worker.config import WorkerSettings, resolve_cpu_threads, served_model_name

ENV_NAMES = (
    "WORKER_HOST",
    "WORKER_PORT",
    "WORKER_ENGINE__BACKEND",
    "WORKER_ENGINE__MODEL",
    "WORKER_ENGINE__CPU_THREADS",
    "WORKER_SCHEDULER__MAX_QUEUE",
    "WORKER_LIMITS__MAX_STREAMS",
    "FASTERWHISPER_MODEL",
    "OMP_NUM_THREADS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_config_defaults() -> None:
    settings = WorkerSettings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 50051
    assert settings.engine.backend == "faster_whisper"
    assert settings.engine.model == "base"
    assert settings.engine.device == "auto"
    assert settings.engine.compute_type == "auto"
    assert settings.engine.beam_size == 5
    assert settings.engine.cpu_threads == 0
    assert settings.shutdown_grace_s == 30.0
    assert settings.file.enable_vad is True
    assert settings.file.no_speech_threshold == 0.6
    assert settings.limits.max_live_cycle_s == 1.7  # admission by measured capacity
    assert settings.limits.unmeasured_live_streams is None  # 2 on a CPU
    assert settings.limits.max_audio_s == 4 * 3600.0
    assert settings.limits.max_file_audio_s == 8 * 3600.0


def test_config_reads_prefixed_and_nested_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_PORT", "6000")
    monkeypatch.setenv("WORKER_ENGINE__BACKEND", "fake")
    monkeypatch.setenv("WORKER_ENGINE__MODEL", "tiny.en")
    monkeypatch.setenv("WORKER_SCHEDULER__MAX_QUEUE", "7")
    monkeypatch.setenv("WORKER_LIMITS__MAX_STREAMS", "3")
    settings = WorkerSettings()
    assert settings.port == 6000
    assert settings.engine.backend == "fake"
    assert settings.engine.model == "tiny.en"
    assert settings.scheduler.max_queue == 7
    assert settings.limits.max_streams == 3


def test_config_legacy_names_are_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERWHISPER_MODEL", "/models/small")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    settings = WorkerSettings()
    assert settings.engine.model == "/models/small"
    assert settings.engine.cpu_threads == 3


def test_config_worker_names_win_over_legacy_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTERWHISPER_MODEL", "small")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("WORKER_ENGINE__MODEL", "tiny.en")
    monkeypatch.setenv("WORKER_ENGINE__CPU_THREADS", "1")
    settings = WorkerSettings()
    assert settings.engine.model == "tiny.en"
    assert settings.engine.cpu_threads == 1


def test_config_keyword_overrides_merge_with_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_ENGINE__BACKEND", "fake")
    monkeypatch.setenv("FASTERWHISPER_MODEL", "small")
    settings = WorkerSettings(port=0, engine={"model": "tiny.en"})
    assert settings.port == 0
    assert settings.engine.model == "tiny.en"
    assert settings.engine.backend == "fake"  # the env value survives the nested override


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKER_ENGINE__BACKEND", "onnx"),
        ("WORKER_PORT", "70000"),
        ("WORKER_ENGINE__CPU_THREADS", "-1"),
        ("OMP_NUM_THREADS", "many"),
        ("WORKER_SCHEDULER__MAX_QUEUE", "0"),
        ("WORKER_LIMITS__MAX_FILE_AUDIO_S", "60"),  # shorter than the longest file
    ],
)
def test_config_rejects_invalid_values(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        WorkerSettings()


def test_config_served_model_name_uses_directory_basename(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    assert served_model_name(str(model_dir)) == "my-model"
    assert served_model_name(f"{model_dir}/") == "my-model"
    assert served_model_name("tiny.en") == "tiny.en"


def test_config_resolve_cpu_threads() -> None:
    assert resolve_cpu_threads(3) == 3
    assert resolve_cpu_threads(0) >= 1
