"""The Python worker of the hybrid speech-to-text server.

One process loads one Whisper model and serves `stt.v1.TranscriberService` over gRPC to
the TypeScript gateway. Transport lives in `servicer`, policy in `file_transcription`
and `scheduler`, compute in `engines`.
"""

__version__ = "0.1.0"
