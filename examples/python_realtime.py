"""Live transcription over OpenAI's Realtime API with the official `openai` SDK: a file is
decoded to 24 kHz PCM16 (ffmpeg) and played in real time, 100 ms per append; the server's
voice activity detection cuts it into turns.

    python examples/python_realtime.py speech.wav

Each turn's text is printed as it is committed, one line per turn. STT_URL (default
http://localhost:8080) and STT_API_KEY (when the server has keys). Needs `openai[realtime]`
(the `websockets` package) and ffmpeg.
"""

import asyncio
import base64
import os
import subprocess
import sys

from openai import AsyncOpenAI

CHUNK_BYTES = 4800  # 100 ms of 24 kHz 16-bit mono


def pcm24k(path: str) -> bytes:
    command = ["ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "24000", "-"]
    return subprocess.run(command, check=True, capture_output=True).stdout


async def main(path: str) -> None:
    url = os.environ.get("STT_URL", "http://localhost:8080")
    client = AsyncOpenAI(base_url=url + "/v1", api_key=os.environ.get("STT_API_KEY") or "unused")
    audio = pcm24k(path) + bytes(24_000 * 2)  # one second of silence ends the last turn
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        await conn.session.update(
            session={
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": 24000},
                        "transcription": {"model": "whisper-1"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
                    }
                },
            }
        )

        async def play() -> None:
            for offset in range(0, len(audio), CHUNK_BYTES):
                chunk = audio[offset : offset + CHUNK_BYTES]
                await conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
                await asyncio.sleep(0.1)

        player = asyncio.create_task(play())
        spoken = 0  # turns begun (speech_started) and not yet completed
        async for event in conn:
            if event.type == "input_audio_buffer.speech_started":
                spoken += 1
            elif event.type == "conversation.item.input_audio_transcription.delta":
                print(event.delta, end="", flush=True)
            elif event.type == "conversation.item.input_audio_transcription.completed":
                print()
                spoken -= 1
                if player.done() and spoken == 0:
                    break
            elif event.type == "error":
                print(f"error: {event.error.message}", file=sys.stderr)
        await player


asyncio.run(main(sys.argv[1]))
