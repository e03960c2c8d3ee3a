"""The faster-whisper (CTranslate2) engine: the default backend on CPU and CUDA."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stt_worker.config import EngineSettings, resolve_cpu_threads, served_model_name
from stt_worker.engines.whisper_batch import WindowBatchDecoder
from stt_worker.errors import EngineError, ModelLoadError, is_out_of_memory
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
        raise ModelLoadError(
            "device 'cuda' was requested but CTranslate2 sees no CUDA device: set "
            "WORKER_ENGINE__DEVICE=cpu (or auto, which uses a GPU when there is one), or run "
            "on a host with an NVIDIA GPU and its driver (in a container: --gpus all)"
        )
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


# How the messages below tell the operator to change the model (both names work).
_MODEL_SETTING = "FASTERWHISPER_MODEL (or WORKER_ENGINE__MODEL)"
# What a CTranslate2 Whisper directory holds (converted by ct2-transformers-converter, or
# downloaded from the hub's faster-whisper repositories); model.bin is the one it needs.
_CT2_WEIGHTS = "model.bin"
_CT2_LAYOUT = "model.bin, config.json, tokenizer.json and vocabulary.json or vocabulary.txt"
# Every OpenVINO Whisper export (optimum-cli export openvino) has this file.
_OPENVINO_MARKER = "openvino_encoder_model.xml"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _check_model_directory(path: Path, what: str) -> None:
    """Refuses a directory faster-whisper cannot load, saying what it is instead.

    Args:
        path: The directory.
        what: How the message names it ("model directory '/models/x'").
    """
    if (path / _OPENVINO_MARKER).is_file():
        raise ModelLoadError(
            f"{what} is an OpenVINO model directory: set "
            f"WORKER_ENGINE__BACKEND=openvino, or point {_MODEL_SETTING} at a CTranslate2 "
            "(faster-whisper) directory"
        )
    if not (path / _CT2_WEIGHTS).is_file():
        raise ModelLoadError(
            f"{what} is not a faster-whisper model: it has no "
            f"{_CT2_WEIGHTS}. A CTranslate2 Whisper directory holds {_CT2_LAYOUT}; download "
            "one (the Systran/faster-whisper-* repositories on huggingface.co) or convert a "
            f"Whisper model with ct2-transformers-converter, and point {_MODEL_SETTING} at it"
        )


def model_source(model: str) -> str:
    """What to hand to faster-whisper: an existing directory as an absolute path, else
    the name (a size name or a hub repository id, downloaded by `download`).

    Args:
        model: The configured model.

    Returns:
        A directory path or a name.

    Raises:
        ModelLoadError: `model` looks like a path but no such directory exists, names a
            file, or names a directory that is not a CTranslate2 Whisper model.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        _check_model_directory(path, f"model directory {model!r}")
        return str(path.resolve())
    if path.exists():
        raise ModelLoadError(
            f"model path {model!r} is a file, not a model directory: point {_MODEL_SETTING} "
            f"at the directory that holds {_CT2_WEIGHTS}"
        )
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1
    if looks_like_path:
        raise ModelLoadError(
            f"model directory {model!r} does not exist: point {_MODEL_SETTING} at a "
            "faster-whisper model directory, or give a size name such as 'base' to download"
        )
    return model


def download(name: str, download_root: Path | None) -> str:
    """Fetches a model name from the Hugging Face hub, or finds it in the cache.

    Args:
        name: A Whisper size name ("base") or a hub repository id ("Systran/...").
        download_root: Where to keep downloads; None uses the hub's cache (HF_HOME).

    Returns:
        The local model directory.

    Raises:
        ModelLoadError: The name is unknown, the hub has no such model, or it is not in
            the cache and the hub cannot be reached (an offline host).
        EngineError: The download failed on the way (a full disk, a broken connection);
            another try may succeed.
    """
    from faster_whisper.utils import download_model
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        path = download_model(name, cache_dir=None if download_root is None else str(download_root))
    except ValueError as exc:  # not a size name, or not a valid repository id
        raise ModelLoadError(
            f"unknown model {name!r} ({_one_line(exc)}): set {_MODEL_SETTING} to a size "
            "name, a hub repository id or a model directory"
        ) from exc
    except LocalEntryNotFoundError as exc:
        # snapshot_download falls back to the cache when the hub is unreachable (offline,
        # HF_HUB_OFFLINE=1, no DNS, a proxy in the way) and raises this when it is not there.
        cause = exc.__cause__
        why = _one_line(exc if cause is None else f"{type(cause).__name__}: {cause}")
        raise ModelLoadError(
            f"cannot download model {name!r} ({why}): this host cannot reach "
            "the model hub (huggingface.co) and the model is not in its cache; download it "
            f"where the hub is reachable and set {_MODEL_SETTING} to the local model directory"
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelLoadError(
            f"cannot download model {name!r}: the hub has no such repository or revision, "
            f"or it needs an access token (HF_TOKEN); set {_MODEL_SETTING} to a "
            "faster-whisper repository id or a model directory"
        ) from exc
    except PermissionError as exc:
        raise ModelLoadError(
            f"cannot download model {name!r}: {_one_line(exc)}; make the model cache "
            "writable or set WORKER_ENGINE__DOWNLOAD_ROOT to a writable directory"
        ) from exc
    except Exception as exc:
        raise EngineError(f"cannot download model {name!r}: {_one_line(exc)}") from exc
    # A repository that is not a CTranslate2 conversion (openai/whisper-tiny) has no model.bin.
    _check_model_directory(Path(path), f"hub repository {name!r}")
    return str(path)


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
            ModelLoadError: The model cannot be found, downloaded or loaded as configured,
                or the device is not there.
            EngineError: Loading failed in a way that may pass (out of memory, a download
                cut short).
        """
        import ctranslate2
        from faster_whisper import WhisperModel

        # The cheap checks first: a wrong path or device fails before any download.
        source = model_source(settings.model)
        device = resolve_device(settings.device, ctranslate2.get_cuda_device_count())
        compute_type = resolve_compute_type(settings.compute_type, device)
        threads = resolve_cpu_threads(settings.cpu_threads)
        started = time.perf_counter()
        if not Path(source).is_absolute():
            source = download(source, settings.download_root)
        try:
            model = WhisperModel(
                source,
                device=device,
                compute_type=compute_type,
                cpu_threads=threads,
                num_workers=1,
            )
        except Exception as exc:
            where = f"on {device} with compute type {compute_type}"
            if is_out_of_memory(exc):
                raise EngineError(
                    f"out of memory loading model {settings.model!r} {where}: {_one_line(exc)}"
                ) from exc
            hint = (
                "; set WORKER_ENGINE__COMPUTE_TYPE=auto"
                if "compute type" in str(exc) and settings.compute_type != "auto"
                else ""
            )
            raise ModelLoadError(
                f"cannot load model {settings.model!r} {where}: {_one_line(exc).rstrip('.')}{hint}"
            ) from exc
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
