"""Smoke test of a running server's HTTP API, for any deployment. Standard library only.

    python examples/test_http_endpoints.py --url http://localhost:8080
    python examples/test_http_endpoints.py --url https://stt.example.com --api-key KEY \\
        --audio speech.wav --expect "ask not what your country can do for you"

Checks health, the model list, every response format of /v1/audio/transcriptions, the
legacy /transcribe, and that a bad request gets an OpenAI-style 400. Without --audio it
sends two seconds of a generated tone (status and shape checked, not the text). Prints one
line per check and exits 1 when any failed, 2 when the server cannot be reached at all.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import struct
import sys
import urllib.error
import urllib.request
import uuid
import wave
from collections.abc import Callable
from pathlib import Path


class Server:
    def __init__(self, url: str, api_key: str | None, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s

    def request(
        self, method: str, path: str, fields: dict[str, str] | None = None, audio: bytes = b""
    ) -> tuple[int, str, str]:
        """(status, content type, body) of one request; multipart when there are fields."""
        headers = dict(self.headers)
        data = None
        if fields is not None:
            boundary = uuid.uuid4().hex
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                for name, value in fields.items()
            ]
            body = "".join(parts).encode()
            if audio:
                body += (
                    (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                        'filename="audio.wav"\r\nContent-Type: audio/wav\r\n\r\n'
                    ).encode()
                    + audio
                    + b"\r\n"
                )
            data = body + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return (
                    response.status,
                    response.headers.get("content-type", ""),
                    response.read().decode(),
                )
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("content-type", ""), error.read().decode()


def tone_wav(seconds: float = 2.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * i / 16_000))
            for i in range(int(seconds * 16_000))
        )
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8080", help="the server's HTTP base URL")
    parser.add_argument("--api-key", default=None, help="an API key, when the server has keys")
    parser.add_argument("--audio", type=Path, help="a speech file to send (default: a tone)")
    parser.add_argument("--expect", default=None, help="words the transcript must contain")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per request")
    args = parser.parse_args()

    server = Server(args.url, args.api_key, args.timeout)
    audio = args.audio.read_bytes() if args.audio else tone_wav()
    failures: list[str] = []
    checked: list[str] = []

    def check(name: str, test: Callable[[], str]) -> None:
        checked.append(name)
        try:
            detail = test()
        except AssertionError as error:
            failures.append(name)
            print(f"FAIL  {name}: {error}")
        else:
            print(f"ok    {name}{': ' + detail if detail else ''}")

    def health() -> str:
        status, _, body = server.request("GET", "/health")
        assert status == 200, f"status {status}: {body[:200]}"
        assert json.loads(body).get("status") == "healthy", body[:200]
        return ""

    def models() -> str:
        status, _, body = server.request("GET", "/v1/models")
        assert status == 200, f"status {status}: {body[:200]}"
        ids = [m["id"] for m in json.loads(body)["data"]]
        assert ids, "no model listed"
        return ", ".join(ids)

    def transcription(fmt: str) -> Callable[[], str]:
        def run() -> str:
            status, ctype, body = server.request(
                "POST",
                "/v1/audio/transcriptions",
                {"model": "whisper-1", "response_format": fmt},
                audio,
            )
            assert status == 200, f"status {status}: {body[:300]}"
            if fmt in ("json", "verbose_json"):
                assert ctype.startswith("application/json"), ctype
                text = json.loads(body)["text"]
                if fmt == "verbose_json":
                    assert isinstance(json.loads(body).get("segments"), list), body[:200]
            else:
                assert ctype.startswith("text/"), ctype
                text = body
            if fmt == "vtt":
                assert body.startswith("WEBVTT"), body[:80]
            if fmt == "srt" and body.strip():
                assert body.startswith("1\n"), body[:80]
            if args.audio:
                assert words(text), "empty transcript"
            if args.expect and fmt == "json":
                missing = [w for w in words(args.expect) if w not in words(text)]
                assert not missing, f"missing {missing} in {text!r}"
            return repr(text.strip()[:60]) if fmt == "json" else ""

        return run

    def legacy() -> str:
        status, _, body = server.request("POST", "/transcribe", {"task": "transcribe"}, audio)
        assert status == 200, f"status {status}: {body[:300]}"
        assert json.loads(body).get("success") is True, body[:200]
        return ""

    def bad_request() -> str:
        status, _, body = server.request("POST", "/v1/audio/transcriptions", {"model": "whisper-1"})
        assert status == 400, f"status {status}: {body[:200]}"
        error = json.loads(body)["error"]
        assert error.get("message"), body[:200]
        assert error.get("type"), body[:200]
        return ""

    try:
        server.request("GET", "/healthz")
    except (urllib.error.URLError, OSError) as error:
        print(f"FAIL  cannot reach {args.url}: {error}")
        return 2
    check("GET /health", health)
    check("GET /v1/models", models)
    for fmt in ("json", "text", "srt", "vtt", "verbose_json"):
        check(f"POST /v1/audio/transcriptions ({fmt})", transcription(fmt))
    check("POST /transcribe (legacy)", legacy)
    check("POST /v1/audio/transcriptions without a file is a 400", bad_request)
    print(
        f"{len(failures)} of {len(checked)} checks failed"
        if failures
        else f"all {len(checked)} checks passed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
