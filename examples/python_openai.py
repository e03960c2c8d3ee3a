"""Transcribe a file with the official `openai` SDK pointed at this server.

    python examples/python_openai.py speech.wav

STT_URL (default http://localhost:8080) and STT_API_KEY (when the server has keys).
"""

import os
import sys

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("STT_URL", "http://localhost:8080") + "/v1",
    api_key=os.environ.get("STT_API_KEY") or "unused",  # the SDK insists on one
)
with open(sys.argv[1], "rb") as audio:
    transcript = client.audio.transcriptions.create(model="whisper-1", file=audio)
print(transcript.text)
