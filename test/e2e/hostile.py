"""Helpers of the bad-input catalogue: raw HTTP, raw WebSocket sessions and the leak checks
every catalogue row ends with (the server answers, its temp directory is empty, no worker
stream is left open, no ffmpeg is left running)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websocket  # websocket-client

from .conftest import Gateway, wait_for


def png_bytes() -> bytes:
    """A valid 1x1 PNG image: content that is plainly not audio, whatever its name."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


@dataclass
class RawReply:
    """What came back on a raw TCP connection."""

    data: bytes
    elapsed_s: float
    closed: bool

    @property
    def status(self) -> int | None:
        head = self.data.split(b"\r\n", 1)[0]
        parts = head.split(b" ")
        if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.1") and parts[1].isdigit():
            return int(parts[1])
        return None


def raw_exchange(
    port: int,
    pieces: list[bytes],
    pause_s: float = 0.0,
    wait_s: float = 5.0,
    *,
    head_only: bool = False,
) -> RawReply:
    """Writes `pieces` (pausing between them, reading what comes meanwhile) and reads until
    the server closes or `wait_s` has passed since the connection opened; with `head_only`,
    only until the answer's head is complete (an accepted upgrade is never closed)."""
    started = time.monotonic()
    deadline = started + wait_s
    data = b""
    closed = False

    def read_for(seconds: float) -> None:
        nonlocal data, closed
        until = min(deadline, time.monotonic() + seconds)
        while not closed and time.monotonic() < until:
            readable, _, _ = select.select([sock], [], [], max(0.0, until - time.monotonic()))
            if not readable:
                return
            try:
                chunk = sock.recv(65536)
            except OSError:
                closed = True
                return
            if not chunk:
                closed = True
                return
            data += chunk
            if head_only and b"\r\n\r\n" in data:
                return

    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        for piece in pieces:
            if closed or time.monotonic() >= deadline:
                break
            try:
                sock.sendall(piece)
            except OSError:
                break  # the server closed while we still wrote: its answer is what it read
            read_for(pause_s)
        if not (head_only and b"\r\n\r\n" in data):
            read_for(max(0.0, deadline - time.monotonic()))
    return RawReply(data, time.monotonic() - started, closed)


def upgrade_head(target: str, *headers: str) -> bytes:
    """A WebSocket upgrade request for `target`."""
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *headers,
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1")


@dataclass
class WsOutcome:
    """Everything a WebSocket session got: text messages (parsed) and how it closed."""

    messages: list[dict[str, object]] = field(default_factory=list)
    close_code: int | None = None
    error: str | None = None

    def statuses(self) -> list[object]:
        return [m.get("status") for m in self.messages]


def ws_session(
    gateway: Gateway,
    frames: list[tuple[str, bytes | str]],
    *,
    wait_s: float = 10.0,
    pause_s: float = 0.0,
) -> WsOutcome:
    """Opens a session, sends `frames` ("text"/"binary", payload) and reads to the close."""
    outcome = WsOutcome()
    ws = websocket.create_connection(f"ws://127.0.0.1:{gateway.ws_port}", timeout=wait_s)
    try:
        for kind, payload in frames:
            try:
                if kind == "text":
                    ws.send(payload if isinstance(payload, str) else payload.decode())
                else:
                    ws.send_binary(payload if isinstance(payload, bytes) else payload.encode())
            except (websocket.WebSocketException, OSError) as error:
                outcome.error = type(error).__name__
                break
            if pause_s:
                time.sleep(pause_s)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketConnectionClosedException:
                break
            except (websocket.WebSocketTimeoutException, OSError) as error:
                outcome.error = outcome.error or type(error).__name__
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                outcome.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                break
            if opcode == websocket.ABNF.OPCODE_TEXT:
                outcome.messages.append(json.loads(data))
    finally:
        with contextlib.suppress(Exception):
            ws.close()
    return outcome


def proc_children(parent_pid: int) -> list[tuple[int, str, str]]:
    """(pid, command name, state) of every process whose parent is `parent_pid`."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(ppid) == parent_pid:
            children.append((int(entry.name), comm, state))
    return children


def ffmpeg_children(pid: int) -> list[int]:
    """Pids of ffmpeg processes whose parent is `pid`."""
    return [child for child, comm, _ in proc_children(pid) if comm == "ffmpeg"]


def active_streams(gateway: Gateway) -> int | None:
    """The worker's open streams as `/health` reports them (None when not reported)."""
    body = httpx.get(f"{gateway.base_url}/health", timeout=5).json()
    load = body.get("load")
    return None if load is None else int(load["active_streams"])


def assert_clean(gateway: Gateway) -> None:
    """The server still answers, the row left nothing behind, and no input reached the
    gateway's last-resort handlers (an uncaught exception or an unhandled rejection)."""
    assert gateway.process is not None and gateway.process.poll() is None, "gateway exited"
    log = gateway.log_path.read_text(errors="replace")
    for last_resort in ("uncaught exception", "unhandled promise rejection"):
        assert last_resort not in log, gateway.log_tail()
    started = time.monotonic()
    assert httpx.get(f"{gateway.base_url}/health", timeout=5).status_code == 200
    assert time.monotonic() - started < 2, "health check was slow"
    assert wait_for(lambda: gateway.temp_files() == [], 5), gateway.temp_files()
    assert wait_for(lambda: active_streams(gateway) == 0, 10), (
        "a worker stream is still open: " + httpx.get(f"{gateway.base_url}/health", timeout=5).text
    )
    assert wait_for(lambda: ffmpeg_children(gateway.process.pid) == [], 5), "ffmpeg left running"
