#!/usr/bin/env python3
"""Builds the TensorRT-LLM engine directory the worker's `tensorrt` backend loads.

From an OpenAI Whisper checkpoint (a name such as large-v3-turbo, downloaded from
OpenAI and checked against its SHA-256, or a local `<name>.pt`):

1. TensorRT-LLM's Whisper `convert_checkpoint.py` turns the weights into a TensorRT-LLM
   checkpoint (encoder/ and decoder/);
2. `trtllm-build` builds the encoder and decoder engines, with limits that match the
   worker's scheduler (batch, beams, prompt length);
3. `tokenizer.json` is copied in (from a file, or the checkpoint's Hugging Face repository
   openai/whisper-<name>);
4. `whisper_trt.json` records what was built (the worker checks it on load).

Run it where the worker will run: on the same GPU model and in the same image (the
BACKEND=tensorrt worker image carries TensorRT-LLM, this script and the example's
`convert_checkpoint.py`), since TensorRT engines are specific to both:

    docker run --rm --gpus all -v /srv/models:/models whisperlive-hybrid-worker:tensorrt \\
      python /app/scripts/build_tensorrt_engines.py large-v3-turbo /models/large-v3-turbo-trt

`--dry-run` prints the commands without running anything (no GPU needed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

TENSORRT_LLM_VERSION = "1.2.1"
MANIFEST_NAME = "whisper_trt.json"
MANIFEST_FORMAT = "whisperlive-hybrid/tensorrt-whisper"
# Where the worker image puts TensorRT-LLM's Whisper example (examples/models/core/whisper
# of the release's source tree, which the wheel does not carry).
DEFAULT_EXAMPLE_DIR = Path(os.environ.get("TRTLLM_WHISPER_EXAMPLE", "/opt/tensorrt_llm/whisper"))
_OPENAI = "https://openaipublic.azureedge.net/main/whisper/models"
# OpenAI's checkpoints (openai/whisper's `_MODELS`); the directory is the file's SHA-256.
CHECKPOINTS = {
    "tiny.en": "d3dd57d32accea0b295c96e26691aa14d8822fac7d9d27d5dc00b4ca2826dd03",
    "tiny": "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9",
    "base.en": "25a8566e1d0c1e2231d1c762132cd20e0f96a85d16145c3a00adf5d1ac670ead",
    "base": "ed3a0b6b1c0edf879ad9b11b1af5a0e6ab5db9205f891f668f8b0e6c6326e34e",
    "small.en": "f953ad0fd29cacd07d5a9eda5624af0f6bcf2258be67c92b79389873d91e0872",
    "small": "9ecf779972d90ba49c06d968637d720dd632c55bbf19d441fb42bf17a411e794",
    "medium.en": "d7440d1dc186f76616474e0ff0b3b6b879abc9d1a4926b7adfa41db2d497ab4f",
    "medium": "345ae4da62f9b3d59415adc60127b97c714f32e89e936602e85993674d08dcb1",
    "large-v2": "81f7c96c852ee8fc832187b0132e569d6c3065a3252ed18e56effd0b6a73e524",
    "large-v3": "e5b1a55b89c1367dacf97e3e19bfd829a01529dbfdeefa8caeb59b3f1b81dadb",
    "large-v3-turbo": "aff26ae408abcba5fbf8813c21e62b0941638c5f6eebfb145be0c9839262a19a",
}
# Whisper's audio input (30 s of 10 ms frames) and text context.
ENCODER_FRAMES = 3000
TEXT_CONTEXT = 448
# Longest decoder prompt the worker sends: start-of-previous, at most 223 tokens of
# previous text and hotwords, start-of-transcript, language, task, no-timestamps.
PROMPT_TOKENS = 256


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            f"checkpoint names: {', '.join(CHECKPOINTS)}. The worker serves the result with "
            "WORKER_ENGINE__BACKEND=tensorrt WORKER_ENGINE__MODEL=<output>."
        ),
    )
    parser.add_argument("checkpoint", help="a checkpoint name, or a local OpenAI <name>.pt file")
    parser.add_argument("output", type=Path, help="the engine directory to write")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=8,
        help="most windows decoded at once (default 8, the scheduler's max_batch; raise "
        "both together for more streams per GPU)",
    )
    parser.add_argument(
        "--max-beam", type=int, default=5, help="widest beam search (default 5, beam_size's)"
    )
    parser.add_argument(
        "--dtype",
        choices=("float16", "bfloat16"),
        default="float16",
        help="precision of the engines (default float16)",
    )
    parser.add_argument(
        "--weight-only",
        choices=("int8", "int4"),
        help="quantize the weights (less memory, a little accuracy); default: none",
    )
    parser.add_argument(
        "--tokenizer",
        help="tokenizer.json to copy in (default: from openai/whisper-<name> on the "
        "Hugging Face hub)",
    )
    parser.add_argument(
        "--example-dir",
        type=Path,
        default=DEFAULT_EXAMPLE_DIR,
        help="TensorRT-LLM's examples/models/core/whisper (holding convert_checkpoint.py); "
        f"default {DEFAULT_EXAMPLE_DIR} ($TRTLLM_WHISPER_EXAMPLE)",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the checkpoint is downloaded and converted"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands, run and write nothing"
    )
    args = parser.parse_args(argv)
    if args.max_batch < 1 or args.max_beam < 1:
        parser.error("--max-batch and --max-beam must be at least 1")
    name = Path(args.checkpoint).name.removesuffix(".pt")
    if name not in CHECKPOINTS:
        parser.error(
            f"unknown checkpoint {args.checkpoint!r}: TensorRT-LLM's converter takes "
            f"{', '.join(CHECKPOINTS)} (a local file must be named <name>.pt)"
        )
    args.name = name
    return args


def build_commands(
    args: argparse.Namespace, checkpoint_dir: Path, converted: Path
) -> list[list[str]]:
    """The converter and the two `trtllm-build` runs, as argument lists."""
    dtype = args.dtype
    convert = [
        sys.executable,
        str(args.example_dir / "convert_checkpoint.py"),
        "--model_dir",
        str(checkpoint_dir),
        "--model_name",
        args.name,
        "--dtype",
        dtype,
        "--output_dir",
        str(converted),
    ]
    if args.weight_only:
        convert += ["--use_weight_only", "--weight_only_precision", args.weight_only]
    encoder = [
        "trtllm-build",
        "--checkpoint_dir",
        str(converted / "encoder"),
        "--output_dir",
        str(args.output / "encoder"),
        "--moe_plugin",
        "disable",
        "--max_batch_size",
        str(args.max_batch),
        "--gemm_plugin",
        "disable",
        "--bert_attention_plugin",
        dtype,
        "--max_input_len",
        str(ENCODER_FRAMES),
        "--max_seq_len",
        str(ENCODER_FRAMES),
    ]
    decoder = [
        "trtllm-build",
        "--checkpoint_dir",
        str(converted / "decoder"),
        "--output_dir",
        str(args.output / "decoder"),
        "--moe_plugin",
        "disable",
        "--max_beam_width",
        str(args.max_beam),
        "--max_batch_size",
        str(args.max_batch),
        "--max_seq_len",
        str(TEXT_CONTEXT),
        "--max_input_len",
        str(PROMPT_TOKENS),
        "--max_encoder_input_len",
        str(ENCODER_FRAMES),
        "--gemm_plugin",
        dtype,
        "--bert_attention_plugin",
        dtype,
        "--gpt_attention_plugin",
        dtype,
        # The worker's runtime is the C++ executor (in-flight batching).
        "--paged_kv_cache",
        "enable",
        "--remove_input_padding",
        "enable",
    ]
    return [convert, encoder, decoder]


def manifest(args: argparse.Namespace, encoder_config: dict[str, object]) -> dict[str, object]:
    """`whisper_trt.json`, from the converted encoder's configuration."""
    vocab = int(str(encoder_config["vocab_size"]))
    return {
        "format": MANIFEST_FORMAT,
        "model": args.name,
        "n_mels": int(str(encoder_config["n_mels"])),
        "multilingual": vocab >= 51865,
        "dtype": args.dtype,
        "weight_only": args.weight_only or "none",
        "max_batch_size": args.max_batch,
        "max_beam_width": args.max_beam,
        "max_prompt_tokens": PROMPT_TOKENS,
        "max_seq_len": TEXT_CONTEXT,
        "tensorrt_llm": installed_version() or TENSORRT_LLM_VERSION,
    }


def installed_version() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("tensorrt-llm")
    except PackageNotFoundError:
        return None


def checkpoint_dir(args: argparse.Namespace, work: Path) -> Path:
    """The directory the converter reads `<name>.pt` from."""
    local = Path(args.checkpoint)
    return local.resolve().parent if local.suffix == ".pt" else work


def fetch_checkpoint(args: argparse.Namespace, work: Path) -> None:
    """Downloads `<name>.pt` into `work` and checks it, unless a local file was given."""
    local = Path(args.checkpoint)
    if local.suffix == ".pt":
        if not local.is_file():
            raise SystemExit(f"error: checkpoint {local} does not exist")
        return
    digest = CHECKPOINTS[args.name]
    target = work / f"{args.name}.pt"
    if not target.is_file():
        url = f"{_OPENAI}/{digest}/{args.name}.pt"
        print(f"downloading {url}", flush=True)
        with urllib.request.urlopen(url) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    sha = hashlib.sha256()
    with target.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    if sha.hexdigest() != digest:
        target.unlink()
        raise SystemExit(f"error: {target} does not have the SHA-256 OpenAI published ({digest})")


def copy_tokenizer(args: argparse.Namespace) -> None:
    target = args.output / "tokenizer.json"
    if args.tokenizer:
        shutil.copyfile(args.tokenizer, target)
        return
    from huggingface_hub import hf_hub_download

    shutil.copyfile(hf_hub_download(f"openai/whisper-{args.name}", "tokenizer.json"), target)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.work_dir is not None:
        work = args.work_dir
    elif args.dry_run:
        work = Path(tempfile.gettempdir()) / "whisper-trt-WORK"
    else:
        work = Path(tempfile.mkdtemp(prefix="whisper-trt-"))
    converted = work / "checkpoint"
    commands = build_commands(args, checkpoint_dir(args, work), converted)
    if args.dry_run:
        for command in commands:
            print(shlex.join(command))
        print(f"then: copy tokenizer.json and write {args.output / MANIFEST_NAME}")
        return 0
    found = installed_version()
    if found is None:
        raise SystemExit(
            "error: TensorRT-LLM is not installed here; run this script in the BACKEND=tensorrt "
            "worker image (docker/worker-tensorrt.Dockerfile) on the GPU that will serve"
        )
    if found != TENSORRT_LLM_VERSION:
        print(f"warning: TensorRT-LLM {found}, the worker image has {TENSORRT_LLM_VERSION}")
    if not (args.example_dir / "convert_checkpoint.py").is_file():
        raise SystemExit(
            f"error: no convert_checkpoint.py in {args.example_dir}: pass --example-dir with "
            "TensorRT-LLM's examples/models/core/whisper of the installed release"
        )
    work.mkdir(parents=True, exist_ok=True)
    fetch_checkpoint(args, work)
    args.output.mkdir(parents=True, exist_ok=True)
    for command in commands:
        print("+", shlex.join(command), flush=True)
        subprocess.run(command, check=True)
    encoder_config = json.loads((converted / "encoder" / "config.json").read_text())
    copy_tokenizer(args)
    (args.output / MANIFEST_NAME).write_text(
        json.dumps(manifest(args, encoder_config), indent=2) + "\n"
    )
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"engines in {args.output}: serve them with WORKER_ENGINE__BACKEND=tensorrt ", end="")
    print(f"WORKER_ENGINE__MODEL={args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
