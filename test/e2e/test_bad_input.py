"""Bad input gets the right status and an OpenAI error body; nothing leaks; the server stays up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import httpx
import openai
import pytest

from .conftest import Gateway, health_status
from .hostile import png_bytes
from .speech import AUDIO_DIR

TRANSCRIPTIONS = "/v1/audio/transcriptions"


def post_file(gateway: Gateway, name: str, content: bytes, **data: str) -> httpx.Response:
    return httpx.post(
        gateway.base_url + TRANSCRIPTIONS,
        files={"file": (name, content, "application/octet-stream")},
        data={"model": "whisper-1", **data},
        timeout=120,
    )


def assert_openai_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


@pytest.fixture(scope="module")
def mp3_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import subprocess

    target = tmp_path_factory.mktemp("mp3") / "jfk.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(AUDIO_DIR / "jfk.wav"),
            "-b:a",
            "64k",
            str(target),
        ],
        check=True,
    )
    return target.read_bytes()


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback HTTP server (allow-listed in the gateway) serving real speech."""
    root = tmp_path_factory.mktemp("served")
    (root / "jfk.wav").write_bytes((AUDIO_DIR / "jfk.wav").read_bytes())

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[misc]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_empty_file_is_400(tiny_gateway: Gateway) -> None:
    assert_openai_error(post_file(tiny_gateway, "empty.wav", b""), 400, "file")


def test_random_bytes_are_415(tiny_gateway: Gateway) -> None:
    assert_openai_error(post_file(tiny_gateway, "noise.wav", os.urandom(64 * 1024)), 415, "file")


def test_png_named_wav_is_415(tiny_gateway: Gateway) -> None:
    assert_openai_error(post_file(tiny_gateway, "picture.wav", png_bytes()), 415, "file")


def test_truncated_mp3_header_is_400(tiny_gateway: Gateway, mp3_bytes: bytes) -> None:
    assert_openai_error(post_file(tiny_gateway, "cut.mp3", mp3_bytes[:200]), 400, "file")


def test_truncated_mp3_transcribes_what_is_there(tiny_gateway: Gateway, mp3_bytes: bytes) -> None:
    response = post_file(tiny_gateway, "half.mp3", mp3_bytes[: len(mp3_bytes) // 2])
    assert response.status_code == 200, response.text
    words = response.json()["text"].lower()
    assert "americans" in words and "country can do for you, ask" not in words


def test_over_100_mb_is_413(tiny_gateway: Gateway, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024 + 1024)
    with big.open("rb") as handle:
        response = httpx.post(
            tiny_gateway.base_url + TRANSCRIPTIONS,
            files={"file": ("big.wav", handle, "audio/wav")},
            data={"model": "whisper-1"},
            timeout=120,
        )
    assert_openai_error(response, 413, "file")


def test_missing_file_is_400(tiny_gateway: Gateway) -> None:
    response = httpx.post(
        tiny_gateway.base_url + TRANSCRIPTIONS, data={"model": "whisper-1"}, timeout=30
    )
    assert_openai_error(response, 400, "file")


def test_unknown_response_format_is_400(tiny_gateway: Gateway) -> None:
    wav = (AUDIO_DIR / "jfk.wav").read_bytes()
    assert_openai_error(
        post_file(tiny_gateway, "jfk.wav", wav, response_format="xml"),
        400,
        "response_format",
    )


def test_temperature_out_of_range_is_400(tiny_gateway: Gateway) -> None:
    wav = (AUDIO_DIR / "jfk.wav").read_bytes()
    assert_openai_error(
        post_file(tiny_gateway, "jfk.wav", wav, temperature="3"), 400, "temperature"
    )


def test_unknown_model_is_400(tiny_gateway: Gateway) -> None:
    wav = (AUDIO_DIR / "jfk.wav").read_bytes()
    assert_openai_error(
        post_file(tiny_gateway, "jfk.wav", wav, model="no-such-model"), 400, "model"
    )


def test_sdk_raises_its_usual_exception(tiny_gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{tiny_gateway.base_url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="whisper-1", file=("empty.wav", b""))
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/a.wav",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/a.wav",
        "http://192.168.0.1/a.wav",
        "ftp://127.0.0.1/a.wav",
        "not a url",
    ],
)
def test_url_to_forbidden_address_is_400(tiny_gateway: Gateway, url: str) -> None:
    response = httpx.post(f"{tiny_gateway.base_url}/transcribe/url", json={"url": url}, timeout=30)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and isinstance(body["error"], str) and body["error"]


def test_url_returning_404_is_a_clear_upstream_error(
    tiny_gateway: Gateway, file_server: str
) -> None:
    response = httpx.post(
        f"{tiny_gateway.base_url}/transcribe/url",
        json={"url": f"{file_server}/missing.wav"},
        timeout=30,
    )
    assert response.status_code in (422, 502), response.text
    body = response.json()
    assert body["success"] is False and "404" in body["error"]


def test_url_transcribes_allowed_loopback(tiny_gateway: Gateway, file_server: str) -> None:
    response = httpx.post(
        f"{tiny_gateway.base_url}/transcribe/url",
        json={"url": f"{file_server}/jfk.wav"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["filename"] == "jfk.wav"
    assert "americans" in " ".join(s["text"] for s in body["segments"]).lower()


def test_zz_server_still_up_and_temp_dir_empty(tiny_gateway: Gateway) -> None:
    # Named to run last in this module: after every bad input above.
    assert health_status(tiny_gateway.base_url) == 200
    assert tiny_gateway.process is not None and tiny_gateway.process.poll() is None
    assert tiny_gateway.temp_files() == []
