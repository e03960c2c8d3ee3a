"""Domain value types shared by the servicer, the policies and the engines.

No proto and no gRPC here: `servicer` maps proto messages to and from these types once.
Times are integers in milliseconds of the stream (the proto's unit), probabilities are
floats in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
"""Mono float32 PCM at `SAMPLE_RATE_HERTZ`, values in [-1, 1]."""

SAMPLE_RATE_HERTZ = 16_000
"""The only sample rate the worker accepts; the gateway resamples."""

Task = Literal["transcribe", "translate"]
AudioEncoding = Literal["linear16", "float32"]
TranscriptionMode = Literal["file", "live"]

DEFAULT_TEMPERATURES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Whisper's fallback schedule when the client asks for temperature 0."""


@dataclass(frozen=True, slots=True)
class VadOverrides:
    """Voice-activity tuning a client asked for; None means the worker's default."""

    threshold: float | None = None
    min_speech_ms: int | None = None
    min_silence_ms: int | None = None
    speech_pad_ms: int | None = None
    max_speech_ms: int | None = None


@dataclass(frozen=True, slots=True)
class VadParameters:
    """Voice-activity tuning actually used (faster-whisper's Silero VAD)."""

    threshold: float = 0.5
    min_speech_ms: int = 0
    min_silence_ms: int = 2000
    speech_pad_ms: int = 400
    max_speech_ms: int | None = None
    """Longest speech region before a forced split; None means unlimited."""


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """Turn mode of a live stream as the client asked for it (see the proto's
    `TurnConfig`); `turns.TurnOptions` is what is used."""

    silence_duration_ms: int = 0
    prefix_padding_ms: int = 0
    threshold: float | None = None
    """None: the stream's VAD threshold."""


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """The first message of a stream, in domain form (see `StreamingTranscribeConfig`).

    Fields a client left unset are None, so the policies can apply their own defaults.
    """

    encoding: AudioEncoding | None
    sample_rate_hertz: int
    mode: TranscriptionMode = "file"
    language: str | None = None
    task: Task = "transcribe"
    model: str = ""
    interim_results: bool = False
    word_timestamps: bool = False
    initial_prompt: str | None = None
    hotwords: str | None = None
    temperature: float = 0.0
    enable_vad: bool | None = None
    vad: VadOverrides = field(default_factory=VadOverrides)
    no_speech_threshold: float | None = None
    same_output_threshold: int | None = None
    coarse_segments: bool = False
    audio_duration_ms: int | None = None
    """Files: the length the client declared before sending; None when unset."""
    turns: TurnConfig | None = None
    """Live streams: split into turns; None: one turn (no turn mode)."""


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Per-request decoding options handed to an engine (backend knobs stay in settings)."""

    language: str | None = None
    """ISO-639-1 code, or None to detect."""
    task: Task = "transcribe"
    initial_prompt: str | None = None
    hotwords: str | None = None
    previous_text: str | None = None
    """Live windows: committed text from before the window, prompted after
    `initial_prompt`. It changes with every window; the initial prompt and hotwords do
    not, so engines may tokenize those once per stream."""
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    word_timestamps: bool = False
    vad_filter: bool = True
    vad: VadParameters = field(default_factory=VadParameters)
    no_speech_threshold: float = 0.6
    condition_on_previous_text: bool = True
    max_new_tokens: int | None = None
    """Most tokens decoded per window; None leaves it to the model (224)."""
    beam_size: int | None = None
    """Beam width; None uses the engine's configured one."""
    timestamps: bool = True
    """Let Whisper predict segment timestamps. Without them a window is decoded as one
    text (it never stops early at a timestamp near the window's end); times then come
    from the window itself, or from word alignment."""
    coarse_segments: bool = False
    """Files: a chunk may come back as one segment timed by the chunk (no word alignment
    to cut it into sentences); the client needs only the text."""
    padding_s: float | None = None
    """Silence the encoder sees after a short window, seconds; None pads to Whisper's full
    30 s. Less padding is faster (the encoder's cost grows with its input) but below a few
    seconds Whisper stops recognising the end of speech."""


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its timing in the stream."""

    text: str
    start_ms: int
    end_ms: int
    probability: float


@dataclass(frozen=True, slots=True)
class Segment:
    """One span of transcript as the engine decoded it, times in ms of the stream."""

    text: str
    start_ms: int
    end_ms: int
    words: tuple[Word, ...] = ()
    token_ids: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_probability: float = 0.0
    window_offset_ms: int = 0
    """Start of the decoding window the segment came from."""


@dataclass(frozen=True, slots=True)
class AppliedOptions:
    """The decoding options an engine actually used, for the stream's summary."""

    beam_size: int
    best_of: int
    temperatures: tuple[float, ...]
    condition_on_previous_text: bool
    initial_prompt: str
    hotwords: str
    word_timestamps: bool
    vad_filter: bool
    no_speech_threshold: float
    compression_ratio_threshold: float
    log_prob_threshold: float
    task: Task


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What an engine knows about a file once it has prepared it (before decoding)."""

    language: str
    language_probability: float
    duration_ms: int
    duration_after_vad_ms: int
    options: AppliedOptions


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Description of a loaded engine, for `GetWorkerInfo` and request validation."""

    model_name: str
    """The name the model is served under (size name or directory basename)."""
    backend: str
    device: str
    compute_type: str
    cpu_threads: int
    is_multilingual: bool
    languages: tuple[str, ...]
    """ISO-639-1 codes the model can transcribe."""
    beam_size: int = 5
    """Beam width of decodes that do not set their own."""
    best_of: int = 5
    """Candidates sampled at non-zero temperature."""


@dataclass(frozen=True, slots=True)
class WindowInput:
    """One window (at most 30 s) to decode in a batch, with its own options."""

    audio: FloatArray
    options: DecodeOptions
    speech_regions: tuple[tuple[float, float], ...] | None = None
    """Where a voice-activity detector heard speech, in seconds from the window's start
    (None: no detector ran). Engines without word alignment place words there."""


@dataclass(frozen=True, slots=True)
class WindowDecode:
    """The engine's decode of one audio window (live windows, file chunks), segment and
    word times in ms of the window."""

    segments: tuple[Segment, ...]
    language: str
    language_probability: float
    speech_regions: tuple[tuple[float, float], ...] | None = None
    """Live windows: the voice-activity regions as (start_s, end_s) in seconds relative to
    the window start, set by the live session's VAD step (engines leave it None: no
    detector ran). An empty tuple means silence: the window was not decoded."""
