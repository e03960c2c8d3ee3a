"""Every listed container, made by ffmpeg from the same real speech, gives the same text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import Gateway
from .speech import AUDIO_DIR, clip, normalize, wer

SOURCE = AUDIO_DIR / "jfk.wav"

# extension -> ffmpeg output arguments (codec and muxer as such files usually carry)
CONTAINERS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "5"],
    "webm": ["-c:a", "libopus", "-b:a", "96k"],
    "mp4": ["-c:a", "aac", "-b:a", "128k"],
    "mpeg": ["-c:a", "mp2", "-ar", "44100", "-b:a", "192k", "-f", "mpeg"],
    "mpga": ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"],
}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required (make install-system)"
    out_dir = tmp_path_factory.mktemp("containers")
    files = {}
    for ext, args in CONTAINERS.items():
        target = out_dir / f"jfk.{ext}"
        subprocess.run(
            [
                ffmpeg,
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(SOURCE),
                *args,
                str(target),
            ],
            check=True,
        )
        files[ext] = target
    return files


def transcribe(gateway: Gateway, path: Path) -> str:
    with path.open("rb") as handle:
        response = httpx.post(
            f"{gateway.base_url}/v1/audio/transcriptions",
            files={"file": (path.name, handle, "application/octet-stream")},
            data={"model": "whisper-1"},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def test_every_container_transcribes_to_the_same_text(
    tiny_gateway: Gateway, encoded: dict[str, Path]
) -> None:
    texts = {ext: transcribe(tiny_gateway, path) for ext, path in encoded.items()}
    reference = normalize(texts["wav"])
    assert wer([clip("jfk.wav").text], [texts["wav"]]) <= 0.1
    differing = {ext: t for ext, t in texts.items() if normalize(t) != reference}
    assert not differing, f"wav: {texts['wav']!r}; differing: {differing}"


def test_container_is_decided_by_content_not_name(
    tiny_gateway: Gateway, encoded: dict[str, Path], tmp_path: Path
) -> None:
    misnamed = tmp_path / "speech.wav"
    misnamed.write_bytes(encoded["ogg"].read_bytes())
    assert normalize(transcribe(tiny_gateway, misnamed)) == normalize(
        transcribe(tiny_gateway, encoded["wav"])
    )
