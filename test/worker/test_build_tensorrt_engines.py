"""scripts/build_tensorrt_engines.py without TensorRT-LLM: its arguments, the commands it
would run (--dry-run) and the manifest it writes, which the worker must accept."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stt_worker.engines.tensorrt import EngineManifest
from worker_testing import REPO

SCRIPT = REPO / "scripts" / "build_tensorrt_engines.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_tensorrt_engines", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_the_converter_and_both_builds(tmp_path: Path) -> None:
    result = run(
        "large-v3-turbo",
        str(tmp_path / "out"),
        "--dry-run",
        "--work-dir",
        str(tmp_path / "w"),
        "--max-batch",
        "16",
        "--weight-only",
        "int8",
        "--example-dir",
        "/ex",
    )
    assert result.returncode == 0, result.stderr
    convert, encoder, decoder, last = result.stdout.splitlines()
    assert convert.endswith(
        f"/ex/convert_checkpoint.py --model_dir {tmp_path / 'w'} --model_name large-v3-turbo "
        f"--dtype float16 --output_dir {tmp_path / 'w' / 'checkpoint'} --use_weight_only "
        "--weight_only_precision int8"
    )
    assert encoder == (
        f"trtllm-build --checkpoint_dir {tmp_path / 'w' / 'checkpoint' / 'encoder'} "
        f"--output_dir {tmp_path / 'out' / 'encoder'} --moe_plugin disable --max_batch_size 16 "
        "--gemm_plugin disable --bert_attention_plugin float16 --max_input_len 3000 "
        "--max_seq_len 3000"
    )
    assert decoder == (
        f"trtllm-build --checkpoint_dir {tmp_path / 'w' / 'checkpoint' / 'decoder'} "
        f"--output_dir {tmp_path / 'out' / 'decoder'} --moe_plugin disable --max_beam_width 5 "
        "--max_batch_size 16 --max_seq_len 448 --max_input_len 256 --max_encoder_input_len 3000 "
        "--gemm_plugin float16 --bert_attention_plugin float16 --gpt_attention_plugin float16 "
        "--paged_kv_cache enable --remove_input_padding enable"
    )
    assert last == f"then: copy tokenizer.json and write {tmp_path / 'out' / 'whisper_trt.json'}"
    assert not (tmp_path / "out").exists()


def test_a_local_checkpoint_is_converted_where_it_lies(tmp_path: Path) -> None:
    result = run(str(tmp_path / "tiny.en.pt"), str(tmp_path / "out"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"--model_dir {tmp_path} --model_name tiny.en " in result.stdout


def test_unknown_checkpoints_are_refused(tmp_path: Path) -> None:
    result = run("large-v4", str(tmp_path))
    assert result.returncode == 2
    assert "error: unknown checkpoint 'large-v4': TensorRT-LLM's converter takes tiny.en," in (
        result.stderr
    )


def test_without_tensorrt_llm_it_says_where_to_run(tmp_path: Path) -> None:
    result = run("tiny.en", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: TensorRT-LLM is not installed here; run this script in the BACKEND=tensorrt "
        "worker image (docker/worker-tensorrt.Dockerfile) on the GPU that will serve"
    )
    assert not (tmp_path / "out").exists()


def test_the_manifest_is_one_the_worker_reads(script: ModuleType, tmp_path: Path) -> None:
    args = script.parse_args(["large-v3", str(tmp_path), "--max-beam", "4", "--dtype", "bfloat16"])
    written = script.manifest(args, {"vocab_size": 51866, "n_mels": 128, "num_languages": 100})
    manifest = EngineManifest.parse(json.loads(json.dumps(written)), tmp_path / "whisper_trt.json")
    assert manifest.model == "large-v3"
    assert (manifest.n_mels, manifest.multilingual, manifest.dtype) == (128, True, "bfloat16")
    assert (manifest.max_batch_size, manifest.max_beam_width) == (8, 4)
    assert (manifest.max_prompt_tokens, manifest.max_seq_len) == (256, 448)
    english = script.manifest(
        script.parse_args(["tiny.en", str(tmp_path)]), {"vocab_size": 51864, "n_mels": 80}
    )
    assert english["multilingual"] is False
