"""The bad-input catalogue (docs/bad-inputs.md): one test per row, over HTTP and the
WhisperLive WebSocket, against the real gateway and worker. Each row checks the answer the
catalogue promises (status, error code, close code), then that nothing was left behind:
the server answers, its temp directory is empty, no worker stream is open, no ffmpeg runs.

Test names start with the row id (`test_h07_...`), and a test checks that every row of the
document has its test.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
import websocket  # websocket-client

from .conftest import TINY_EN, Gateway, serve, wait_for
from .hostile import active_streams, assert_clean, raw_exchange, upgrade_head, ws_session
from .speech import AUDIO_DIR, REPO

TRANSCRIPTIONS = "/v1/audio/transcriptions"
CATALOGUE = REPO / "docs" / "bad-inputs.md"
JFK = (AUDIO_DIR / "jfk.wav").read_bytes()
MAX_UPLOAD_BYTES = 4_000_000
# A second loopback address: allow-listed for /transcribe/url, while 127.0.0.1 is not.
ALLOWED_HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product on tiny.en with tight limits, so slow-client rows finish quickly."""
    yield from serve(
        tmp_path_factory,
        "hostile-gateway",
        TINY_EN,
        {
            "GATEWAY_WORKER_LOAD_REFRESH_MS": "200",
            "GATEWAY_HEADERS_TIMEOUT_S": "2",
            "GATEWAY_UPLOAD_TIMEOUT_S": "4",
            "GATEWAY_WS_OPTIONS_TIMEOUT_S": "2",
            "GATEWAY_WS_MAX_FRAME_BYTES": "262144",
            "GATEWAY_REALTIME_MAX_EVENT_BYTES": "262144",
            "GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "GATEWAY_URL_ALLOWLIST": ALLOWED_HOST,
            "GATEWAY_URL_TIMEOUT_S": "5",
        },
    )


@pytest.fixture(autouse=True)
def leaves_nothing_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every row: the leak checks."""
    yield
    if "gateway" in request.fixturenames:
        assert_clean(request.getfixturevalue("gateway"))


def post(
    gateway: Gateway, files: object = None, data: object = None, **kwargs: object
) -> httpx.Response:
    return httpx.post(
        gateway.base_url + TRANSCRIPTIONS, files=files, data=data, timeout=60, **kwargs
    )


def post_audio(gateway: Gateway, name: str, content: bytes, **fields: str) -> httpx.Response:
    return post(
        gateway,
        files={"file": (name, content, "application/octet-stream")},
        data={"model": "whisper-1", **fields},
    )


def openai_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error["param"] == param, error
    return error


def wav(samples: np.ndarray, rate: int = 16_000) -> bytes:
    pcm = np.clip(samples, -1, 1)
    data = (pcm * 32767).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


def options(uid: str = "c", **extra: object) -> str:
    return json.dumps({"uid": uid, "language": "en", "task": "transcribe", **extra})


def speech_f32(seconds: float) -> bytes:
    samples = np.frombuffer(JFK[44:], dtype="<i2").astype(np.float32) / 32768
    return samples[: int(seconds * 16_000)].astype("<f4").tobytes()


# -- HTTP: the request itself -------------------------------------------------------------


def test_h01_unparsable_request_line(gateway: Gateway) -> None:
    reply = raw_exchange(gateway.http_port, [b"GET /\x01\x02 HTTP/9.9\r\n\r\n"])
    assert reply.status == 400 and reply.closed


def test_h02_percent_garbage_path(gateway: Gateway) -> None:
    request = b"GET //%zz%%/v1/../.. HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = raw_exchange(gateway.http_port, [request], head_only=True)
    assert reply.status in (400, 404), reply.data[:200]


def test_h03_oversized_head(gateway: Gateway) -> None:
    big = b"X-Big: " + b"a" * 20_000 + b"\r\n"
    reply = raw_exchange(
        gateway.http_port, [b"GET /health HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n"]
    )
    assert reply.status == 431 and reply.closed


def test_h04_slow_headers(gateway: Gateway) -> None:
    pieces = [b"GET /v1/models HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 40
    reply = raw_exchange(gateway.http_port, pieces, pause_s=0.2, wait_s=8)
    assert reply.status == 408 and reply.closed
    assert reply.elapsed_s < 4.5


def test_h05_slow_body(gateway: Gateway) -> None:
    head = (
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    )
    reply = raw_exchange(gateway.http_port, [head] + [b"RIFF"] * 40, pause_s=0.25, wait_s=10)
    assert reply.closed and reply.elapsed_s < 6.5
    assert reply.status in (None, 408)


def test_h06_truncated_upload(gateway: Gateway) -> None:
    head = (
        b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    )
    with socket.create_connection(("127.0.0.1", gateway.http_port)) as sock:
        sock.sendall(head + JFK[:200_000])
    # The client is gone; the upload must leave nothing (checked after the row).


def test_h07_two_file_fields(gateway: Gateway) -> None:
    files = [("file", ("a.wav", JFK, "audio/wav")), ("file", ("b.wav", JFK, "audio/wav"))]
    openai_error(post(gateway, files=files, data={"model": "whisper-1"}), 400, "file")


def test_h08_json_instead_of_multipart(gateway: Gateway) -> None:
    response = httpx.post(
        gateway.base_url + TRANSCRIPTIONS,
        json={"file": "jfk.wav", "model": "whisper-1"},
        timeout=30,
    )
    openai_error(response, 400, "file")


def test_h09_garbled_multipart(gateway: Gateway) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'  # never closed
    response = httpx.post(
        gateway.base_url + TRANSCRIPTIONS,
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    openai_error(response, 400)


def test_h10_temperature_of_wrong_type(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, temperature="hot"), 400, "temperature")


def test_h11_temperature_out_of_range(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, temperature="1e9"), 400, "temperature")


def test_h12_unknown_response_format(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, response_format="xml"), 400, "response_format")


def test_h13_bad_timestamp_granularity(gateway: Gateway) -> None:
    response = post_audio(
        gateway, "a.wav", JFK, response_format="verbose_json", **{"timestamp_granularities[]": "x"}
    )
    openai_error(response, 400, "timestamp_granularities")


def test_h14_unknown_language(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, language="klingon"), 400, "language")


def test_h15_huge_prompt(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, prompt="word " * 200_000), 400, "prompt")


def test_h16_long_prompt_under_the_field_limit(gateway: Gateway) -> None:
    # Far more than Whisper can use (224 tokens), yet under multer's 1 MiB field limit.
    openai_error(post_audio(gateway, "a.wav", JFK, prompt="word " * 20_000), 400, "prompt")


def test_h17_unknown_model(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "a.wav", JFK, model="gpt-17"), 400, "model")


def test_h18_upload_over_the_size_limit(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "big.wav", b"\0" * (MAX_UPLOAD_BYTES + 1)), 413, "file")


# -- HTTP: the audio ------------------------------------------------------------------------


def test_h19_empty_file(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "empty.wav", b""), 400, "file")


def test_h20_header_only_wav(gateway: Gateway) -> None:
    openai_error(post_audio(gateway, "header.wav", wav(np.zeros(0))), 400, "file")


def test_h21_absurd_wav_header(gateway: Gateway) -> None:
    # 4 GiB of data claimed, 0 Hz, 65535 channels: then 1 s of noise.
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 65535, 0, 0, 0, 16)
    header += b"data" + struct.pack("<I", 0xFFFFFFFF)
    response = post_audio(gateway, "absurd.wav", header + bytes(32_000))
    assert response.status_code in (400, 415), response.text
    openai_error(response, response.status_code, "file")


def test_h22_random_bytes(gateway: Gateway) -> None:
    rng = np.random.default_rng(1)
    openai_error(post_audio(gateway, "noise.mp3", rng.bytes(50_000)), 415, "file")


def test_h23_decodes_to_nothing(gateway: Gateway) -> None:
    # A valid MP3 frame header repeated: ffmpeg finds no decodable audio in it.
    openai_error(post_audio(gateway, "frames.mp3", b"\xff\xfb\x90\x00" * 64), 400, "file")


def test_h24_long_silence_gives_no_text(gateway: Gateway) -> None:
    response = post_audio(gateway, "silence.wav", wav(np.zeros(16_000 * 30)))
    assert response.status_code == 200, response.text
    assert response.json()["text"].strip() == ""


def test_h25_path_tricks_in_file_name(gateway: Gateway) -> None:
    for name in ("../../../../etc/passwd", "..\\..\\boot.ini", "/dev/zero", "a\0b.wav", "~root"):
        response = post_audio(gateway, name, JFK)
        assert response.status_code == 200, (name, response.text)
        assert "americans" in response.json()["text"].lower()
    assert not Path("/etc/passwd.wav").exists()


def test_h26_nan_samples_in_float_wav(gateway: Gateway) -> None:
    data = np.full(16_000, np.nan, dtype="<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16_000, 64_000, 4, 32)
    response = post_audio(
        gateway, "nan.wav", header + b"data" + struct.pack("<I", len(data)) + data
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"].strip() == ""


# -- HTTP: /transcribe/url ------------------------------------------------------------------


@pytest.fixture(scope="module")
def allowed_server() -> Iterator[str]:
    """An allow-listed loopback server: speech at /jfk.wav, a redirect loop at /loop, and a
    redirect to a forbidden address at /to-private."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jfk.wav":
                self.send_response(200)
                self.send_header("Content-Length", str(len(JFK)))
                self.end_headers()
                self.wfile.write(JFK)
            elif self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif self.path == "/to-private":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/secret")
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((ALLOWED_HOST, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{ALLOWED_HOST}:{server.server_address[1]}"
    server.shutdown()


FORBIDDEN_URLS = [
    "http://127.0.0.1/a.wav",
    "http://localhost/a.wav",
    "http://[::1]/a.wav",
    "http://[::ffff:127.0.0.1]/a.wav",
    "http://[::ffff:7f00:1]/a.wav",
    "http://2130706433/a.wav",
    "http://0x7f000001/a.wav",
    "http://0177.0.0.1/a.wav",
    "http://127.1/a.wav",
    "http://0.0.0.0/a.wav",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/",
    "http://10.0.0.1/a.wav",
    "http://172.16.0.1/a.wav",
    "http://192.168.1.1/a.wav",
    "http://100.64.0.1/a.wav",
    "http://[fe80::1]/a.wav",
    "http://[64:ff9b::7f00:1]/a.wav",
    "http://224.0.0.1/a.wav",
    "http://255.255.255.255/a.wav",
]


def url_error(gateway: Gateway, url: object) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/transcribe/url", json={"url": url}, timeout=30)


def test_h27_url_to_private_or_special_addresses(gateway: Gateway) -> None:
    for url in FORBIDDEN_URLS:
        response = url_error(gateway, url)
        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert body["success"] is False and body["error"], (url, body)


def test_h28_url_with_other_schemes(gateway: Gateway) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.2/a", "gopher://127.0.0.2/", "data:,x"):
        response = url_error(gateway, url)
        assert response.status_code == 400, (url, response.text)


def test_h29_url_of_wrong_type_or_size(gateway: Gateway) -> None:
    for url in (None, 42, ["http://a"], {"u": 1}, "", "http://" + "a" * 10_000 + ".com/"):
        response = url_error(gateway, url)
        assert response.status_code == 400, (url, response.text)


def test_h30_url_redirect_loop(gateway: Gateway, allowed_server: str) -> None:
    response = url_error(gateway, f"{allowed_server}/loop")
    assert response.status_code in (422, 502), response.text
    assert "redirect" in response.json()["error"].lower()


def test_h31_url_redirect_to_a_private_address(gateway: Gateway, allowed_server: str) -> None:
    response = url_error(gateway, f"{allowed_server}/to-private")
    assert response.status_code == 400, response.text


def test_h32_url_allowed_host_still_works(gateway: Gateway, allowed_server: str) -> None:
    response = url_error(gateway, f"{allowed_server}/jfk.wav")
    assert response.status_code == 200, response.text
    assert "americans" in " ".join(s["text"] for s in response.json()["segments"]).lower()


# -- WebSocket ------------------------------------------------------------------------------


def test_w01_unparsable_upgrade_target(gateway: Gateway) -> None:
    for target in ("//%", "/%zz?token=%E0%A4%A", "*", "http://[::1"):
        reply = raw_exchange(gateway.ws_port, [upgrade_head(target)], wait_s=3, head_only=True)
        assert reply.status in (101, 400), (target, reply.data[:100])


def test_w02_plain_http_on_the_websocket_port(gateway: Gateway) -> None:
    reply = raw_exchange(gateway.ws_port, [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"], wait_s=3)
    assert reply.status == 426


def test_w03_bad_websocket_version(gateway: Gateway) -> None:
    head = upgrade_head("/").replace(b"Version: 13", b"Version: 99")
    reply = raw_exchange(gateway.ws_port, [head], wait_s=3)
    assert reply.status in (400, 426)


def test_w04_first_frame_not_json(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", "hello, server")])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w05_first_frame_binary(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("binary", speech_f32(0.5))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w06_first_frame_array(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", json.dumps([{"uid": "x"}]))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w07_options_without_uid(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", json.dumps({"language": "en"}))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w08_options_of_wrong_types(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w8", use_vad="yes", send_last_n_segments=-1))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008
    assert outcome.messages[0]["uid"] == "w8"
    assert "use_vad" in str(outcome.messages[0]["message"])


def test_w09_unknown_language(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w9", language="klingon"))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008
    assert "language" in str(outcome.messages[0]["message"])


def test_w10_huge_uid(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", json.dumps({"uid": "u" * 100_000}))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w11_huge_initial_prompt(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w11", initial_prompt="word " * 40_000))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w12_unterminated_options_full_of_escapes(gateway: Gateway) -> None:
    frame = '{"uid": "w12", "initial_prompt": "' + '\\"' * 100_000
    started = time.monotonic()
    outcome = ws_session(gateway, [("text", frame)])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008
    assert time.monotonic() - started < 2


def test_w13_no_options_in_time(gateway: Gateway) -> None:
    started = time.monotonic()
    outcome = ws_session(gateway, [], wait_s=6)
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008
    assert 1.5 < time.monotonic() - started < 4


def test_w14_odd_byte_count(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w14")), ("binary", b"\x00\x01\x02")])
    # The frame may arrive before or after SERVER_READY; the session ends on it either way.
    assert outcome.statuses()[-1] == "ERROR"
    assert "whole number" in str(outcome.messages[-1]["message"])
    assert outcome.close_code == 1007


def test_w15_nan_and_inf_samples(gateway: Gateway) -> None:
    bad = np.array([np.nan, np.inf, -np.inf, 1e30] * 4000, dtype="<f4").tobytes()
    frames = [("text", options("w15")), ("binary", bad), ("binary", speech_f32(4.0))]
    outcome = ws_session(gateway, [*frames, ("binary", b"END_OF_AUDIO")], wait_s=30)
    assert "ERROR" not in outcome.statuses(), outcome.messages
    assert outcome.close_code == 1000


def test_w16_thousands_of_tiny_frames(gateway: Gateway) -> None:
    audio = speech_f32(3.0)
    tiny = [("binary", audio[i : i + 8]) for i in range(0, len(audio), 8)]
    started = time.monotonic()
    outcome = ws_session(
        gateway, [("text", options("w16")), *tiny, ("binary", b"END_OF_AUDIO")], wait_s=30
    )
    assert "ERROR" not in outcome.statuses(), outcome.messages
    assert outcome.close_code == 1000
    assert time.monotonic() - started < 20


def test_w17_audio_after_end_of_audio(gateway: Gateway) -> None:
    frames = [
        ("text", options("w17")),
        ("binary", speech_f32(2.0)),
        ("binary", b"END_OF_AUDIO"),
        ("binary", speech_f32(1.0)),
        ("binary", speech_f32(1.0)),
    ]
    outcome = ws_session(gateway, frames, wait_s=30)
    assert "ERROR" not in outcome.statuses(), outcome.messages
    assert outcome.close_code == 1000


def test_w18_end_of_audio_first(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("binary", b"END_OF_AUDIO")])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


def test_w19_oversized_frame(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w19")), ("binary", bytes(300_000))])
    assert outcome.close_code == 1009 or outcome.error is not None


def test_w20_invalid_utf8_text_frame(gateway: Gateway) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{gateway.ws_port}", timeout=5)
    frame = websocket.ABNF.create_frame(b"\xff\xfe{", websocket.ABNF.OPCODE_TEXT)
    frame.get_mask_key = lambda n: b"\0" * n  # type: ignore[method-assign]
    ws.sock.sendall(frame.format())
    code = None
    try:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big")
    except websocket.WebSocketConnectionClosedException:
        code = -1
    ws.close()
    assert code in (1007, -1)


def test_w21_abrupt_disconnect_mid_stream(gateway: Gateway) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{gateway.ws_port}", timeout=10)
    ws.send(options("w21"))
    assert json.loads(ws.recv())["message"] == "SERVER_READY"
    ws.send_binary(speech_f32(3.0))
    ws.sock.close()  # no close frame: the TCP connection just ends


def test_w22_many_idle_sockets(gateway: Gateway) -> None:
    idle = [
        websocket.create_connection(f"ws://127.0.0.1:{gateway.ws_port}", timeout=10)
        for _ in range(20)
    ]
    try:
        # Others are served meanwhile.
        outcome = ws_session(
            gateway,
            [("text", options("w22")), ("binary", speech_f32(1.0)), ("binary", b"END_OF_AUDIO")],
        )
        assert outcome.close_code == 1000 and "ERROR" not in outcome.statuses()
        # And the idle ones are dropped once the options timeout passes.
        for ws in idle:
            ws.settimeout(6)
            opcode, data = ws.recv_data(control_frame=True)
            while opcode != websocket.ABNF.OPCODE_CLOSE:
                opcode, data = ws.recv_data(control_frame=True)
            assert int.from_bytes(data[:2], "big") == 1008
    finally:
        for ws in idle:
            ws.close()


def test_w23_options_sent_twice(gateway: Gateway) -> None:
    frames = [("text", options("w23")), ("text", options("w23b")), ("binary", b"END_OF_AUDIO")]
    outcome = ws_session(gateway, frames)
    assert outcome.messages[0]["message"] == "SERVER_READY"
    assert outcome.close_code in (1000, 1008)


def test_w24_unsupported_audio_format(gateway: Gateway) -> None:
    outcome = ws_session(gateway, [("text", options("w24", audio_format="mp3"))])
    assert outcome.statuses() == ["ERROR"] and outcome.close_code == 1008


# -- the catalogue itself ---------------------------------------------------------------------


# -- OpenAI Realtime ----------------------------------------------------------------------


def realtime(gateway: Gateway, query: str = "?intent=transcription") -> websocket.WebSocket:
    """A Realtime session past its `session.created`."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{gateway.http_port}/v1/realtime{query}", timeout=10
    )
    if "intent=transcription" in query:
        assert json.loads(ws.recv())["type"] == "session.created"
    return ws


def realtime_error(ws: websocket.WebSocket, event: str | bytes) -> dict:
    """Sends one event; the `error` it is answered with, after checking the session goes on."""
    if isinstance(event, bytes):
        ws.send_binary(event)
    else:
        ws.send(event)
    answer = json.loads(ws.recv())
    assert answer["type"] == "error", answer
    assert set(answer["error"]) == {"type", "code", "message", "param", "event_id"}
    ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    assert json.loads(ws.recv())["type"] == "input_audio_buffer.cleared"
    return answer["error"]


def pcm24k_b64(ms: int) -> str:
    samples = np.frombuffer(JFK[44:], dtype="<i2")[: ms * 16]
    return base64.b64encode(np.repeat(samples, 3)[::2].astype("<i2").tobytes()).decode()


def test_r01_not_json(gateway: Gateway) -> None:
    ws = realtime(gateway)
    error = realtime_error(ws, "{oops")
    ws.close()
    assert (error["code"], error["type"], error["event_id"]) == (
        "invalid_json",
        "invalid_request_error",
        None,
    )


def test_r02_conversation_and_unknown_event_types(gateway: Gateway) -> None:
    ws = realtime(gateway)
    for kind in ("response.create", "input_audio_buffer.flush"):
        error = realtime_error(ws, json.dumps({"type": kind, "event_id": "r02"}))
        assert (error["code"], error["param"], error["event_id"]) == (
            "invalid_value",
            "type",
            "r02",
        )
    ws.close()


def test_r03_append_not_base64(gateway: Gateway) -> None:
    ws = realtime(gateway)
    event = {"type": "input_audio_buffer.append", "event_id": "r03", "audio": "not base64!"}
    error = realtime_error(ws, json.dumps(event))
    ws.close()
    assert (error["code"], error["param"], error["event_id"]) == ("invalid_value", "audio", "r03")


def test_r04_wrong_session_type_and_format(gateway: Gateway) -> None:
    ws = realtime(gateway)
    wrong_type = {"type": "session.update", "session": {"type": "realtime"}}
    opus = {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {"input": {"format": {"type": "audio/opus"}}},
        },
    }
    params = [realtime_error(ws, json.dumps(event))["param"] for event in (wrong_type, opus)]
    ws.close()
    assert params == ["session.type", "session.audio.input.format.type"]


def test_r05_commit_of_50_ms(gateway: Gateway) -> None:
    ws = realtime(gateway)
    ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": pcm24k_b64(50)}))
    error = realtime_error(ws, json.dumps({"type": "input_audio_buffer.commit"}))
    ws.close()
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert "buffer only has 50.00ms of audio" in error["message"]


def test_r06_binary_frame(gateway: Gateway) -> None:
    ws = realtime(gateway)
    error = realtime_error(ws, b"\x00\x01")
    ws.close()
    assert error["code"] == "invalid_type"


def test_r07_event_over_the_size_limit(gateway: Gateway) -> None:
    ws = realtime(gateway)
    code = None
    try:
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 300_000}))
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big")
    except (websocket.WebSocketException, OSError):
        code = -1
    ws.close()
    assert code in (1009, -1)


def test_r08_conversation_session_url(gateway: Gateway) -> None:
    ws = realtime(gateway, "?model=gpt-4o-realtime-preview")
    answer = json.loads(ws.recv())
    opcode, data = ws.recv_data(control_frame=True)
    ws.close()
    assert answer["type"] == "error" and answer["error"]["code"] == "invalid_intent"
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(data[:2], "big") == 1008


def test_r09_abrupt_disconnect_mid_stream(gateway: Gateway) -> None:
    ws = realtime(gateway)
    for _ in range(10):
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": pcm24k_b64(100)}))
    assert wait_for(lambda: active_streams(gateway) == 1, 10)
    ws.sock.close()  # no close frame; assert_clean checks the worker stream is released


def test_r10_plain_http_request(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.base_url}/v1/realtime?intent=transcription", timeout=10)
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.json()["error"]["code"] == "upgrade_required"


def catalogue_ids() -> list[str]:
    return re.findall(r"^\| ([HWR]\d\d) \|", CATALOGUE.read_text(encoding="utf-8"), re.MULTILINE)


def test_every_catalogue_row_has_its_test() -> None:
    ids = catalogue_ids()
    assert len(ids) >= 40 and len(ids) == len(set(ids)), ids
    tests = {name.split("_")[1].upper() for name in globals() if re.match(r"test_[hwr]\d\d_", name)}
    assert set(ids) == tests
