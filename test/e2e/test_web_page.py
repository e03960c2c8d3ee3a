"""The web page at `/` in headless Chromium, against the real gateway and worker (tiny.en).

Debian's `chromium` (`make install-browser`) is driven by playwright-core through
browser_driver.mjs; its fake microphone plays real speech (`--use-file-for-fake-audio-capture`,
in real time). The driver only operates the page and reports what it showed and sent; the
assertions are here, beside the server fixtures (conftest.py) and the WER scoring of
speech.py (Whisper's normaliser), which the other end-to-end tests use too.

Screenshots of every step: test-artifacts/browser/<step>.png (git-ignored). Nothing here
depends on timing: the driver waits for states the page shows (`data-state`), and stops the
microphone once the page has sent the whole clip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from faster_whisper.audio import decode_audio

from .conftest import TINY_EN, Gateway, record_metric, serve
from .speech import REPO, Clip, clip, wer, write_wav

CHROMIUM = Path(os.environ.get("STT_CHROMIUM", "/usr/bin/chromium"))
DRIVER = REPO / "test" / "e2e" / "browser_driver.mjs"
ARTIFACTS = REPO / "test-artifacts" / "browser"
JFK = clip("jfk.flac")
# Most uploads use a 2 s clip: each is a real transcription on two shared cores.
SHORT = clip("samples/ms_whatstheweatherlike.wav")
API_KEY = "web-page-test-key"
MAX_WER = 0.15
MAX_LIVE_WER = 0.23
# Silence after the speech in the microphone's clip: without right context tiny.en's last
# words are less sure, and a speaker pauses before pressing stop anyway.
PAUSE_S = 1.5
# The driver's own waits bound each step; this only catches a hung browser.
DRIVER_TIMEOUT_S = 300
# OpenAI Realtime from the page: short clips tiny.en gets right offline (test_realtime.py's),
# one per turn, with pauses longer than the server VAD's 500 ms between them. The last clip's
# speech runs to its end (the others end in 0.4-0.8 s of quiet) and only a short pause
# follows it, so the stop's commit, not a pause, ends the last turn.
TURNS = (
    clip("samples/ms_whatstheweatherlike.wav"),
    clip("librispeech/test-clean/1089-134691-0000.flac"),
    clip("lj_prompts_nonnative/LJ001-0125.flac"),
)
TURN_GAP_S = 1.5
LAST_PAUSE_S = 0.1
MAX_REALTIME_TURN_WER = 0.25
MIC_RATE = 48_000


@pytest.fixture(scope="module", autouse=True)
def _browser() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make install-browser` (Debian's chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JFK as a 48 kHz mono WAV (the page resamples 48k→16k), with the pause a speaker
    leaves before pressing stop (PAUSE_S)."""
    path = tmp_path_factory.mktemp("microphone") / "jfk-48k.wav"
    convert = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(JFK.path), "-ac", "1"]
    pad = ["-af", f"apad=pad_dur={PAUSE_S}", "-ar", "48000", "-c:a", "pcm_s16le"]
    subprocess.run([*convert, *pad, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def turns_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TURNS as a 48 kHz mono WAV: a pause after each but the last, a short one after it."""
    pieces: list[np.ndarray] = []
    for i, turn in enumerate(TURNS):
        pieces.append(decode_audio(str(turn.path), sampling_rate=MIC_RATE))
        pause_s = LAST_PAUSE_S if i == len(TURNS) - 1 else TURN_GAP_S
        pieces.append(np.zeros(round(pause_s * MIC_RATE), dtype=np.float32))
    path = tmp_path_factory.mktemp("microphone") / "turns-48k.wav"
    write_wav(path, np.concatenate(pieces), MIC_RATE)
    return path


def turns_duration_s(turns: tuple[Clip, ...]) -> float:
    return sum(t.duration_s for t in turns) + TURN_GAP_S * (len(turns) - 1) + LAST_PAUSE_S


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The product on tiny.en with an API key configured."""
    yield from serve(tmp_path_factory, "web-keyed-gateway", TINY_EN, {"GATEWAY_API_KEYS": API_KEY})


def drive(
    tmp_path: Path, gateway: Gateway, steps: list[dict[str, Any]], fake_audio: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Runs the steps in one headless Chromium; returns each step's report by name."""
    plan: dict[str, Any] = {
        "chromium": str(CHROMIUM),
        "baseUrl": f"{gateway.base_url}/",
        "screenshotDir": str(ARTIFACTS),
        "steps": steps,
    }
    if fake_audio is not None:
        plan["fakeAudio"] = str(fake_audio)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan))
    result = subprocess.run(
        ["node", str(DRIVER), str(plan_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{result.stderr[-4000:]}\ngateway log:\n{gateway.log_tail()}"
    reports: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])["steps"]
    for name, report in reports.items():
        assert report["problems"] == [], (name, report["problems"])
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 0
    return reports


def upload(name: str, file: Path, api_key: str | None = None, **fields: Any) -> dict[str, Any]:  # noqa: ANN401
    step: dict[str, Any] = {"name": name, "kind": "upload", "file": str(file), "fields": fields}
    if api_key is not None:
        step["apiKey"] = api_key
    return step


def jfk_wer(text: str) -> float:
    return wer([JFK.text], [text])


def short_wer(text: str) -> float:
    return wer([SHORT.text], [text])


def test_live_microphone_shows_partial_then_committed_text(
    tiny_gateway: Gateway, microphone_wav: Path, tmp_path: Path
) -> None:
    live = drive(
        tmp_path,
        tiny_gateway,
        [
            {
                "name": "live-microphone",
                "kind": "live",
                "language": "en",
                # The whole clip (less a margin for the last, shorter frame).
                "playSeconds": JFK.duration_s + PAUSE_S - 0.3,
            }
        ],
        microphone_wav,
    )["live-microphone"]

    assert live["state"] == "done", live["statuses"]
    states = [line.split(":", 1)[0] for line in live["statuses"]]
    assert states.index("listening") < states.index("finishing") < states.index("done"), states
    score = jfk_wer(live["committed"])
    record_metric("web page live microphone WER (jfk, tiny.en)", f"{score:.1%}")
    wait_s = (live["stateMs"]["done"] - live["stateMs"]["finishing"]) / 1000
    record_metric("web page live microphone, stop to final transcript", f"{wait_s:.1f} s")
    # Live on a loaded CI machine decodes every 0.7-1.5 s: the policy simulated at such
    # cycles (bench/live_policy_sim.py) measured 0-13.6 %, "am I" for "my" and "What's" for
    # "What" being tiny.en's readings of short first windows. Through the page (48 kHz
    # microphone, resampled in the browser) 13 runs measured 4.5-13.6 % but one 22.7 %:
    # "That's not" for "Ask not" and a trailing "great." after the last word. Five such
    # words still pass; the page's own path (partials, then all committed) is the point.
    assert score <= MAX_LIVE_WER, live["committed"]
    # Uncompleted text was shown in its own element while speech went on, and after the
    # stop everything is committed.
    assert any(s["partial"] for s in live["snapshots"]), live["snapshots"]
    assert live["partial"] == ""
    assert live["liveText"].split() == live["committed"].split()

    frames = live["framesSent"]
    options = json.loads(frames["first"])
    assert options["uid"]
    assert {k: options[k] for k in ("language", "task", "model", "use_vad")} == {
        "language": "en",
        "task": "transcribe",
        "model": "whisper-1",
        "use_vad": True,
    }
    # 4096 float32 samples a frame, one shorter last frame, then END_OF_AUDIO (binary).
    sizes = {int(size): count for size, count in frames["binarySizes"].items()}
    assert sizes.pop(4096 * 4) >= 40
    assert sizes.pop(12) == 1
    assert sum(sizes.values()) <= 1
    assert frames["last"] == {"bytes": 12, "ascii": "END_OF_AUDIO"}
    assert live["sentSeconds"] == pytest.approx(JFK.duration_s + PAUSE_S, abs=0.6)


def test_realtime_microphone_shows_each_turn_in_progress_then_completed(
    tiny_gateway: Gateway, turns_wav: Path, tmp_path: Path
) -> None:
    total_s = turns_duration_s(TURNS)
    live = drive(
        tmp_path,
        tiny_gateway,
        [
            {
                "name": "realtime-microphone",
                "kind": "live",
                "protocol": "realtime",
                "language": "en",
                # The whole clip (less a margin for the last, shorter append).
                "playSeconds": total_s - 0.1,
            }
        ],
        turns_wav,
    )["realtime-microphone"]

    assert live["state"] == "done", live["statuses"]
    assert live["status"] == "Done: the final transcript is in."
    states = [line.split(":", 1)[0] for line in live["statuses"]]
    assert "warning" not in states and "error" not in states, live["statuses"]
    assert states.index("listening") < states.index("finishing") < states.index("done"), states
    # One completed line per utterance, in order; the last one ended by the stop's commit.
    turns = live["turns"]
    assert [t["state"] for t in turns] == ["completed"] * len(TURNS), turns
    scores = [wer([c.text], [t["text"]]) for c, t in zip(TURNS, turns, strict=True)]
    overall = wer([" ".join(c.text for c in TURNS)], [" ".join(t["text"] for t in turns)])
    record_metric("web page Realtime microphone WER (3 turns, tiny.en)", f"{overall:.1%}")
    wait_s = (live["stateMs"]["done"] - live["stateMs"]["finishing"]) / 1000
    record_metric("web page Realtime microphone, stop to final transcript", f"{wait_s:.1f} s")
    assert max(scores) <= MAX_REALTIME_TURN_WER, (scores, turns)
    # Each turn was shown in progress (pending at speech, then its deltas) before its final
    # text, and the transcript area holds nothing else.
    shown = [turn for snapshot in live["snapshots"] for turn in snapshot["turns"]]
    assert any(t["state"] == "pending" for t in shown), live["snapshots"]
    assert any(t["state"] == "partial" and t["text"] for t in shown), live["snapshots"]

    def squeezed(text: str) -> str:
        return "".join(text.split())

    assert squeezed(live["liveText"]) == squeezed("".join(t["text"] for t in turns))
    assert live["committed"] == live["partial"] == ""

    frames = live["framesSent"]
    assert json.loads(frames["first"]) == {
        "type": "session.update",
        "event_id": "page_session_update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "whisper-1", "language": "en"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                }
            },
        },
    }
    # 100 ms appends (2400 PCM16 samples), one shorter last one, then the stop's commit.
    appends = {int(size): count for size, count in frames["appendBytes"].items()}
    assert appends.pop(4800) >= round(10 * (total_s - 0.5))
    assert sum(appends.values()) <= 1
    assert frames["binaryCount"] == 0
    assert frames["textTypes"]["input_audio_buffer.commit"] == 1
    assert json.loads(frames["last"]["text"]) == {
        "type": "input_audio_buffer.commit",
        "event_id": "page_stop_commit",
    }
    assert live["sentSeconds"] == pytest.approx(total_s, abs=0.4)
    # The server's pauses ended the first turns; the commit ended the last, mid-pause.
    received = frames["receivedTypes"]
    assert received["input_audio_buffer.speech_stopped"] == len(TURNS) - 1, received
    assert received["input_audio_buffer.committed"] == len(TURNS), received
    assert "error" not in received, received


def test_upload_form_shows_every_format_and_the_servers_errors(
    tiny_gateway: Gateway, tmp_path: Path
) -> None:
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("this is not audio\n")
    reports = drive(
        tmp_path,
        tiny_gateway,
        [
            upload("upload-json", JFK.path, response_format="json", language="en", temperature=0),
            upload("upload-text", SHORT.path, response_format="text", prompt="The forecast."),
            upload("upload-srt", SHORT.path, response_format="srt"),
            upload("upload-vtt", SHORT.path, response_format="vtt"),
            upload(
                "upload-verbose-json",
                SHORT.path,
                response_format="verbose_json",
                granularities=["word", "segment"],
            ),
            upload("upload-stream", SHORT.path, response_format="json", stream=True),
            upload("upload-translate", SHORT.path, response_format="text", task="translate"),
            upload("upload-not-audio", not_audio),
        ],
    )
    for name in ("upload-json", "upload-text", "upload-verbose-json", "upload-stream"):
        report = reports[name]
        assert report["state"] == "done", (name, report["status"])
        score = (jfk_wer if name == "upload-json" else short_wer)(report["resultText"])
        assert score <= MAX_WER, (name, report["resultText"])
    record_metric(
        "web page upload WER (jfk, tiny.en, json)",
        f"{jfk_wer(reports['upload-json']['resultText']):.1%}",
    )

    assert json.loads(reports["upload-json"]["raw"])["text"] == reports["upload-json"]["resultText"]
    assert reports["upload-text"]["raw"] == reports["upload-text"]["resultText"] + "\n"
    cue = r"\d\d:\d\d:\d\d{sep}\d{{3}} --> \d\d:\d\d:\d\d{sep}\d{{3}}\n\S"
    srt = reports["upload-srt"]
    assert re.match(r"1\n" + cue.format(sep=","), srt["resultText"]), srt["resultText"]
    assert srt["resultText"] == srt["raw"]
    vtt = reports["upload-vtt"]
    assert re.match(r"WEBVTT\n\n" + cue.format(sep=r"\."), vtt["resultText"]), vtt["resultText"]
    for report in (srt, vtt):
        assert short_wer(re.sub(r".*-->.*|^\d+$|WEBVTT", " ", report["raw"], flags=re.M)) <= MAX_WER
    verbose = reports["upload-verbose-json"]
    body = json.loads(verbose["raw"])
    assert len(verbose["segments"]) == len(body["segments"]) >= 1
    assert verbose["segments"][0][3] == body["segments"][0]["text"].strip()
    assert verbose["words"] == len(body["words"]) >= 4
    assert "transcript.text.done" in reports["upload-stream"]["raw"]

    # tiny.en cannot translate: the page used the translations endpoint and shows its 400.
    translate = reports["upload-translate"]
    assert translate["state"] == "error"
    assert translate["status"].startswith("Error 400")
    assert "English-only and cannot translate" in translate["status"]

    # The server's own message, as an API client would get it.
    expected = httpx.post(
        f"{tiny_gateway.base_url}/v1/audio/transcriptions",
        files={"file": ("notes.txt", not_audio.read_bytes())},
        timeout=30,
    )
    error = reports["upload-not-audio"]
    assert error["state"] == "error"
    assert error["status"].startswith(f"Error {expected.status_code}")
    assert expected.json()["error"]["message"] in error["status"]


def test_api_key_for_uploads_and_the_websocket(
    keyed_gateway: Gateway, microphone_wav: Path, tmp_path: Path
) -> None:
    reports = drive(
        tmp_path,
        keyed_gateway,
        [
            {
                "name": "key-live",
                "kind": "live",
                "apiKey": API_KEY,
                "language": "en",
                "playSeconds": 4,
            },
            {"name": "key-live-wrong-key", "kind": "live", "apiKey": "wrong"},
            {
                "name": "key-realtime",
                "kind": "live",
                "protocol": "realtime",
                "apiKey": API_KEY,
                "language": "en",
                "playSeconds": 4,
            },
            {
                "name": "key-realtime-wrong-key",
                "kind": "live",
                "protocol": "realtime",
                "apiKey": "wrong",
            },
            upload("key-upload-without-key", SHORT.path),
            upload("key-upload", SHORT.path, api_key=API_KEY),
        ],
        microphone_wav,
    )
    live = reports["key-live"]
    assert live["state"] == "done", live["statuses"]
    assert live["committed"].strip(), live["snapshots"]
    refused = reports["key-live-wrong-key"]
    assert refused["state"] == "error"
    assert "Incorrect API key provided." in refused["status"]
    # OpenAI Realtime: the key as the `openai-insecure-api-key.<key>` subprotocol. Stopped
    # mid-sentence ("And so my fellow Americans, ask not..."), the commit ends the turn under
    # way; the pause after "Americans" (about a second) may have ended one already.
    realtime = reports["key-realtime"]
    assert realtime["state"] == "done", realtime["statuses"]
    turns = realtime["turns"]
    assert 1 <= len(turns) <= 2 and {t["state"] for t in turns} == {"completed"}, turns
    # (tiny.en hears "And so am I fellow Americans" at times, as in the WhisperLive test.)
    assert "fellow americans" in turns[0]["text"].lower(), turns
    realtime_refused = reports["key-realtime-wrong-key"]
    assert realtime_refused["state"] == "error"
    assert realtime_refused["status"] == (
        "The server refused the connection: Error 401 Unauthorized: Incorrect API key provided."
    ), realtime_refused["status"]

    without_key = reports["key-upload-without-key"]
    assert without_key["state"] == "error"
    assert without_key["status"].startswith("Error 401")
    assert "API key" in without_key["status"]
    with_key = reports["key-upload"]
    assert with_key["state"] == "done", with_key["status"]
    assert short_wer(with_key["resultText"]) <= MAX_WER
