#!/usr/bin/env bash
# The GPU check, in one go, on a bare NVIDIA machine without network: test/gpu (faster-whisper
# on CUDA in float16 with tiny.en; the TensorRT-LLM engine too when tensorrt_llm imports and
# STT_TEST_TRT_ENGINE_DIR names an engine directory), then a summary: the GPU, versions,
# pass/fail and timings (jfk.wav cold and warm, a batch of eight windows against one).
#
#   scripts/device_gpu_check.sh [TINY_EN_DIR]      (from the repository root)
#
# What the machine needs besides this repository's tree:
# - python3 with numpy, torch (its pip CUDA libraries supply cuBLAS), onnxruntime, tokenizers,
#   huggingface_hub, tqdm, PyYAML;
# - .whl/ (ignored by git): the wheels of the rest, for that python (cp312), installed with
#   --no-index --no-deps into a temporary folder: ctranslate2==4.8.5, faster-whisper==1.2.1,
#   pydantic, pydantic-core, pydantic-settings, annotated-types, typing-inspection,
#   typing_extensions, python-dotenv, pytest, pytest-asyncio, pluggy, iniconfig, Pygments,
#   packaging, PyYAML (about 48 MB; `pip download --no-deps --only-binary=:all:
#   --python-version 3.12 --platform manylinux_2_28_x86_64 ...` fetches them);
# - TINY_EN_DIR (default test-artifacts/tiny.en): the tiny.en CTranslate2 model (config.json,
#   tokenizer.json, vocabulary.txt, model.bin). model.bin (75.5 MB) may come as
#   model.bin.part* pieces (e.g. `split -b 40m model.bin model.bin.part`), joined here in
#   name order and checked against its SHA-256;
# - jfk.wav and manifest.jsonl of shared/audio: found in $STT_TEST_AUDIO_DIR, ../shared/audio,
#   shared/audio or test-artifacts/audio.
#
# CTranslate2 4.8.5 loads libcublas.so.12 (CUDA 12); where only CUDA 13's cuBLAS is there
# (torch's nvidia-cublas), this script links libcublas.so.12 and libcublasLt.so.12 to the 13
# libraries in a temporary folder on LD_LIBRARY_PATH and says so. faster-whisper imports the
# `av` module at load; the tests pass numpy audio, so a stand-in module is used when av is
# missing. Exit status: pytest's.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
PY=${PYTHON:-python3}
MODEL=${1:-test-artifacts/tiny.en}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stt-gpu-check.XXXXXX")
TINY_EN_SHA256=1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a
say() { printf '== %s\n' "$*"; }

say "GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
else
  echo "nvidia-smi not found"
fi

say "packages from .whl/"
SITE=$WORK/site
if compgen -G ".whl/*.whl" >/dev/null; then
  if "$PY" -m pip install --quiet --no-index --no-deps --target "$SITE" .whl/*.whl; then
    for wheel in .whl/*.whl; do echo "  ${wheel#.whl/}"; done
  else
    echo "installing .whl/*.whl failed"
  fi
else
  echo "none (.whl/ is empty): using what $PY has"
fi

say "tiny.en model"
MODELS=$WORK/models
mkdir -p "$MODELS/tiny.en"
if [[ -d $MODEL ]]; then
  for file in "$MODEL"/*; do
    case $(basename "$file") in
      model.bin.part*) ;;
      *) ln -s "$(cd "$(dirname "$file")" && pwd)/$(basename "$file")" "$MODELS/tiny.en/" ;;
    esac
  done
  if [[ ! -e $MODELS/tiny.en/model.bin ]] && compgen -G "$MODEL/model.bin.part*" >/dev/null; then
    pieces=("$MODEL"/model.bin.part*)
    cat "${pieces[@]}" >"$MODELS/tiny.en/model.bin"
    echo "joined ${#pieces[@]} pieces of model.bin"
  fi
  if [[ -e $MODELS/tiny.en/model.bin ]]; then
    sum=$(sha256sum "$MODELS/tiny.en/model.bin" | cut -d' ' -f1)
    [[ $sum == "$TINY_EN_SHA256" ]] && echo "model.bin sha256 OK" || echo "model.bin sha256 MISMATCH: $sum"
  else
    echo "no model.bin in $MODEL: the faster-whisper tests will skip"
  fi
else
  echo "$MODEL is not a directory: the faster-whisper tests will skip"
fi
export STT_TEST_MODELS_DIR=$MODELS

say "audio"
for dir in "${STT_TEST_AUDIO_DIR:-}" ../shared/audio shared/audio test-artifacts/audio; do
  if [[ -n $dir && -f $dir/jfk.wav && -f $dir/manifest.jsonl ]]; then
    STT_TEST_AUDIO_DIR=$(cd "$dir" && pwd)
    break
  fi
done
if [[ -z ${STT_TEST_AUDIO_DIR:-} ]]; then
  echo "jfk.wav and manifest.jsonl not found (STT_TEST_AUDIO_DIR)"
  STT_TEST_AUDIO_DIR=$REPO/test-artifacts/audio
fi
export STT_TEST_AUDIO_DIR
echo "$STT_TEST_AUDIO_DIR"

say "cuBLAS for CTranslate2"
COMPAT=$WORK/cuda-compat
mkdir -p "$COMPAT"
if "$PY" -c "import ctypes; ctypes.CDLL('libcublas.so.12')" 2>/dev/null; then
  echo "libcublas.so.12 loads as is"
else
  torch_site=$("$PY" -c "import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))" 2>/dev/null)
  cublas=$(find "${torch_site:-/nonexistent}" -name 'libcublas.so.13*' 2>/dev/null | sort | head -n 1)
  cublas_lt=$(find "${torch_site:-/nonexistent}" -name 'libcublasLt.so.13*' 2>/dev/null | sort | head -n 1)
  if [[ -n $cublas && -n $cublas_lt ]]; then
    ln -s "$cublas" "$COMPAT/libcublas.so.12"
    ln -s "$cublas_lt" "$COMPAT/libcublasLt.so.12"
    LD_LIBRARY_PATH=$COMPAT:$(dirname "$cublas"):$(dirname "$cublas_lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
    echo "libcublas.so.12 -> $cublas"
    echo "libcublasLt.so.12 -> $cublas_lt"
  else
    echo "no libcublas.so.12, and no libcublas.so.13 under torch (${torch_site:-no torch})"
  fi
fi

STUBS=$WORK/stubs
if ! PYTHONPATH=$SITE "$PY" -c "import av" 2>/dev/null; then
  mkdir -p "$STUBS/av"
  printf '"""Stand-in for PyAV: the GPU tests pass numpy audio, nothing is decoded."""\n' \
    >"$STUBS/av/__init__.py"
  echo "av: not installed, a stand-in module is used"
fi
export PYTHONPATH=$SITE:$STUBS:$REPO/worker/src${PYTHONPATH:+:$PYTHONPATH}

say "versions"
"$PY" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "torch", "onnxruntime", "tokenizers", "ctranslate2", "faster_whisper", "tensorrt_llm"):
    try:
        module = importlib.import_module(name)
        extra = ""
        if name == "torch":
            extra = f" (CUDA {module.version.cuda}, available {module.cuda.is_available()})"
        if name == "ctranslate2":
            extra = f" (CUDA devices {module.get_cuda_device_count()})"
        print(name, getattr(module, "__version__", "?") + extra)
    except Exception as exc:
        print(name, f"unavailable: {type(exc).__name__}: {exc}".splitlines()[0][:200])
EOF

say "test/gpu"
REPORT=$WORK/report.json
STT_GPU_REPORT=$REPORT "$PY" -m pytest -c worker/pyproject.toml test/gpu -p no:cacheprovider -rA -q
status=$?

say "summary"
echo "pytest exit status: $status"
if [[ -f $REPORT ]]; then
  cat "$REPORT"
else
  echo "no timings recorded"
fi
rm -rf "$WORK"
exit "$status"
