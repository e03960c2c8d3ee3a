"""The OpenVINO engine: Whisper through OpenVINO GenAI's `WhisperPipeline`.

One pipeline decodes one window per call (the runtime has no batch input), so a batch
of windows runs back to back; the scheduler keeps live windows ahead of file chunks
between calls, and gives a CPU one file chunk per call while live streams run.

What the runtime gives and what this engine makes of it:
- Segment times from Whisper's timestamp tokens; word times only for models exported
  with cross-attention outputs (probed at load). Otherwise word times are shared out
  by character length inside each segment (`text_timing`), the nearest equivalent.
- The detected language, but neither its probability nor token log-probabilities nor
  the no-speech probability. The language is reported with probability 1.0; Whisper's
  log-probability and no-speech checks cannot run, so the temperature fallback retries
  on a repetitive text (compression ratio) alone, and silence is left to the VAD that
  runs before every live window and file chunk.
- One candidate per sampled decode (`best_of` is not applied).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from stt_worker.config import EngineSettings, resolve_cpu_threads, served_model_name
from stt_worker.engines.file_windows import WINDOW_SAMPLES, moved, speech_windows
from stt_worker.engines.text_timing import UNMEASURED_PROBABILITY, interpolate_words
from stt_worker.engines.whisper_rules import COMPRESSION_RATIO_THRESHOLD, compression_ratio
from stt_worker.errors import (
    EngineError,
    EngineUnavailableError,
    ModelLoadError,
    is_out_of_memory,
)
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    AppliedOptions,
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    WindowDecode,
    WindowInput,
    Word,
)

if TYPE_CHECKING:
    import openvino_genai

logger = logging.getLogger(__name__)

RUNTIME_HINT = (
    "the openvino backend needs OpenVINO GenAI: pip install -r worker/requirements-openvino.lock "
    "(or build the worker image with --build-arg BACKEND=openvino)"
)
# The files of a WhisperPipeline model directory (optimum-cli's OpenVINO IR export).
_IR_FILES = ("openvino_encoder_model.xml", "openvino_decoder_model.xml", "openvino_tokenizer.xml")
# Size names are fetched from the OpenVINO organisation's ready IR exports on the hub.
_HUB_REPOSITORY = "OpenVINO/whisper-{name}-fp16-ov"
_PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
# A file decoded without VAD is cut into windows of at most 30 s at the quietest 100 ms
# of each window's last 5 s, so a cut rarely falls inside a word.
_CUT_SEARCH_SAMPLES = 5 * SAMPLE_RATE_HERTZ
_CUT_FRAME_SAMPLES = SAMPLE_RATE_HERTZ // 10
# Pauses kept inside one window of a file decoded with VAD.
_MAX_GAP_S = 2.0
# Previous text handed to the next window of a file (Whisper keeps at most 224 tokens).
_MAX_PREVIOUS_CHARS = 600


def _ms(seconds: float) -> int:
    return max(0, round(float(seconds) * 1000))


def model_directory(settings: EngineSettings) -> Path:
    """The IR directory to load: the configured directory, or a size name or hub id
    downloaded from the model hub.

    Args:
        settings: The engine section of the worker settings.

    Returns:
        A directory holding an OpenVINO Whisper export.

    Raises:
        ModelLoadError: The directory is missing or of another kind, or the name cannot
            be downloaded.
    """
    model = settings.model
    path = Path(model).expanduser()
    if path.is_dir():
        check_model_directory(path)
        return path.resolve()
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise ModelLoadError(f"model directory {model!r} does not exist")
    repository = model if "/" in model else _HUB_REPOSITORY.format(name=model)
    try:
        from huggingface_hub import snapshot_download

        downloaded = Path(
            snapshot_download(
                repository,
                cache_dir=(
                    str(settings.download_root) if settings.download_root is not None else None
                ),
            )
        )
    except Exception as exc:
        raise ModelLoadError(
            f"cannot download the OpenVINO model {repository!r} for {model!r} ({exc}); on a host "
            "without access to the model hub, fetch an OpenVINO Whisper export elsewhere and set "
            "WORKER_ENGINE__MODEL (or FASTERWHISPER_MODEL) to its local directory"
        ) from exc
    check_model_directory(downloaded)
    return downloaded


def check_model_directory(path: Path) -> None:
    """Refuses a directory that is not an OpenVINO Whisper export, saying what it is.

    Args:
        path: An existing directory.

    Raises:
        ModelLoadError: Files of the export are missing.
    """
    missing = [name for name in _IR_FILES if not (path / name).is_file()]
    if not missing:
        return
    if (path / "model.bin").is_file():
        raise ModelLoadError(
            f"{str(path)!r} is a CTranslate2 (faster-whisper) model directory, not an OpenVINO "
            "one: set WORKER_ENGINE__BACKEND=faster_whisper, or convert the model with "
            "`optimum-cli export openvino --model openai/whisper-<size> "
            "--task automatic-speech-recognition-with-past <dir>`"
        )
    raise ModelLoadError(
        f"{str(path)!r} is not an OpenVINO Whisper model directory: {', '.join(missing)} "
        "missing (an `optimum-cli export openvino` export of a Whisper model holds them)"
    )


def resolve_device(requested: str, available: Sequence[str]) -> str:
    """The OpenVINO device to compile for.

    Args:
        requested: The setting: auto, cpu, gpu, gpu.N or npu.
        available: The devices OpenVINO sees (`Core().available_devices`).

    Returns:
        The device name, as OpenVINO writes it: `auto` is a GPU when one is present, else
        the CPU (an NPU is used only when asked for).

    Raises:
        ModelLoadError: The requested device is not present.
    """
    present = [name.upper() for name in available]
    if requested == "auto":
        return "GPU" if any(name.startswith("GPU") for name in present) else "CPU"
    device = requested.upper()
    if device == "GPU" and any(name.startswith("GPU") for name in present):
        return device
    if device not in present:
        raise ModelLoadError(
            f"device {requested!r} was requested but OpenVINO sees only "
            f"{', '.join(present) or 'no device'}: set WORKER_ENGINE__DEVICE to one of them "
            "(or auto); an Intel GPU or NPU also needs its driver on the host"
        )
    return device


@dataclass(frozen=True, slots=True)
class _Heard:
    """One window's decode: segments in ms of the window, and its language."""

    segments: tuple[Segment, ...]
    language: str
    text: str


class OpenVinoEngine:
    """Whisper through one OpenVINO GenAI `WhisperPipeline`.

    Use `OpenVinoEngine.load(settings)`; the constructor takes a built pipeline.

    Args:
        pipeline: The pipeline.
        info: The description of the loaded model.
        beam_size: Beam width when a request does not set one.
        runtime_words: Whether the pipeline computes word times itself.
    """

    def __init__(
        self,
        pipeline: openvino_genai.WhisperPipeline,
        info: EngineInfo,
        *,
        beam_size: int,
        runtime_words: bool,
    ) -> None:
        self._pipeline = pipeline
        self._info = info
        self._beam_size = beam_size
        self._runtime_words = runtime_words
        self._tokenizer = pipeline.get_tokenizer()

    @classmethod
    def load(cls, settings: EngineSettings) -> OpenVinoEngine:
        """Builds the pipeline for the configured model and device.

        Args:
            settings: The engine section of the worker settings.

        Returns:
            The engine, ready to decode.

        Raises:
            EngineUnavailableError: OpenVINO GenAI is not installed.
            ModelLoadError: The model or the device cannot be used.
        """
        try:
            import openvino
            import openvino_genai
        except ImportError as exc:
            raise EngineUnavailableError(f"{RUNTIME_HINT} ({exc})") from exc
        directory = model_directory(settings)
        core = openvino.Core()
        device = resolve_device(settings.device, core.available_devices)
        threads = resolve_cpu_threads(settings.cpu_threads)
        properties: dict[str, Any] = {}
        if device == "CPU":
            properties["INFERENCE_NUM_THREADS"] = threads
        if settings.compute_type != "auto":
            properties["INFERENCE_PRECISION_HINT"] = _PRECISION_HINTS[settings.compute_type]
        started = time.perf_counter()
        pipeline, runtime_words = _build_pipeline(openvino_genai, directory, device, properties)
        load_s = time.perf_counter() - started
        config = pipeline.get_generation_config()
        multilingual = bool(config.is_multilingual)
        languages = (
            tuple(sorted(token.strip("<|>") for token in config.lang_to_id))
            if multilingual
            else ("en",)
        )
        precision = properties.get("INFERENCE_PRECISION_HINT") or str(
            core.get_property(device.split(".")[0], "INFERENCE_PRECISION_HINT")
        )
        info = EngineInfo(
            model_name=served_model_name(settings.model),
            backend="openvino",
            device=device.lower(),
            compute_type=_precision_name(precision),
            cpu_threads=threads,
            is_multilingual=multilingual,
            languages=languages,
            beam_size=settings.beam_size,
            best_of=1,
        )
        logger.info(
            "model loaded",
            extra={
                "model": info.model_name,
                "path": str(directory),
                "device": device,
                "compute_type": info.compute_type,
                "cpu_threads": threads,
                "load_s": round(load_s, 3),
                "is_multilingual": multilingual,
                "word_times": "runtime" if runtime_words else "interpolated",
            },
        )
        return cls(pipeline, info, beam_size=settings.beam_size, runtime_words=runtime_words)

    @property
    def info(self) -> EngineInfo:
        """What is loaded and where it runs."""
        return self._info

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        """Cuts the recording into windows of at most 30 s (at speech with VAD on, else at
        quiet moments) and decodes the first one at once, for the file's language; each
        `next()` then yields the segments of one more window.

        Args:
            audio: The recording (16 kHz mono float32).
            options: Per-request options.

        Returns:
            Lazy segments (times in ms of the recording) and the file's info.
        """
        windows = (
            speech_windows(audio, options.vad, max_gap_s=_MAX_GAP_S)
            if options.vad_filter
            else _quiet_cuts(audio)
        )
        speech_samples = sum(end - start for start, end in windows)
        first = self._decode(audio[slice(*windows[0])], options) if windows else None
        language = first.language if first is not None else (options.language or "en")
        info = FileInfo(
            language=language,
            language_probability=1.0,
            duration_ms=_ms(audio.size / SAMPLE_RATE_HERTZ),
            duration_after_vad_ms=_ms(speech_samples / SAMPLE_RATE_HERTZ),
            options=AppliedOptions(
                beam_size=options.beam_size or self._beam_size,
                best_of=1,
                temperatures=options.temperatures,
                condition_on_previous_text=options.condition_on_previous_text,
                initial_prompt=options.initial_prompt or "",
                hotwords=options.hotwords or "",
                word_timestamps=options.word_timestamps,
                vad_filter=options.vad_filter,
                no_speech_threshold=options.no_speech_threshold,
                compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
                log_prob_threshold=-math.inf,  # no token log-probabilities to check
                task=options.task,
            ),
        )
        return self._file_segments(audio, windows, options, language, first), info

    def _file_segments(
        self,
        audio: FloatArray,
        windows: list[tuple[int, int]],
        options: DecodeOptions,
        language: str,
        first: _Heard | None,
    ) -> Iterator[Segment]:
        # Later windows keep the first window's language, as Whisper does for a file.
        fixed = options if options.language is not None else replace(options, language=language)
        heard = first
        for index, (start, end) in enumerate(windows):
            if heard is None or index > 0:
                previous = heard.text if heard is not None else None
                window_options = fixed
                if options.condition_on_previous_text and previous:
                    window_options = replace(fixed, previous_text=previous[-_MAX_PREVIOUS_CHARS:])
                heard = self._decode(audio[start:end], window_options)
            offset = _ms(start / SAMPLE_RATE_HERTZ)
            for segment in heard.segments:
                yield moved(segment, offset)

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes the windows one after the other (the runtime takes one at a time).

        Args:
            windows: Windows of at most 30 s and their options.

        Returns:
            One decode per window, in order.
        """
        decoded = []
        for window in windows:
            heard = self._decode(window.audio, window.options, window.speech_regions)
            decoded.append(WindowDecode(heard.segments, heard.language, 1.0))
        return decoded

    def close(self) -> None:
        """Drops the pipeline; the engine is not used afterwards."""
        del self._pipeline

    # -- one window -------------------------------------------------------------------

    def _decode(
        self,
        audio: FloatArray,
        options: DecodeOptions,
        speech: tuple[tuple[float, float], ...] | None = None,
    ) -> _Heard:
        """Decodes one window of at most 30 s, retrying at the next temperature of the
        schedule while the text is a repetition loop."""
        base = self._request(options)
        temperatures = options.temperatures or (0.0,)
        result: openvino_genai.ASRDecodedResults | None = None
        temperature = 0.0
        for temperature in temperatures:
            if temperature > 0:
                search = {"do_sample": True, "temperature": temperature, "num_beams": 1}
            else:
                search = {"do_sample": False, "num_beams": options.beam_size or self._beam_size}
            try:
                result = self._pipeline.generate(audio, **base, **search)
            except RuntimeError as exc:
                raise EngineError(f"OpenVINO decoding failed: {exc}") from exc
            if compression_ratio(result.texts[0]) <= COMPRESSION_RATIO_THRESHOLD:
                break
        assert result is not None  # the schedule has at least one temperature
        language = str(result.language or options.language or "en").strip("<|>")
        return _Heard(
            self._segments(result, audio.size, options, temperature, speech),
            language,
            str(result.texts[0]),
        )

    def _request(self, options: DecodeOptions) -> dict[str, Any]:
        """The generation settings of a window, as keyword arguments of `generate`."""
        request: dict[str, Any] = {
            # Segment times are what word times are placed by, so they are asked for
            # whenever any time is wanted.
            "return_timestamps": options.timestamps or options.word_timestamps,
        }
        if self._runtime_words:
            request["word_timestamps"] = options.word_timestamps
        if self._info.is_multilingual:
            # English-only models refuse a task or language in the request.
            request["task"] = options.task
            if options.language is not None:
                request["language"] = f"<|{options.language}|>"
        prompt = " ".join(
            part.strip() for part in (options.initial_prompt, options.previous_text) if part
        )
        if prompt:
            request["initial_prompt"] = " " + prompt
        if options.hotwords:
            request["hotwords"] = " " + options.hotwords.strip()
        if options.max_new_tokens:
            request["max_new_tokens"] = options.max_new_tokens
        return request

    def _segments(
        self,
        result: openvino_genai.ASRDecodedResults,
        samples: int,
        options: DecodeOptions,
        temperature: float,
        speech: tuple[tuple[float, float], ...] | None,
    ) -> tuple[Segment, ...]:
        duration_ms = _ms(samples / SAMPLE_RATE_HERTZ)
        # A segment still open at the window's end has end_ts -1: it ends with the window.
        spans = [
            (
                str(chunk.text),
                _ms(chunk.start_ts),
                duration_ms if chunk.end_ts < 0 else _ms(chunk.end_ts),
            )
            for chunk in (result.chunks or ())
        ] or [(str(result.texts[0]), 0, duration_ms)]
        measured = list(result.words or ()) if self._runtime_words else []
        segments = []
        for text, start, end in spans:
            # Text "heard" past the audio's end is Whisper filling the padding.
            if not text.strip() or start >= duration_ms:
                continue
            end = min(max(start, end), duration_ms)
            words: tuple[Word, ...] = ()
            if options.word_timestamps:
                words = _measured_words(measured, start, end) or interpolate_words(
                    text, start, end, speech
                )
            segments.append(
                Segment(
                    text=text,
                    start_ms=start,
                    end_ms=end,
                    words=words,
                    token_ids=self._token_ids(text),
                    temperature=temperature,
                    compression_ratio=compression_ratio(text),
                )
            )
        return tuple(segments)

    def _token_ids(self, text: str) -> tuple[int, ...]:
        encoded = self._tokenizer.encode(text, add_special_tokens=False)
        return tuple(int(t) for t in np.asarray(encoded.input_ids.data).reshape(-1))


def _build_pipeline(
    genai: ModuleType, directory: Path, device: str, properties: dict[str, Any]
) -> tuple[openvino_genai.WhisperPipeline, bool]:
    """The pipeline, with the runtime's word times when the model supports them.

    Word times need a model exported with cross-attention outputs; for another model a
    pipeline built for them fails at its first decode, so it is tried on a moment of
    silence and built again without.
    """
    silence = np.zeros(SAMPLE_RATE_HERTZ // 2, dtype=np.float32)
    try:
        pipeline = genai.WhisperPipeline(str(directory), device, word_timestamps=True, **properties)
        pipeline.generate(silence, max_new_tokens=2)
    except RuntimeError as exc:
        logger.debug("no runtime word times: %s", exc)
    else:
        return pipeline, True
    try:
        return genai.WhisperPipeline(str(directory), device, **properties), False
    except (RuntimeError, MemoryError) as exc:
        if is_out_of_memory(exc):
            raise EngineError(
                f"out of memory loading {str(directory)!r} on {device}: {exc}"
            ) from exc
        raise ModelLoadError(f"cannot load the OpenVINO model {str(directory)!r}: {exc}") from exc


def _precision_name(hint: str) -> str:
    """`bf16` (or OpenVINO's `<Type: 'bfloat16'>`) as the compute type's name."""
    for name, short in _PRECISION_HINTS.items():
        if short in hint or name in hint:
            return name
    return hint


def _measured_words(
    words: list[openvino_genai.WhisperWordTiming], start_ms: int, end_ms: int
) -> tuple[Word, ...]:
    """The runtime's words that fall inside a segment."""
    inside = []
    for word in words:
        begin, end = _ms(word.start_ts), _ms(word.end_ts)
        if start_ms <= (begin + end) / 2 <= end_ms:
            inside.append(Word(str(word.word), begin, max(begin, end), UNMEASURED_PROBABILITY))
    return tuple(inside)


def _quiet_cuts(audio: FloatArray) -> list[tuple[int, int]]:
    """The whole recording as windows of at most 30 s, each cut at the quietest moment of
    its last seconds."""
    windows = []
    start = 0
    while audio.size - start > WINDOW_SAMPLES:
        search_from = start + WINDOW_SAMPLES - _CUT_SEARCH_SAMPLES
        frames = audio[search_from : start + WINDOW_SAMPLES]
        usable = frames.size - frames.size % _CUT_FRAME_SAMPLES
        energy = np.square(frames[:usable].reshape(-1, _CUT_FRAME_SAMPLES)).mean(axis=1)
        cut = search_from + int(np.argmin(energy)) * _CUT_FRAME_SAMPLES + _CUT_FRAME_SAMPLES // 2
        windows.append((start, cut))
        start = cut
    if audio.size > start:
        windows.append((start, audio.size))
    return windows
