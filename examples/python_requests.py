"""Transcribe a file with `requests`, with word timestamps.

    python examples/python_requests.py speech.wav

STT_URL (default http://localhost:8080) and STT_API_KEY (when the server has keys).
"""

import os
import sys

import requests

url = os.environ.get("STT_URL", "http://localhost:8080")
key = os.environ.get("STT_API_KEY")
headers = {"Authorization": f"Bearer {key}"} if key else {}

with open(sys.argv[1], "rb") as audio:
    response = requests.post(
        f"{url}/v1/audio/transcriptions",
        headers=headers,
        files={"file": audio},
        data={
            "model": "whisper-1",
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        },
        timeout=600,
    )
if not response.ok:
    # Errors are OpenAI-shaped: {"error": {"message", "type", "code", ...}}.
    sys.exit(f"{response.status_code}: {response.json()['error']['message']}")
body = response.json()
print(body["text"])
for segment in body["segments"]:
    print(f"[{segment['start']:6.2f} - {segment['end']:6.2f}] {segment['text'].strip()}")
print(f"{len(body.get('words', []))} words, language {body['language']}, {body['duration']:.1f} s")
