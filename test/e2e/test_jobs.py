"""Long files as jobs, on the real product (tiny.en): progress events, results equal to the
synchronous endpoint's, the CLI, a gateway SIGKILL, cancellation and live latency beside a
full queue.

The 13.5-minute longform file runs once (the job followed by the CLI and by an SSE reader
at once); the other checks use short real speech, to keep `make test` within its budget.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from faster_whisper.audio import decode_audio

from stt.v1 import transcriber_pb2, transcriber_pb2_grpc

from .conftest import REPO, TINY_EN, Gateway, Worker, record_latency, record_metric
from .live_client import RATE, StreamResult, run_stream
from .speech import AUDIO_DIR, clip, wer

LONG_FILE = "longform/lj003_nonnative_0001_0098_concat.flac"
HALF_MINUTE = "samples/micro_machines.flac"
SHORT = "samples/picovoice_test_en.flac"
THREE_MINUTES = "longform/ljspeech_LJ001-0001_0025_concat.flac"
CLI = REPO / "dist" / "gateway" / "cli" / "jobs.js"


def submit(client: httpx.Client, relative: str, **fields: str) -> dict[str, Any]:
    path = AUDIO_DIR / relative
    with path.open("rb") as handle:
        response = client.post("/v1/jobs", files={"file": (path.name, handle)}, data=fields)
    assert response.status_code == 202, response.text
    jobs = response.json()["jobs"]
    assert len(jobs) == 1 and jobs[0]["status"] == "queued"
    return dict(jobs[0])


def follow_events(base_url: str, job_id: str, timeout_s: float = 900) -> list[dict[str, Any]]:
    """Every SSE event of a job until `done`: {"id", "event", "data"}."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with httpx.stream(
        "GET", f"{base_url}/v1/jobs/{job_id}/events", timeout=httpx.Timeout(timeout_s)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                events.append(current)
                current = {}
                if events[-1]["event"] == "done":
                    break
    return events


def wait_status(client: httpx.Client, job_id: str, status: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == status:
            return dict(job)
        time.sleep(0.25)  # the rate limit allows 10 requests a second
    raise AssertionError(f"job {job_id} not {status} in {timeout_s}s: {job}")


def assert_progress_rises_to_one(events: list[dict[str, Any]]) -> list[float]:
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    progress = [float(e["data"]["progress"]) for e in events if e["event"] == "progress"]
    assert len(progress) >= 2
    assert all(b >= a for a, b in itertools.pairwise(progress)), progress
    assert progress[-1] == 1.0
    assert events[-1]["event"] == "done" and events[-1]["data"]["status"] == "completed"
    return progress


SRT_CUE = re.compile(r"^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+$")
VTT_CUE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n.+$")


def test_a_job_reports_progress_and_its_result_equals_the_synchronous_one(
    tiny_gateway: Gateway,
) -> None:
    with httpx.Client(base_url=tiny_gateway.base_url, timeout=300) as client:
        job = submit(client, HALF_MINUTE, response_format="verbose_json")
        events = follow_events(tiny_gateway.base_url, job["id"])
        progress = assert_progress_rises_to_one(events)
        segments = [e["data"]["text"] for e in events if e["event"] == "segment"]
        assert segments, events
        status = client.get(f"/v1/jobs/{job['id']}").json()
        assert status["progress"] == 1.0
        assert status["audio_seconds_done"] == pytest.approx(29.888, abs=0.1)
        assert status["audio_seconds_total"] == pytest.approx(29.888, abs=0.1)
        assert status["started_at"] >= status["created_at"]
        assert status["finished_at"] >= status["started_at"]

        # Jobs keep segment times (any format may be asked later), as verbose_json does.
        with (AUDIO_DIR / HALF_MINUTE).open("rb") as handle:
            sync = client.post(
                "/v1/audio/transcriptions",
                files={"file": (HALF_MINUTE, handle)},
                data={"response_format": "verbose_json"},
            )
        assert sync.status_code == 200
        result = client.get(f"/v1/jobs/{job['id']}/result")
        assert result.json()["text"] == sync.json()["text"]
        assert result.json()["segments"] == sync.json()["segments"]
        text = sync.json()["text"]
        assert " ".join(s.strip() for s in segments) == text
        # The Micro Machines ad is very fast speech: tiny.en gets about 0.45 of it wrong.
        assert wer([clip(HALF_MINUTE).text], [text]) <= 0.55

        formats = {
            f: client.get(f"/v1/jobs/{job['id']}/result", params={"response_format": f})
            for f in ("json", "text", "srt", "verbose_json", "vtt")
        }
        assert all(r.status_code == 200 for r in formats.values())
        assert formats["json"].json() == {"text": text}
        assert formats["text"].text == text + "\n"
        cues = formats["srt"].text.strip().split("\n\n")
        assert cues and all(SRT_CUE.match(cue) for cue in cues), formats["srt"].text
        vtt = formats["vtt"].text
        assert vtt.startswith("WEBVTT\n\n")
        assert all(VTT_CUE.match(cue) for cue in vtt[len("WEBVTT\n\n") :].strip().split("\n\n"))
        verbose = formats["verbose_json"].json()
        assert verbose["duration"] == pytest.approx(29.888, abs=0.1)
        assert all(s["start"] <= s["end"] for s in verbose["segments"])
    record_metric("job on a 30 s file: progress events", str(len(progress)))


@pytest.fixture
def own_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A worker the test starts itself, so it outlives a gateway killed with SIGKILL.

    Killed at the end: a cancelled stream's engine call may still be running, and its CPU
    must not slow the live-latency test that follows.
    """
    root = tmp_path_factory.mktemp("jobs-worker")
    worker = Worker(log_path=root / "worker.log", model_dir=TINY_EN)
    worker.start()
    try:
        yield worker
    finally:
        worker.kill()


def worker_load(worker: Worker) -> transcriber_pb2.WorkerLoad:
    with grpc.insecure_channel(worker.address) as channel:
        stub = transcriber_pb2_grpc.TranscriberServiceStub(channel)
        info = stub.GetWorkerInfo(transcriber_pb2.GetWorkerInfoRequest(), timeout=5)
    return info.load


def test_a_job_survives_a_gateway_sigkill_and_cancelling_frees_the_worker(
    tmp_path: Path, own_worker: Worker
) -> None:
    gateway = Gateway(
        log_path=tmp_path / "gateway.log",
        tmp_dir=tmp_path / "uploads",
        model_dir=TINY_EN,
        worker_address=own_worker.address,
    )
    gateway.start()
    try:
        gateway.wait_healthy()
        with httpx.Client(base_url=gateway.base_url, timeout=60) as client:
            job = submit(client, HALF_MINUTE, response_format="text")
            wait_status(client, job["id"], "running", 60)
            assert gateway.process is not None
            gateway.process.send_signal(signal.SIGKILL)
            gateway.process.wait()
            gateway.start()  # same data directory
            gateway.wait_healthy()
            done = wait_status(client, job["id"], "completed", 180)
            assert done["progress"] == 1.0
            text = client.get(f"/v1/jobs/{job['id']}/result").text
            assert wer([clip(HALF_MINUTE).text], [text]) <= 0.55

            # Cancel a running job while the worker decodes it: the worker's stream ends and
            # its queued chunks are dropped at once (a batch already in the engine finishes:
            # CTranslate2 cannot stop inside a call; see the README's Jobs section).
            running = submit(client, THREE_MINUTES)
            deadline = time.monotonic() + 120
            while worker_load(own_worker).active_streams == 0:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(1.0)  # the audio is in; the worker is finding speech and decoding
            assert client.get(f"/v1/jobs/{running['id']}").json()["status"] == "running"
            cancelled_at = time.monotonic()
            response = client.delete(f"/v1/jobs/{running['id']}")
            assert response.status_code == 200 and response.json()["status"] == "cancelled"
            while True:
                load = worker_load(own_worker)
                freed_s = time.monotonic() - cancelled_at
                if load.active_streams == 0 and load.queue_depth == 0:
                    break
                assert freed_s < 1.0, load
                time.sleep(0.02)
        record_metric("cancelled job: worker free after", f"{freed_s:.3f} s")
    finally:
        gateway.stop()


def test_fifty_queued_jobs_leave_live_latency_within_bounds(tiny_gateway: Gateway) -> None:
    with httpx.Client(base_url=tiny_gateway.base_url, timeout=120) as client:
        files = [("file", (f"{i}.flac", (AUDIO_DIR / SHORT).read_bytes())) for i in range(25)]
        jobs = []
        for _ in range(2):  # 50 jobs, in two requests of 25 files
            response = client.post("/v1/jobs", files=files, data={"response_format": "text"})
            assert response.status_code == 202, response.text
            jobs.extend(response.json()["jobs"])
        assert len(jobs) == 50
        result = StreamResult()
        audio = decode_audio(str(AUDIO_DIR / THREE_MINUTES))[: int(30 * RATE)]
        run_stream(f"ws://127.0.0.1:{tiny_gateway.ws_port}", audio, "tiny.en", result, tail_s=30)
        assert result.error is None, result.error
        assert len(result.latencies) >= 3
        p95 = record_latency(
            "live beside 50 queued jobs: committed latency p50 / p95", result.latencies
        )
        # The bound of test_capacity.py's live session beside a long file.
        assert p95 < 3.0, result.latencies
        for job in jobs:
            done = wait_status(client, job["id"], "completed", 300)
            assert done["error"] is None
        text = client.get(f"/v1/jobs/{jobs[-1]['id']}/result").text
        assert wer([clip(SHORT).text], [text]) <= 0.25


def test_the_cli_follows_a_long_file_to_its_transcript(tiny_gateway: Gateway) -> None:
    """The 13.5-minute file as a job, through the CLI, with an SSE reader alongside."""
    path = AUDIO_DIR / LONG_FILE
    started = time.monotonic()
    cli = subprocess.Popen(
        ["node", str(CLI), "--url", tiny_gateway.base_url, "--format", "text", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert cli.stderr is not None
    first = cli.stderr.readline()
    match = re.match(r"^job (job_[0-9a-f]{24}) queued$", first.strip())
    assert match, first
    job_id = match.group(1)
    events: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: events.extend(follow_events(tiny_gateway.base_url, job_id))
    )
    reader.start()
    stdout, stderr = cli.communicate(timeout=900)
    elapsed_s = time.monotonic() - started
    reader.join(60)
    assert cli.returncode == 0, stderr
    lines = [first.strip(), *stderr.splitlines()]
    percents = [int(m.group(1)) for line in lines if (m := re.match(r"^progress (\d+)% ", line))]
    assert len(percents) >= 5 and percents == sorted(percents) and percents[-1] == 100, lines
    progress = assert_progress_rises_to_one(events)

    with httpx.Client(base_url=tiny_gateway.base_url, timeout=600) as client:
        result = client.get(f"/v1/jobs/{job_id}/result", params={"response_format": "text"})
        job = client.get(f"/v1/jobs/{job_id}").json()
        # The same file through the synchronous endpoint (segment times kept, as jobs do).
        with path.open("rb") as audio:
            sync = client.post(
                "/v1/audio/transcriptions",
                files={"file": (path.name, audio)},
                data={"response_format": "verbose_json"},
            )
    assert sync.status_code == 200, sync.text
    assert stdout.strip() == sync.json()["text"].strip()
    assert stdout == result.text
    segments = [e["data"]["text"].strip() for e in events if e["event"] == "segment"]
    assert " ".join(s for s in segments if s) + "\n" == stdout
    assert job["audio_seconds_total"] == pytest.approx(810.661, abs=0.5)
    error = wer([clip(LONG_FILE).text], [stdout])
    assert error <= 0.2, error
    record_metric(
        "13.5-min file as a job via the CLI",
        f"{elapsed_s:.0f} s, {len(progress)} progress events, WER {error:.3f}",
    )
