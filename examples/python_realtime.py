"""Live transcription over OpenAI's Realtime API with the official `openai` SDK: a file is
decoded to 24 kHz PCM16 (ffmpeg) and played in real time, 100 ms per append; the server's
voice activity detection cuts it into turns.

    python examples/python_realtime.py speech.wav

Each turn's text is printed as it is committed, one line per turn; a commit after the last
chunk ends the last turn. STT_URL (default
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
            # The end of the file: the rest is one last turn, transcribed after every other.
            await conn.input_audio_buffer.commit()

        player = asyncio.create_task(play())
        stopped = set()  # items whose turn the server's VAD ended
        async for event in conn:
            if event.type == "input_audio_buffer.speech_stopped":
                stopped.add(event.item_id)
            elif event.type == "conversation.item.input_audio_transcription.delta":
                print(event.delta, end="", flush=True)
            elif event.type == "conversation.item.input_audio_transcription.completed":
                if event.transcript:
                    print()
                if player.done() and event.item_id not in stopped:
                    break  # the turn our commit ended: the last one
            elif event.type == "error":
                print(f"error: {event.error.message}", file=sys.stderr)
        await player


asyncio.run(main(sys.argv[1]))
