#!/usr/bin/env bash
# Transcribe a file with cURL through the OpenAI-compatible endpoint.
#   examples/curl.sh speech.wav [response_format]
# STT_URL (default http://localhost:8080) and STT_API_KEY (when the server has keys).
set -euo pipefail
file=${1:?usage: $0 AUDIO_FILE [json|text|srt|vtt|verbose_json]}
format=${2:-json}
url=${STT_URL:-http://localhost:8080}
auth=()
[[ -n ${STT_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $STT_API_KEY")
# --fail-with-body: a 4xx/5xx prints the server's JSON error and exits non-zero.
curl --silent --show-error --fail-with-body "${auth[@]}" \
  -F "file=@$file" -F model=whisper-1 -F "response_format=$format" \
  "$url/v1/audio/transcriptions"
echo
