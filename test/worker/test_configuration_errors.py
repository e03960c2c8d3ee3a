"""Configuration errors end the worker once: exit 78, one error line, one `fatal` event.

Each case runs the real `python -m stt_worker` and needs no model load: the settings, the
model path or the device are refused before any weights are read (the offline download
fails at once with HF_HUB_OFFLINE=1 and an empty cache). Faults that may pass (a failed
warm-up, a busy port) keep exit code 1, so the gateway restarts those.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stt_worker.__main__ import EX_CONFIG, describe_validation_error
from stt_worker.config import EngineSettings, WorkerSettings
from stt_worker.engines.base import Engine
from stt_worker.engines.fake import FakeEngine
from stt_worker.errors import (
    ConfigurationError,
    EngineError,
    EngineUnavailableError,
    ModelLoadError,
)
from stt_worker.server import serve
from worker_testing import REPO, TINY_EN, make_settings, worker_env

pytestmark = pytest.mark.slow

OPENVINO_TINY_EN = REPO.parent / "shared" / "models" / "openvino-tiny.en"
MODEL_SETTING = "FASTERWHISPER_MODEL (or WORKER_ENGINE__MODEL)"


@dataclass
class Outcome:
    """How a worker process ended."""

    code: int
    events: list[dict[str, Any]]
    errors: list[str]
    """The `msg` of every error-level log line on stderr."""


def run_worker(*args: str, **env: str) -> Outcome:
    result = subprocess.run(
        [sys.executable, "-m", "stt_worker", "--port", "0", *args],
        capture_output=True,
        text=True,
        env=worker_env(**env),
        timeout=60,
        check=False,
    )
    # Native libraries may write plain lines too (gRPC notes a fork when OpenVINO probes
    # the CPU); the worker's own lines are JSON.
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    return Outcome(
        code=result.returncode,
        events=[json.loads(line) for line in result.stdout.splitlines()],
        errors=[entry["msg"] for entry in logs if entry["level"] == "error"],
    )


def assert_configuration_error(outcome: Outcome, *, announced: bool) -> str:
    """Checks the one exit, the one error line and the `fatal` event; returns the message.

    Args:
        outcome: The finished worker.
        announced: Whether the port was bound (and announced) before the error: errors
            of the model load come after it, invalid settings before.
    """
    assert outcome.code == EX_CONFIG == 78
    fatal = outcome.events[-1]
    assert set(fatal) == {"event", "reason", "message"}
    assert fatal["event"] == "fatal"
    assert fatal["reason"] == "configuration"
    message = str(fatal["message"])
    assert "\n" not in message
    assert outcome.errors == [f"configuration error: {message}"]
    assert [e["event"] for e in outcome.events] == (
        ["listening", "fatal"] if announced else ["fatal"]
    )
    return message


def test_a_device_the_backend_does_not_run_on() -> None:
    message = assert_configuration_error(
        run_worker("--backend", "openvino", "--device", "cuda"), announced=False
    )
    assert message == (
        "invalid worker settings: engine settings: device 'cuda' is not one the openvino "
        "backend runs on (one of: auto, cpu, gpu, npu)"
    )


def test_invalid_settings_name_each_variable_with_its_value() -> None:
    message = assert_configuration_error(
        run_worker(WORKER_ENGINE__BACKEND="onnx", OMP_NUM_THREADS="many"), announced=False
    )
    assert message == (
        "invalid worker settings: WORKER_ENGINE__BACKEND: Input should be 'faster_whisper', "
        "'openvino', 'tensorrt' or 'fake' (got 'onnx'); WORKER_ENGINE__CPU_THREADS (or "
        "OMP_NUM_THREADS): Input should be a valid integer, unable to parse string as an "
        "integer (got 'many')"
    )


def test_a_command_line_usage_error_keeps_exit_code_two() -> None:
    outcome = run_worker_raw("--backend", "onnx")
    assert outcome.returncode == 2
    assert outcome.stdout == ""
    assert "invalid choice: 'onnx'" in outcome.stderr


def run_worker_raw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stt_worker", *args],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=60,
        check=False,
    )


def test_a_model_name_on_an_offline_host(tmp_path: Path) -> None:
    outcome = run_worker(
        "--model", "base", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "empty-hf-home")
    )
    message = assert_configuration_error(outcome, announced=True)
    assert message.startswith("cannot download model 'base' (")
    assert message.endswith(
        "): this host cannot reach the model hub (huggingface.co) and the model is not in "
        "its cache; download it where the hub is reachable and set FASTERWHISPER_MODEL (or "
        "WORKER_ENGINE__MODEL) to the local model directory"
    )


def test_an_unknown_model_name(tmp_path: Path) -> None:
    outcome = run_worker("--model", "huge", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path))
    message = assert_configuration_error(outcome, announced=True)
    assert message.startswith("unknown model 'huge' (Invalid model size 'huge', expected one of: ")
    assert message.endswith(
        f"): set {MODEL_SETTING} to a size name, a hub repository id or a model directory"
    )


@pytest.mark.skipif(not OPENVINO_TINY_EN.is_dir(), reason="../shared/models is not present")
def test_an_openvino_directory_given_to_faster_whisper() -> None:
    message = assert_configuration_error(
        run_worker(FASTERWHISPER_MODEL=str(OPENVINO_TINY_EN)), announced=True
    )
    assert message == (
        f"model directory '{OPENVINO_TINY_EN}' is an OpenVINO model directory: set "
        f"WORKER_ENGINE__BACKEND=openvino, or point {MODEL_SETTING} at a CTranslate2 "
        "(faster-whisper) directory"
    )


def test_a_directory_without_a_model(tmp_path: Path) -> None:
    message = assert_configuration_error(run_worker("--model", str(tmp_path)), announced=True)
    assert message == (
        f"model directory '{tmp_path}' is not a faster-whisper model: it has no model.bin. "
        "A CTranslate2 Whisper directory holds model.bin, config.json, tokenizer.json and "
        "vocabulary.json or vocabulary.txt; download one (the Systran/faster-whisper-* "
        "repositories on huggingface.co) or convert a Whisper model with "
        f"ct2-transformers-converter, and point {MODEL_SETTING} at it"
    )


def test_a_missing_model_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    message = assert_configuration_error(run_worker("--model", str(missing)), announced=True)
    assert message == (
        f"model directory '{missing}' does not exist: point {MODEL_SETTING} at a "
        "faster-whisper model directory, or give a size name such as 'base' to download"
    )


def test_a_file_given_as_the_model(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    message = assert_configuration_error(run_worker("--model", str(weights)), announced=True)
    assert message == (
        f"model path '{weights}' is a file, not a model directory: point {MODEL_SETTING} at "
        "the directory that holds model.bin"
    )


@pytest.mark.skipif(not (TINY_EN / "model.bin").is_file(), reason="run `make test-models`")
def test_cuda_without_a_gpu() -> None:
    pytest.importorskip("ctranslate2")
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this host has a CUDA device")
    message = assert_configuration_error(
        run_worker("--model", str(TINY_EN), "--device", "cuda"), announced=True
    )
    assert message == (
        "device 'cuda' was requested but CTranslate2 sees no CUDA device: set "
        "WORKER_ENGINE__DEVICE=cpu (or auto, which uses a GPU when there is one), or run on "
        "a host with an NVIDIA GPU and its driver (in a container: --gpus all)"
    )


def test_a_missing_runtime(tmp_path: Path) -> None:
    # A `ctranslate2` that cannot be imported, ahead of the real one on the path.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ctranslate2.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ctranslate2'\", name='ctranslate2')\n"
    )
    env = worker_env()
    outcome = run_worker(PYTHONPATH=f"{shadow}:{env['PYTHONPATH']}")
    message = assert_configuration_error(outcome, announced=True)
    assert message == (
        "the faster_whisper backend cannot import its runtime (No module named "
        "'ctranslate2'): install it (pip install -r worker/requirements.lock, plus "
        "worker/requirements-openvino.lock for openvino) or use the worker image built with "
        "BACKEND=faster_whisper"
    )


def test_a_backend_that_is_not_available() -> None:
    message = assert_configuration_error(run_worker("--backend", "tensorrt"), announced=True)
    assert "tensorrt" in message


def test_the_help_lists_the_exit_codes() -> None:
    result = run_worker_raw("--help")
    assert result.returncode == 0
    assert "exit codes:" in result.stdout
    assert "78  configuration error (EX_CONFIG)" in result.stdout


# In-process: which load failures are configuration errors and which may pass.


async def run_serve(factory: Callable[[EngineSettings], Engine]) -> int:
    announced: list[int] = []
    code = await serve(
        make_settings(),
        announce=lambda _address, port: announced.append(port),
        engine_factory=factory,
    )
    assert len(announced) == 1
    return code


@pytest.mark.parametrize(
    "error",
    [ModelLoadError("no such model"), EngineUnavailableError("no such backend")],
)
async def test_serve_raises_configuration_errors_after_stopping(error: Exception) -> None:
    def factory(settings: EngineSettings) -> Engine:
        raise error

    with pytest.raises(ConfigurationError) as raised:
        await run_serve(factory)
    assert raised.value is error


async def test_serve_reports_an_import_failure_as_a_missing_runtime() -> None:
    def factory(settings: EngineSettings) -> Engine:
        raise ImportError("libcudnn_ops.so.9: cannot open shared object file")

    with pytest.raises(EngineUnavailableError, match=r"cannot import its runtime \(libcudnn"):
        await run_serve(factory)


@pytest.mark.parametrize(
    "error",
    [
        EngineError("out of memory loading model 'base'"),
        MemoryError(),
        RuntimeError("CUDA failed with error out of memory"),
    ],
)
async def test_serve_returns_one_for_faults_that_may_pass(error: BaseException) -> None:
    def factory(settings: EngineSettings) -> Engine:
        raise error

    assert await run_serve(factory) == 1


async def test_serve_returns_one_when_the_warm_up_fails() -> None:
    class BrokenEngine(FakeEngine):
        def transcribe_file(self, *args: object, **kwargs: object) -> Any:  # noqa: ANN401
            raise RuntimeError("kernel crashed")

    assert await run_serve(lambda s: BrokenEngine(model_name="tiny.en")) == 1


def test_validation_errors_name_the_section_of_a_cross_field_check() -> None:
    with pytest.raises(ValidationError) as raised:
        WorkerSettings(limits={"max_audio_s": 100.0, "max_file_audio_s": 10.0})
    assert describe_validation_error(raised.value) == (
        "invalid worker settings: limits settings: max_file_audio_s (10.0) must be at least "
        "max_audio_s (100.0), or the longest files never fit"
    )


@pytest.mark.skipif(not (TINY_EN / "model.bin").is_file(), reason="run `make test-models`")
def test_a_ctranslate2_directory_given_to_openvino() -> None:
    message = assert_configuration_error(
        run_worker("--backend", "openvino", "--model", str(TINY_EN)), announced=True
    )
    assert message.startswith(f"'{TINY_EN}' is a CTranslate2 (faster-whisper) model directory")
    assert "WORKER_ENGINE__BACKEND=faster_whisper" in message
    assert "optimum-cli export openvino" in message


def test_an_openvino_model_name_offline(tmp_path: Path) -> None:
    message = assert_configuration_error(
        run_worker(
            "--backend",
            "openvino",
            "--model",
            "tiny.en",
            HF_HUB_OFFLINE="1",
            HF_HOME=str(tmp_path),
        ),
        announced=True,
    )
    assert message.startswith(
        "cannot download the OpenVINO model 'OpenVINO/whisper-tiny.en-fp16-ov' for 'tiny.en'"
    )
    assert message.endswith(
        "fetch an OpenVINO Whisper export elsewhere and set WORKER_ENGINE__MODEL (or "
        "FASTERWHISPER_MODEL) to its local directory"
    )


@pytest.mark.skipif(not OPENVINO_TINY_EN.is_dir(), reason="../shared/models is not present")
def test_an_openvino_device_that_is_not_there() -> None:
    pytest.importorskip("openvino")
    import openvino

    if any(d.startswith("GPU") for d in openvino.Core().available_devices):
        pytest.skip("this host has an Intel GPU")
    message = assert_configuration_error(
        run_worker("--backend", "openvino", "--device", "gpu", "--model", str(OPENVINO_TINY_EN)),
        announced=True,
    )
    assert message.startswith("device 'gpu' was requested but OpenVINO sees only CPU")
