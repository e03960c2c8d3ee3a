"""Worker settings: environment (`WORKER_*`, nested with `__`) and CLI overrides.

The settings object is built once in `__main__` and handed to constructors; nothing else
reads the environment. The names existing deployments already set keep working as
defaults: `FASTERWHISPER_MODEL` (model name or directory) and `OMP_NUM_THREADS` (CPU
threads) apply when `WORKER_ENGINE__MODEL` / `WORKER_ENGINE__CPU_THREADS` are unset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

Backend = Literal["faster_whisper", "openvino", "tensorrt", "fake"]
# Devices each backend can run on; OpenVINO's names are case-insensitive and a GPU may
# carry its index ("gpu.1"), as OpenVINO lists them.
BACKEND_DEVICES: dict[str, tuple[str, ...]] = {
    "faster_whisper": ("auto", "cpu", "cuda"),
    "openvino": ("auto", "cpu", "gpu", "npu"),
    "tensorrt": ("auto", "cuda"),
    "fake": ("auto", "cpu", "cuda"),
}
# Compute precisions each backend takes (`auto`: the backend's best for the device).
BACKEND_COMPUTE_TYPES: dict[str, tuple[str, ...] | None] = {
    "faster_whisper": None,  # every ComputeType
    "openvino": ("auto", "float32", "bfloat16", "float16"),
    "tensorrt": ("auto", "float16", "bfloat16"),
    "fake": None,
}
ComputeType = Literal[
    "auto",
    "default",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]
LogLevel = Literal["debug", "info", "warning", "error"]

LEGACY_MODEL_ENV = "FASTERWHISPER_MODEL"
LEGACY_THREADS_ENV = "OMP_NUM_THREADS"


class _Section(BaseModel):
    """Base of the nested sections: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EngineSettings(_Section):
    """The one model and the backend that runs it."""

    backend: Backend = "faster_whisper"
    """Engine implementation. `fake` is a deterministic engine for tests."""
    model: str = Field(default="base", min_length=1)
    """A Whisper size name (downloaded by the backend) or a model directory (loaded as is)."""
    device: str = "auto"
    """faster_whisper: `auto` (CUDA when CTranslate2 sees a GPU, else the CPU), `cpu`,
    `cuda`; openvino: `auto`, `cpu`, `gpu` (or `gpu.N`), `npu` (OpenVINO's AUTO picks the
    best present); tensorrt: `auto` or `cuda`."""
    compute_type: ComputeType = "auto"
    """Compute precision. faster_whisper: `auto` is float16 on a GPU and int8 on the CPU.
    openvino: `auto` is the device's default (bf16 on CPUs with bf16 instructions, where
    `float32` gives text identical to CTranslate2 at about 1.5x the time), or `float32`,
    `bfloat16`, `float16`. tensorrt: fixed when the engines are built (`auto`)."""
    cpu_threads: int = Field(default=0, ge=0, le=1024)
    """Threads for CPU inference; 0 uses every core the process may run on."""
    beam_size: int = Field(default=5, ge=1, le=32)
    """Beam width for decoding (1 = greedy)."""
    best_of: int = Field(default=5, ge=1, le=32)
    """Candidates sampled at non-zero temperature."""
    download_root: Path | None = None
    """Where model names are downloaded to; None uses the backend's cache."""
    warm_up: bool = True
    """Decode one second of noise after loading, so the first request is not slow."""

    @model_validator(mode="after")
    def _device_and_precision_fit_the_backend(self) -> EngineSettings:
        device = self.device.strip().lower()
        devices = BACKEND_DEVICES[self.backend]
        base = device.split(".", 1)[0] if self.backend == "openvino" else device
        index = device.split(".", 1)[1] if base != device else "0"
        if base not in devices or not index.isdigit() or (base != device and base != "gpu"):
            raise ValueError(
                f"device {self.device!r} is not one the {self.backend} backend runs on "
                f"(one of: {', '.join(devices)})"
            )
        compute_types = BACKEND_COMPUTE_TYPES[self.backend]
        if compute_types is not None and self.compute_type not in compute_types:
            raise ValueError(
                f"compute_type {self.compute_type!r} is not one the {self.backend} backend "
                f"takes (one of: {', '.join(compute_types)})"
            )
        if device != self.device:
            object.__setattr__(self, "device", device)
        return self


class SchedulerSettings(_Section):
    """The queue in front of the engine."""

    max_queue: int = Field(default=64, ge=1, le=100_000)
    """Engine jobs that may wait; more gets RESOURCE_EXHAUSTED."""
    max_batch: int = Field(default=8, ge=1, le=256)
    """Most windows (live windows of different streams, or a file's chunks) decoded in one
    engine call."""
    batch_wait_ms: int = Field(default=5, ge=0, le=1000)
    """How long an idle engine waits for more windows before decoding a smaller batch."""
    max_file_batch_with_live: int | None = Field(default=None, ge=1, le=256)
    """Most file chunks in one engine call while live streams are active, so a live
    window never waits long behind file work; None: 1 on a CPU (where a batch costs about
    the sum of its windows), `max_batch` on a GPU."""
    max_file_delay_ms: int | None = Field(default=5000, ge=0)
    """When no file chunk has run for this long, the oldest waiting one goes before live
    windows (one at a time), so files progress on a worker busy with live streams; None
    lets live work always go first."""


class LimitsSettings(_Section):
    """Admission limits per worker and per stream."""

    max_streams: int = Field(default=32, ge=1, le=100_000)
    """Streams served at once; more gets RESOURCE_EXHAUSTED."""
    max_audio_s: float = Field(default=4 * 3600.0, gt=0)
    """Longest file, in seconds (4 h): a file declared longer (`audio_duration_ms`) or
    sending more audio gets INVALID_ARGUMENT. A file is held in the worker at 2 bytes a
    sample while it is decoded (115 MB an hour of LINEAR16 audio)."""
    max_file_audio_s: float | None = Field(default=8 * 3600.0, gt=0)
    """File audio the worker holds at once, all files together, in seconds (8 h, about
    0.9 GB of LINEAR16): a file's declared duration counts from admission, before its
    audio arrives, and a file that does not fit gets RESOURCE_EXHAUSTED with a retry
    hint; a file without a declared duration counts as its audio arrives (and is refused
    mid-stream when it no longer fits). Keep it at least `max_audio_s`, or the longest
    files never fit. None: no budget (only `max_audio_s` per file)."""
    max_live_cycle_s: float | None = Field(default=1.7, gt=0.0, le=60.0)
    """The live latency bound: a new live stream is refused (RESOURCE_EXHAUSTED, WAIT in
    the gateway) when the measured live decode cycle (request to words, per stream, times
    the streams plus one) would pass this, so streams already admitted keep their
    latency. Words commit about two to three cycles after they are spoken: 1.7 s keeps
    committed p95 within 5 s (on 2 CPU cores with tiny.en, about 8 streams; a GPU takes
    many more). None admits up to `max_streams`."""
    unmeasured_live_streams: int | None = Field(default=None, ge=1, le=100_000)
    """New live streams admitted before the worker has measured a decode cycle of theirs
    (more when more streams are measured already: the live population at most doubles
    per measurement), so a burst of connections on an idle worker is taken in steps of
    measured capacity; the rest get WAIT for a few seconds. None: 2 on a CPU,
    `scheduler.max_batch` on a GPU (which decodes a batch in about the time of one
    window)."""
    max_file_wait_s: float | None = Field(default=600.0, gt=0.0)
    """A new file is refused when the file audio already admitted would take longer than
    this to decode at the measured real-time factor. None admits up to `max_streams`."""

    @model_validator(mode="after")
    def _longest_file_fits_the_budget(self) -> LimitsSettings:
        if self.max_file_audio_s is not None and self.max_file_audio_s < self.max_audio_s:
            raise ValueError(
                f"max_file_audio_s ({self.max_file_audio_s}) must be at least max_audio_s "
                f"({self.max_audio_s}), or the longest files never fit"
            )
        return self


class VadSettings(_Section):
    """Default voice-activity tuning for files (faster-whisper's Silero VAD)."""

    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Speech probability above which a frame counts as speech."""
    min_speech_ms: int = Field(default=0, ge=0)
    """Speech shorter than this is dropped, in ms."""
    min_silence_ms: int = Field(default=2000, ge=0)
    """Silence at least this long ends a speech region, in ms."""
    speech_pad_ms: int = Field(default=400, ge=0)
    """Padding added on both sides of each speech region, in ms."""
    max_speech_ms: int | None = Field(default=None, gt=0)
    """Longest speech region before a forced split, in ms; None means unlimited."""


class FileSettings(_Section):
    """Defaults of the file transcription policy."""

    enable_vad: bool = True
    """Remove non-speech before decoding when the client does not say."""
    no_speech_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    """Windows whose no-speech probability is above this value are skipped."""
    chunked: bool = True
    """Cut files at pauses (VAD) into chunks decoded in batches; false decodes them with
    faster-whisper's sequential loop (previous-text conditioning, one window at a time).
    Files sent with VAD off always go the sequential way."""
    max_chunk_s: float = Field(default=29.0, ge=5.0, le=30.0)
    """Longest chunk of a file, seconds."""
    max_gap_s: float = Field(default=3.0, ge=0.0, le=30.0)
    """Longest pause kept inside a chunk; a longer one starts a new chunk, seconds."""


class LiveSettings(_Section):
    """Tuning of the live (WebSocket) policy: when to decode, when to commit."""

    no_speech_threshold: float = Field(default=0.45, ge=0.0, le=1.0)
    """Default no-speech threshold of live streams (WhisperLive's)."""
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Default speech probability threshold for skipping silent windows."""
    first_decode_ms: int = Field(default=1000, ge=100, le=30_000)
    """Audio needed before a stream's first decode."""
    min_step_ms: int = Field(default=300, ge=50, le=30_000)
    """New audio needed between two decodes of a stream; under load decodes are rarer."""
    trim_s: float = Field(default=2.0, gt=0.0, le=30.0)
    """Window length above which audio behind committed words is dropped at a pause right
    after them (the full-quality profile, see `full_quality_streams`)."""
    fluent_cut: bool = False
    """Cut windows as under load (`load_trim_s`) even with few live streams: cheaper decodes,
    but single streams lose about two WER points."""
    load_trim_s: float = Field(default=4.0, gt=0.0, le=30.0)
    """With more live streams than `full_quality_streams`, windows are cut at any pause
    behind committed words once longer than this, and in fluent speech past twice this at
    the widest gap between words: short windows keep each decode cheap."""
    max_buffer_s: float = Field(default=20.0, ge=5.0, le=29.0)
    """Window length above which text is committed without agreement (Whisper sees 30 s)."""
    pause_commit_ms: int = Field(default=500, ge=100, le=10_000)
    """A pause this long commits the words before it at once."""
    idle_flush_ms: int = Field(default=1500, ge=100, le=600_000)
    """No audio for this long commits the pending text (the stream stays open)."""
    max_pending_s: float = Field(default=30.0, ge=1.0, le=600.0)
    """Undecoded audio above which the worker stops reading (backpressure)."""
    settle_ms: int | None = Field(default=None, ge=500, le=30_000)
    """Words ending this long before the newest audio commit without waiting for a second
    agreeing decode; under load (long decode cycles) this cuts latency. None always waits
    for agreement or a pause."""
    full_quality_streams: int = Field(default=1, ge=0, le=100_000)
    """With at most this many live streams, live windows are decoded with the engine's
    beam and Whisper's full 30 s padding and cut only at pauses (`trim_s`); beyond, the
    capacity profile: `beam_size`, `padding_s` and `load_trim_s` cuts. 0: always the
    capacity profile."""
    beam_size: int | None = Field(default=1, ge=1, le=32)
    """Beam width of live decodes under load (1: greedy, as WhisperLive's batched mode);
    None uses the engine's. Beam 5 is about 1 WER point better on one stream and serves half the
    streams on a CPU."""
    padding_s: float | None = Field(default=10.0, ge=3.0, le=30.0)
    """Silence the encoder sees after a live window, seconds; None pads to Whisper's 30 s.
    The encoder's cost follows its input length, so a 5 s window costs half; below about
    5 s of padding Whisper starts to miss the end of speech."""


class _LegacyEnvSource(PydanticBaseSettingsSource):
    """Maps the legacy variable names onto the nested settings, below `WORKER_*`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values come from `__call__` as one nested mapping."""
        del field
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """Returns the legacy values found in the environment, nested like the settings."""
        engine: dict[str, Any] = {}
        model = os.environ.get(LEGACY_MODEL_ENV, "").strip()
        if model:
            engine["model"] = model
        threads = os.environ.get(LEGACY_THREADS_ENV, "").strip()
        if threads:
            engine["cpu_threads"] = threads
        return {"engine": engine} if engine else {}


class WorkerSettings(BaseSettings):
    """Everything the worker can be told, from the environment and the command line.

    Environment names are `WORKER_<FIELD>` and `WORKER_<SECTION>__<FIELD>`, for example
    `WORKER_PORT=50051` or `WORKER_ENGINE__BACKEND=faster_whisper`. Keyword arguments
    (the command line) win over the environment, which wins over the legacy names.
    """

    model_config = SettingsConfigDict(
        env_prefix="WORKER_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    host: str = "127.0.0.1"
    """Interface the gRPC server binds to."""
    port: int = Field(default=50051, ge=0, le=65535)
    """TCP port; 0 picks a free port (announced on stdout)."""
    log_level: LogLevel = "info"
    """Lowest level that is logged."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """TCP port of the Prometheus metrics endpoint (`/metrics`, on `host`); unset or 0:
    off, so several workers on one host do not collide (containers set 9400)."""
    shutdown_grace_s: float = Field(default=30.0, ge=0.0, le=3600.0)
    """On SIGTERM, how long running streams may take to finish before they are cancelled
    (30 s: Kubernetes' default termination grace; raise both for long live sessions)."""
    max_connection_age_s: float = Field(default=0.0, ge=0.0, le=86_400.0)
    """Past this age a client connection is sent GOAWAY (its running calls finish on it), so
    gRPC clients that resolve a DNS name of many workers re-resolve and spread again; 0: off
    (the gateway re-resolves on its own timer)."""
    engine: EngineSettings = Field(default_factory=EngineSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    file: FileSettings = Field(default_factory=FileSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then `WORKER_*`, then the legacy names; no dotenv, no secrets."""
        del dotenv_settings, file_secret_settings
        return init_settings, env_settings, _LegacyEnvSource(settings_cls)


def served_model_name(model: str) -> str:
    """The name a model is served under: a size name as is, a directory by its basename.

    Args:
        model: The configured model (name or path).

    Returns:
        The name reported in `GetWorkerInfo` and summaries.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name
    return model


def resolve_cpu_threads(configured: int) -> int:
    """The number of CPU threads to use: the configured count, or every usable core.

    Args:
        configured: `EngineSettings.cpu_threads` (0 = automatic).

    Returns:
        A positive thread count.
    """
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def settings_help() -> str:
    """Every setting as `WORKER_*` variable, default and meaning, for `--help`."""
    lines = []

    def add(env: str, field: FieldInfo) -> None:
        default = field.get_default(call_default_factory=True)
        meaning = " ".join((field.description or "").split())
        lines.append(f"  {env} (default {default!r})\n      {meaning}")

    for name, field in WorkerSettings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, _Section):
            for key, inner in section.model_fields.items():
                add(f"WORKER_{name.upper()}__{key.upper()}", inner)
        else:
            add(f"WORKER_{name.upper()}", field)
    return "\n".join(lines)
