"""The faster-whisper (CTranslate2) engine: the default backend on CPU and CUDA."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stt_worker.config import EngineSettings, resolve_cpu_threads, served_model_name
from stt_worker.engines.whisper_batch import WindowBatchDecoder
from stt_worker.errors import ModelLoadError
from stt_worker.types import (
    AppliedOptions,
    DecodeOptions,
    EngineInfo,
    FileInfo,
    FloatArray,
    Segment,
    VadParameters,
    WindowDecode,
    WindowInput,
    Word,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.vad import VadOptions

logger = logging.getLogger(__name__)

# faster-whisper's `Segment.seek` counts mel frames of 10 ms.
_MS_PER_FRAME = 10


def _ms(seconds: float) -> int:
    return max(0, round(float(seconds) * 1000))


def resolve_device(requested: str, cuda_devices: int) -> str:
    """The device to load on: `auto` means CUDA when a GPU is visible, else the CPU.

    Args:
        requested: "auto", "cpu" or "cuda".
        cuda_devices: GPUs CTranslate2 can see.

    Returns:
        "cpu" or "cuda".

    Raises:
        ModelLoadError: CUDA was asked for and no GPU is visible.
    """
    if requested == "auto":
        return "cuda" if cuda_devices > 0 else "cpu"
    if requested == "cuda" and cuda_devices == 0:
        raise ModelLoadError("device 'cuda' was requested but CTranslate2 sees no CUDA device")
    return requested


def resolve_compute_type(requested: str, device: str) -> str:
    """The compute type to load with: `auto` is float16 on a GPU and int8 on the CPU.

    Args:
        requested: A CTranslate2 compute type or "auto".
        device: The resolved device.

    Returns:
        The compute type to ask CTranslate2 for.
    """
    if requested != "auto":
        return requested
    return "float16" if device == "cuda" else "int8"


def model_source(model: str) -> str:
    """What to hand to faster-whisper: an existing directory as an absolute path, else
    the name (a size name or a hub repository id, downloaded by faster-whisper).

    Args:
        model: The configured model.

    Returns:
        A directory path or a name.

    Raises:
        ModelLoadError: `model` looks like a path but no such directory exists.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1
    if looks_like_path:
        raise ModelLoadError(f"model directory {model!r} does not exist")
    return model


def _vad_options(vad: VadParameters) -> VadOptions:
    from faster_whisper.vad import VadOptions

    return VadOptions(
        threshold=vad.threshold,
        min_speech_duration_ms=vad.min_speech_ms,
        max_speech_duration_s=(
            float("inf") if vad.max_speech_ms is None else vad.max_speech_ms / 1000.0
        ),
        min_silence_duration_ms=vad.min_silence_ms,
        speech_pad_ms=vad.speech_pad_ms,
    )


class FasterWhisperEngine:
    """Whisper through faster-whisper on one CTranslate2 model.

    Use `FasterWhisperEngine.load(settings)`; the constructor takes a loaded model.

    Args:
        model: A `faster_whisper.WhisperModel`.
        info: The description of the loaded model.
        beam_size: Beam width for every decode.
        best_of: Candidates sampled at non-zero temperature.
    """

    def __init__(
        self, model: WhisperModel, info: EngineInfo, *, beam_size: int, best_of: int
    ) -> None:
        self._model = model
        self._info = info
        self._beam_size = beam_size
        self._best_of = best_of
        self._batch = WindowBatchDecoder(model, beam_size=beam_size, best_of=best_of)

    @classmethod
    def load(cls, settings: EngineSettings) -> FasterWhisperEngine:
        """Loads the configured model.

        Args:
            settings: The engine section of the worker settings.

        Returns:
            The engine, ready to decode.

        Raises:
            ModelLoadError: The model could not be found or loaded.
        """
        import ctranslate2
        from faster_whisper import WhisperModel

        source = model_source(settings.model)
        device = resolve_device(settings.device, ctranslate2.get_cuda_device_count())
        compute_type = resolve_compute_type(settings.compute_type, device)
        threads = resolve_cpu_threads(settings.cpu_threads)
        started = time.perf_counter()
        try:
            model = WhisperModel(
                source,
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
                download_root=(
                    str(settings.download_root) if settings.download_root is not None else None
                ),
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load model {settings.model!r}: {exc}") from exc
        load_s = time.perf_counter() - started
        info = EngineInfo(
            model_name=served_model_name(settings.model),
            backend="faster_whisper",
            device=device,
            compute_type=str(model.model.compute_type),
            cpu_threads=threads,
            is_multilingual=bool(model.model.is_multilingual),
            languages=tuple(model.supported_languages),
            beam_size=settings.beam_size,
            best_of=settings.best_of,
        )
        logger.info(
            "model loaded",
            extra={
                "model": info.model_name,
                "path": source,
                "device": device,
                "compute_type": info.compute_type,
                "cpu_threads": threads,
                "load_s": round(load_s, 3),
                "is_multilingual": info.is_multilingual,
            },
        )
        return cls(model, info, beam_size=settings.beam_size, best_of=settings.best_of)

    @property
    def info(self) -> EngineInfo:
        """What is loaded and where it runs."""
        return self._info

    def transcribe_file(
        self, audio: FloatArray, options: DecodeOptions
    ) -> tuple[Iterator[Segment], FileInfo]:
        """Runs VAD, features and language detection; decoding happens lazily per window.

        Args:
            audio: The recording (16 kHz mono float32).
            options: Per-request options.

        Returns:
            Lazy segments (times in ms of the recording) and the file's info.
        """
        segments, info = self._model.transcribe(
            audio,
            language=options.language,
            task=options.task,
            beam_size=self._beam_size,
            best_of=self._best_of,
            temperature=list(options.temperatures),
            initial_prompt=options.initial_prompt,
            hotwords=options.hotwords,
            word_timestamps=options.word_timestamps,
            vad_filter=options.vad_filter,
            vad_parameters=_vad_options(options.vad) if options.vad_filter else None,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            max_new_tokens=options.max_new_tokens,
        )
        used = info.transcription_options
        file_info = FileInfo(
            language=str(info.language),
            language_probability=float(info.language_probability),
            duration_ms=_ms(info.duration),
            duration_after_vad_ms=_ms(info.duration_after_vad),
            options=AppliedOptions(
                beam_size=int(used.beam_size),
                best_of=int(used.best_of),
                temperatures=tuple(float(t) for t in used.temperatures),
                condition_on_previous_text=bool(used.condition_on_previous_text),
                initial_prompt=options.initial_prompt or "",
                hotwords=options.hotwords or "",
                word_timestamps=bool(used.word_timestamps),
                vad_filter=options.vad_filter,
                no_speech_threshold=float(used.no_speech_threshold),
                compression_ratio_threshold=float(used.compression_ratio_threshold),
                log_prob_threshold=float(used.log_prob_threshold),
                task=options.task,
            ),
        )
        return _convert(segments), file_info

    def decode_batch(self, windows: Sequence[WindowInput]) -> list[WindowDecode]:
        """Decodes several windows together (see `WindowBatchDecoder`).

        Args:
            windows: Windows of at most 30 s and their options.

        Returns:
            One decode per window, in order.
        """
        return self._batch.decode(windows)

    def close(self) -> None:
        """Unloads the model's weights; the engine is not used afterwards."""
        self._model.model.unload_model()


def _convert(segments: Iterable[Any]) -> Iterator[Segment]:
    """faster-whisper segments (seconds, numpy floats) to domain segments (ms, Python)."""
    for seg in segments:
        words = tuple(
            Word(str(w.word), _ms(w.start), _ms(w.end), float(w.probability))
            for w in (seg.words or ())
        )
        yield Segment(
            text=str(seg.text),
            start_ms=_ms(seg.start),
            end_ms=_ms(seg.end),
            words=words,
            token_ids=tuple(int(t) for t in seg.tokens),
            temperature=float(seg.temperature or 0.0),
            avg_logprob=float(seg.avg_logprob),
            compression_ratio=float(seg.compression_ratio),
            no_speech_probability=float(seg.no_speech_prob),
            # With VAD on, `seek` counts frames of the speech-only audio, so the offset
            # can be earlier than the window's true start in the recording.
            window_offset_ms=int(seg.seek) * _MS_PER_FRAME,
        )
