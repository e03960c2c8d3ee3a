"""The tensorrt backend without a GPU: engine directory checks, load errors, and the
Whisper logic (prompts, language detection, fallback, segments, files) on a scripted
runtime in place of TensorRT-LLM.

The tokenizers are the real ones of the test models (tiny.en: English only; base:
multilingual), so token ids are Whisper's. What TensorRT-LLM itself does with the
requests is covered by test/gpu/test_tensorrt_gpu.py on a GPU with built engines.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tokenizers
from faster_whisper.tokenizer import Tokenizer

from stt_worker.config import EngineSettings
from stt_worker.engines import create_engine, tensorrt
from stt_worker.engines.tensorrt import (
    MANIFEST_FORMAT,
    DecoderOutput,
    DecoderRequest,
    EngineManifest,
    TensorRTEngine,
    inspect_engine_dir,
)
from stt_worker.errors import EngineError, EngineUnavailableError, ModelLoadError
from stt_worker.types import DecodeOptions, EngineInfo, WindowInput
from worker_testing import MODELS_DIR, RATE, load_audio

TINY_EN_TOKENIZER = MODELS_DIR / "tiny.en" / "tokenizer.json"
BASE_TOKENIZER = MODELS_DIR / "base" / "tokenizer.json"
EXPECTED_LAYOUT = (
    "the tensorrt backend loads a TensorRT-LLM Whisper engine directory "
    "(encoder/config.json, encoder/rank0.engine, decoder/config.json, decoder/rank0.engine, "
    "tokenizer.json, whisper_trt.json), built from a Whisper checkpoint with "
    "scripts/build_tensorrt_engines.py"
)


def manifest_json(**overrides: object) -> dict[str, Any]:
    values: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "model": "tiny.en",
        "n_mels": 80,
        "multilingual": False,
        "dtype": "float16",
        "max_batch_size": 8,
        "max_beam_width": 4,
        "max_prompt_tokens": 256,
        "max_seq_len": 448,
        "tensorrt_llm": "1.2.1",
    }
    values.update(overrides)
    return values


def make_engine_dir(path: Path, tokenizer: Path | None = None, **manifest: object) -> Path:
    """An engine directory as the build script lays it out (the engines are stand-ins)."""
    for part in ("encoder", "decoder"):
        (path / part).mkdir(parents=True)
        (path / part / "config.json").write_text("{}")
        (path / part / "rank0.engine").write_bytes(b"engine")
    if tokenizer is not None:
        (path / "tokenizer.json").write_bytes(tokenizer.read_bytes())
    else:
        (path / "tokenizer.json").write_text("{}")
    (path / "whisper_trt.json").write_text(json.dumps(manifest_json(**manifest)))
    return path


# -- the engine directory -------------------------------------------------------------


def test_inspect_engine_dir_reads_the_manifest(tmp_path: Path) -> None:
    path, manifest = inspect_engine_dir(str(make_engine_dir(tmp_path / "turbo", n_mels=128)))
    assert path == tmp_path / "turbo"
    assert manifest == EngineManifest(
        model="tiny.en",
        n_mels=128,
        multilingual=False,
        dtype="float16",
        max_batch_size=8,
        max_beam_width=4,
        max_prompt_tokens=256,
        max_seq_len=448,
        tensorrt_llm="1.2.1",
    )


def test_inspect_engine_dir_names_a_ctranslate2_model(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"ct2")
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelLoadError) as caught:
        inspect_engine_dir(str(tmp_path))
    assert str(caught.value) == (
        f"{tmp_path} holds a CTranslate2 (faster-whisper) model (model.bin); {EXPECTED_LAYOUT}"
    )


def test_inspect_engine_dir_names_an_openvino_model(tmp_path: Path) -> None:
    (tmp_path / "openvino_encoder_model.xml").write_text("<net/>")
    with pytest.raises(ModelLoadError) as caught:
        inspect_engine_dir(str(tmp_path))
    assert str(caught.value) == f"{tmp_path} holds an OpenVINO model (openvino_*.xml); " + (
        EXPECTED_LAYOUT
    )


def test_inspect_engine_dir_lists_missing_files(tmp_path: Path) -> None:
    make_engine_dir(tmp_path / "engines")
    (tmp_path / "engines" / "decoder" / "rank0.engine").unlink()
    with pytest.raises(ModelLoadError) as caught:
        inspect_engine_dir(str(tmp_path / "engines"))
    assert str(caught.value) == f"{tmp_path / 'engines'} holds no decoder/rank0.engine; " + (
        EXPECTED_LAYOUT
    )


def test_inspect_engine_dir_refuses_a_model_name(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as caught:
        inspect_engine_dir("large-v3")
    assert str(caught.value) == f"model 'large-v3' is not a directory; {EXPECTED_LAYOUT}"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"format": "other"}, "is not a manifest written by scripts/build_tensorrt_engines.py"),
        (manifest_json(n_mels="80"), "'n_mels' must be a int, found '80'"),
        (manifest_json(max_batch_size=True), "'max_batch_size' must be a int, found True"),
        (manifest_json(n_mels=64), "n_mels must be 80 or 128, found 64"),
    ],
)
def test_inspect_engine_dir_refuses_a_bad_manifest(
    tmp_path: Path, manifest: dict[str, Any], message: str
) -> None:
    make_engine_dir(tmp_path)
    (tmp_path / "whisper_trt.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"whisper_trt\.json") as caught:
        inspect_engine_dir(str(tmp_path))
    assert message in str(caught.value)


# -- loading --------------------------------------------------------------------------


def test_load_without_tensorrt_llm_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt_llm", None)  # import raises ImportError
    settings = EngineSettings(backend="tensorrt", model=str(make_engine_dir(tmp_path)))
    with pytest.raises(EngineUnavailableError) as caught:
        create_engine(settings)
    message = str(caught.value)
    assert message.startswith(
        "the tensorrt backend needs TensorRT-LLM (tensorrt-llm==1.2.1), which this worker "
        "cannot import ("
    )
    assert message.endswith(
        "); build the worker image with BACKEND=tensorrt (docker/worker-tensorrt.Dockerfile) "
        "or use WORKER_ENGINE__BACKEND=faster_whisper"
    )


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Stand-ins for the `tensorrt_llm` and `torch` modules; `state.gpu` says whether
    CUDA sees a GPU, `state.runtime` is what the runtime class does on construction."""
    state = types.SimpleNamespace(gpu=True, runtime=None, opened=[])
    trt = types.ModuleType("tensorrt_llm")
    trt.__version__ = "1.2.1"  # type: ignore[attr-defined]
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=lambda: state.gpu)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt_llm", trt)
    monkeypatch.setitem(sys.modules, "torch", torch)

    class FakeRuntimeClass(ScriptedRuntime):
        def __init__(self, path: Path, manifest: EngineManifest) -> None:
            super().__init__(lambda _request: DecoderOutput(((), 0.0)))
            if state.runtime is not None:
                raise state.runtime
            state.opened.append((path, manifest))

    runtime_module = types.ModuleType("stt_worker.engines.tensorrt_runtime")
    runtime_module.TensorRTLLMRuntime = FakeRuntimeClass  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stt_worker.engines.tensorrt_runtime", runtime_module)
    return state


def test_load_without_a_gpu_is_a_model_load_error(
    tmp_path: Path, fake_trt: types.SimpleNamespace
) -> None:
    fake_trt.gpu = False
    settings = EngineSettings(backend="tensorrt", model=str(make_engine_dir(tmp_path)))
    with pytest.raises(ModelLoadError) as caught:
        tensorrt.load(settings)
    assert str(caught.value) == (
        "device 'auto': the tensorrt backend runs on an NVIDIA GPU and CUDA sees none"
    )


def test_load_refuses_a_ctranslate2_model_with_the_runtime_present(
    tmp_path: Path, fake_trt: types.SimpleNamespace
) -> None:
    (tmp_path / "model.bin").write_bytes(b"ct2")
    with pytest.raises(ModelLoadError, match="holds a CTranslate2"):
        tensorrt.load(EngineSettings(backend="tensorrt", device="cuda", model=str(tmp_path)))
    assert fake_trt.opened == []


def test_load_refuses_a_precision_the_engines_were_not_built_for(
    tmp_path: Path, fake_trt: types.SimpleNamespace
) -> None:
    settings = EngineSettings(
        backend="tensorrt", model=str(make_engine_dir(tmp_path)), compute_type="bfloat16"
    )
    with pytest.raises(ModelLoadError) as caught:
        tensorrt.load(settings)
    assert str(caught.value) == (
        f"compute_type 'bfloat16': the engines in {tmp_path} were built for float16 "
        "(the precision is fixed when they are built; use auto)"
    )


@pytest.fixture
def tiny_en_tokenizer() -> Path:
    if not TINY_EN_TOKENIZER.is_file():
        pytest.skip(f"test model tokenizer missing at {TINY_EN_TOKENIZER}: run `make test-models`")
    return TINY_EN_TOKENIZER


@pytest.fixture
def base_tokenizer() -> Path:
    if not BASE_TOKENIZER.is_file():
        pytest.skip(f"test model tokenizer missing at {BASE_TOKENIZER}: run `make test-models`")
    return BASE_TOKENIZER


def test_load_describes_the_engine_and_caps_the_beam(
    tmp_path: Path, fake_trt: types.SimpleNamespace, base_tokenizer: Path
) -> None:
    path = make_engine_dir(tmp_path / "whisper-base-trt", base_tokenizer, multilingual=True)
    engine = create_engine(
        EngineSettings(backend="tensorrt", model=str(path), beam_size=5, cpu_threads=2)
    )
    assert fake_trt.opened == [(path, inspect_engine_dir(str(path))[1])]
    info = engine.info
    assert (info.model_name, info.backend, info.device, info.compute_type) == (
        "whisper-base-trt",
        "tensorrt",
        "cuda",
        "float16",
    )
    assert info.is_multilingual is True
    assert info.beam_size == 4  # the engines were built for at most 4 beams
    assert info.cpu_threads == 2
    assert len(info.languages) == 99  # faster-whisper's codes less Cantonese (large-v3 on)
    assert {"en", "de", "zh"} <= set(info.languages)
    assert "yue" not in info.languages


def test_load_failure_names_the_version_the_engines_need(
    tmp_path: Path, fake_trt: types.SimpleNamespace, tiny_en_tokenizer: Path
) -> None:
    fake_trt.runtime = RuntimeError("serialization version mismatch")
    path = make_engine_dir(tmp_path, tiny_en_tokenizer, tensorrt_llm="1.1.0")
    with pytest.raises(ModelLoadError) as caught:
        tensorrt.load(EngineSettings(backend="tensorrt", model=str(path)))
    assert str(caught.value) == (
        f"cannot load the TensorRT-LLM engines in {path}: serialization version mismatch "
        "(the engines were built with TensorRT-LLM 1.1.0, this worker has 1.2.1: rebuild "
        "them with scripts/build_tensorrt_engines.py)"
    )


# -- the Whisper logic on a scripted runtime ------------------------------------------


class ScriptedRuntime:
    """A `WhisperRuntime` that answers each request with `respond(request)` and records
    every call."""

    def __init__(self, respond: Callable[[DecoderRequest], DecoderOutput]) -> None:
        self.respond = respond
        self.calls: list[list[DecoderRequest]] = []
        self.closed = False

    def generate(self, requests: Sequence[DecoderRequest]) -> list[DecoderOutput]:
        self.calls.append(list(requests))
        return [self.respond(r) for r in requests]

    def close(self) -> None:
        self.closed = True


def make_engine(
    tokenizer_json: Path,
    respond: Callable[[DecoderRequest], DecoderOutput],
    *,
    multilingual: bool = False,
    best_of: int = 5,
) -> tuple[TensorRTEngine, ScriptedRuntime, Tokenizer]:
    runtime = ScriptedRuntime(respond)
    hf = tokenizers.Tokenizer.from_file(str(tokenizer_json))
    manifest = EngineManifest.parse(
        manifest_json(multilingual=multilingual), tokenizer_json.parent / "whisper_trt.json"
    )
    info = EngineInfo(
        model_name="trt",
        backend="tensorrt",
        device="cuda",
        compute_type="float16",
        cpu_threads=1,
        is_multilingual=multilingual,
        languages=(),
        beam_size=4,
        best_of=best_of,
    )
    engine = TensorRTEngine(runtime, hf, manifest, info)
    return engine, runtime, Tokenizer(hf, multilingual, task="transcribe", language="en")


def at(tokenizer: Tokenizer, seconds: float) -> int:
    """The timestamp token of `seconds`."""
    return int(tokenizer.timestamp_begin) + round(seconds / 0.02)


def said(tokenizer: Tokenizer, *pieces: str | float) -> tuple[int, ...]:
    """Tokens of text pieces and timestamps (floats), as a decoder writes them."""
    tokens: list[int] = []
    for piece in pieces:
        if isinstance(piece, float):
            tokens.append(at(tokenizer, piece))
        else:
            tokens.extend(tokenizer.encode(piece))
    return tuple(tokens)


def speech(seconds: float) -> np.ndarray:
    return (0.1 * np.sin(np.arange(int(seconds * RATE)) / 7.0)).astype(np.float32)


def test_decode_batch_builds_whisper_prompts(tiny_en_tokenizer: Path) -> None:
    engine, runtime, tok = make_engine(
        tiny_en_tokenizer, lambda _r: DecoderOutput(((said(tok, 0.0, " Yes.", 1.0), -0.5),))
    )
    options = DecodeOptions(
        language="en",
        initial_prompt="Glossary",
        hotwords="TensorRT",
        previous_text="we said before",
        timestamps=False,
        beam_size=5,
        padding_s=3.0,
        temperatures=(0.0,),
        max_new_tokens=40,
    )
    engine.decode_batch([WindowInput(speech(2.0), options)])
    (request,) = runtime.calls[0]
    assert request.prompt == (
        tok.sot_prev,
        *tok.encode(" TensorRT"),
        *tok.encode(" Glossary"),
        *tok.encode(" we said before"),
        tok.sot,
        tok.no_timestamps,
    )
    assert request.features.shape == (80, 500)  # 2 s of audio and 3 s of padding
    assert request.features.dtype == np.float32
    assert (request.beam_width, request.temperature, request.num_sequences) == (4, 0.0, 1)
    assert request.max_new_tokens == 40
    assert tok.no_speech in request.suppressed
    assert tok.sot in request.suppressed
    assert tok.eot not in request.suppressed
    assert not request.first_step_logits


def test_decode_batch_keeps_the_most_recent_previous_text(tiny_en_tokenizer: Path) -> None:
    engine, runtime, tok = make_engine(
        tiny_en_tokenizer, lambda _r: DecoderOutput(((said(tok, " Yes."), -0.5),))
    )
    long_text = " ".join(f"word{i}" for i in range(400))
    engine.decode_batch([WindowInput(speech(1.0), DecodeOptions(previous_text=long_text))])
    (request,) = runtime.calls[0]
    assert request.prompt[0] == tok.sot_prev
    assert len(request.prompt) == 1 + 223 + 1  # Whisper's prompt limit, then the start
    assert request.prompt[-2:] == (tok.encode(" word399")[-1], tok.sot)


def test_decode_batch_cuts_segments_at_timestamps_and_times_words(
    tiny_en_tokenizer: Path,
) -> None:
    engine, _runtime, tok = make_engine(
        tiny_en_tokenizer,
        lambda _r: DecoderOutput(
            ((said(tok, 0.0, " Ask not what.", 1.5, 1.5, " Your country can", 0.5), -0.8),)
        ),
    )
    [decoded] = engine.decode_batch(
        [WindowInput(speech(4.0), DecodeOptions(word_timestamps=True, temperatures=(0.0,)))]
    )
    assert decoded.language == "en"
    assert decoded.language_probability == 1.0
    first, second = decoded.segments
    assert (first.text, first.start_ms, first.end_ms) == (" Ask not what.", 0, 1500)
    assert [(w.text, w.start_ms, w.end_ms) for w in first.words] == [
        (" Ask", 0, 450),  # shares of the span by letters: 3, 3 and 4 of 10
        (" not", 450, 900),
        (" what.", 900, 1500),
    ]
    # A timestamp earlier than the one before is held at it; the second segment is
    # closed by it (the model never wrote the end of the window).
    assert (second.text, second.start_ms, second.end_ms) == (" Your country can", 1500, 1500)
    decoded_tokens = said(tok, 0.0, " Ask not what.", 1.5, 1.5, " Your country can", 0.5)
    assert first.avg_logprob == pytest.approx(-0.8 / (len(decoded_tokens) + 1))
    assert first.token_ids == tuple(tok.encode(" Ask not what."))
    assert first.no_speech_probability == 0.0


def test_decode_batch_keeps_speech_running_past_the_window_end(tiny_en_tokenizer: Path) -> None:
    engine, _runtime, tok = make_engine(
        tiny_en_tokenizer,
        lambda _r: DecoderOutput(((said(tok, 0.0, " One.", 1.0, 1.2, " Two and"), -0.3),)),
    )
    [decoded] = engine.decode_batch([WindowInput(speech(3.0), DecodeOptions())])
    assert [(s.text, s.start_ms, s.end_ms, s.words) for s in decoded.segments] == [
        (" One.", 0, 1000, ()),
        (" Two and", 1200, 3000, ()),
    ]


def test_decode_batch_without_timestamps_cuts_sentences(tiny_en_tokenizer: Path) -> None:
    text = " First sentence here. Second one follows."
    engine, _runtime, tok = make_engine(
        tiny_en_tokenizer, lambda _r: DecoderOutput(((said(tok, text), -0.2),))
    )
    options = DecodeOptions(timestamps=False, word_timestamps=True)
    [decoded] = engine.decode_batch([WindowInput(speech(8.0), options)])
    assert [(s.text, s.start_ms, s.end_ms) for s in decoded.segments] == [
        (" First sentence here.", 0, 4121),  # 17 of the 33 letters
        (" Second one follows.", 4121, 8000),
    ]
    assert decoded.segments[1].token_ids == tuple(tok.encode(" Second one follows."))


def test_decode_batch_falls_back_to_sampling_for_the_windows_that_fail(
    tiny_en_tokenizer: Path,
) -> None:
    loop = " again" * 60

    def respond(request: DecoderRequest) -> DecoderOutput:
        full_padding = request.features.shape[1] == 3000
        if request.temperature == 0.0:
            # The window padded to 30 s comes out as a repetition loop.
            return DecoderOutput(((said(tok, loop if full_padding else " Fine."), -0.1),))
        return DecoderOutput(
            ((said(tok, " Worse."), -3.0), (said(tok, " Better."), -0.4), (said(tok, loop), -30.0))
        )

    engine, runtime, tok = make_engine(tiny_en_tokenizer, respond, best_of=3)
    options = DecodeOptions(timestamps=False, temperatures=(0.0, 0.2, 0.4), max_new_tokens=100)
    good = WindowInput(speech(1.0), dataclasses.replace(options, padding_s=3.0))
    bad = WindowInput(speech(1.0), options)
    decoded = engine.decode_batch([good, bad])
    assert [len(call) for call in runtime.calls] == [2, 1]  # only the failed window again
    (retry,) = runtime.calls[1]
    assert (retry.temperature, retry.beam_width, retry.num_sequences) == (0.2, 1, 3)
    assert retry.max_new_tokens == 100
    assert [(s.text, s.temperature) for s in decoded[0].segments] == [(" Fine.", 0.0)]
    # The sampled candidate with the best average log-probability wins.
    assert [(s.text, s.temperature) for s in decoded[1].segments] == [(" Better.", 0.2)]
    assert decoded[1].segments[0].avg_logprob == pytest.approx(
        -0.4 / (len(said(tok, " Better.")) + 1)
    )


def test_decode_batch_detects_the_language_in_one_step(base_tokenizer: Path) -> None:
    hf = tokenizers.Tokenizer.from_file(str(base_tokenizer))
    german, english = hf.token_to_id("<|de|>"), hf.token_to_id("<|en|>")
    no_speech = hf.token_to_id("<|nocaptions|>") or hf.token_to_id("<|nospeech|>")

    def respond(request: DecoderRequest) -> DecoderOutput:
        if request.first_step_logits:
            logits = np.full(hf.get_vocab_size(), -30.0, dtype=np.float32)
            logits[[german, english, no_speech]] = [3.0, 3.0 - np.log(3.0), 0.0]
            return DecoderOutput(((), 0.0), logits)
        return DecoderOutput(((said(tok, " Guten Tag."), -0.2),))

    engine, runtime, tok = make_engine(base_tokenizer, respond, multilingual=True)
    fixed = DecodeOptions(language="fr", task="translate")
    decoded = engine.decode_batch(
        [WindowInput(speech(1.0), DecodeOptions()), WindowInput(speech(1.0), fixed)]
    )
    probe, main = runtime.calls
    assert len(probe) == 1  # only the window without a language
    assert (probe[0].prompt, probe[0].max_new_tokens, probe[0].first_step_logits) == (
        (tok.sot,),
        1,
        True,
    )
    assert decoded[0].language == "de"
    assert decoded[0].language_probability == pytest.approx(0.75, abs=1e-6)
    assert decoded[1].language == "fr"
    assert decoded[1].language_probability == 1.0
    translate = hf.token_to_id("<|translate|>")
    assert main[0].prompt == (tok.sot, german, tok.transcribe)
    assert main[1].prompt == (tok.sot, hf.token_to_id("<|fr|>"), translate)
    total = np.exp(3.0) * 4 / 3 + 1 + (hf.get_vocab_size() - 3) * np.exp(-30.0)
    share = 1 / total
    assert decoded[0].segments[0].no_speech_probability == pytest.approx(share, rel=1e-3)


def test_decode_batch_drops_a_window_that_is_silence(base_tokenizer: Path) -> None:
    hf = tokenizers.Tokenizer.from_file(str(base_tokenizer))
    no_speech = hf.token_to_id("<|nocaptions|>") or hf.token_to_id("<|nospeech|>")

    def respond(request: DecoderRequest) -> DecoderOutput:
        if request.first_step_logits:
            logits = np.zeros(hf.get_vocab_size(), dtype=np.float32)
            logits[no_speech] = 20.0
            return DecoderOutput(((), 0.0), logits)
        return DecoderOutput(((said(tok, " Thank you."), -6.0),))

    engine, runtime, tok = make_engine(base_tokenizer, respond, multilingual=True)
    [decoded] = engine.decode_batch([WindowInput(np.zeros(RATE, np.float32), DecodeOptions())])
    assert decoded.segments == ()
    assert len(runtime.calls) == 2  # no fallback for silence


def test_decode_batch_reports_runtime_failures(tiny_en_tokenizer: Path) -> None:
    def respond(_request: DecoderRequest) -> DecoderOutput:
        raise RuntimeError("CUDA error: out of memory")

    engine, _runtime, _tok = make_engine(tiny_en_tokenizer, respond)
    with pytest.raises(EngineError) as caught:
        engine.decode_batch([WindowInput(speech(1.0), DecodeOptions())])
    assert str(caught.value) == "TensorRT-LLM failed to decode: CUDA error: out of memory"


def test_transcribe_file_resumes_after_the_last_complete_segment(tiny_en_tokenizer: Path) -> None:
    def respond(request: DecoderRequest) -> DecoderOutput:
        if len(calls) == 0:
            calls.append(request)
            return DecoderOutput(((said(tok, 0.0, " Early part.", 20.0, 20.0, " cut off"), -0.2),))
        calls.append(request)
        return DecoderOutput(((said(tok, 0.0, " cut off here.", 4.0), -0.2),))

    calls: list[DecoderRequest] = []
    engine, runtime, tok = make_engine(tiny_en_tokenizer, respond)
    options = DecodeOptions(vad_filter=False, temperatures=(0.0,))
    segments, info = engine.transcribe_file(speech(40.0), options)
    assert runtime.calls == []  # decoding is lazy
    assert (info.language, info.duration_ms, info.duration_after_vad_ms) == ("en", 40_000, 40_000)
    assert info.options.beam_size == 4
    assert info.options.vad_filter is False
    result = [(s.text, s.start_ms, s.end_ms, s.window_offset_ms) for s in segments]
    assert result == [
        (" Early part.", 0, 20_000, 0),
        (" cut off here.", 20_000, 24_000, 20_000),
    ]
    second = calls[1]
    assert second.prompt == (tok.sot_prev, *tok.encode(" Early part."), tok.sot)
    assert second.features.shape == (80, 3000)


def test_transcribe_file_decodes_speech_regions(tiny_en_tokenizer: Path) -> None:
    engine, runtime, tok = make_engine(
        tiny_en_tokenizer, lambda _r: DecoderOutput(((said(tok, 0.0, " Speech.", 2.0), -0.2),))
    )
    silence = np.zeros(5 * RATE, dtype=np.float32)
    audio = np.concatenate([silence, load_audio("jfk.wav"), silence])
    segments, info = engine.transcribe_file(audio, DecodeOptions(word_timestamps=True))
    assert info.duration_ms == 21_000
    assert 9_000 <= info.duration_after_vad_ms <= 12_000
    [segment] = list(segments)
    assert 4_000 <= segment.window_offset_ms <= 6_000
    assert segment.start_ms == segment.window_offset_ms
    assert segment.end_ms == segment.window_offset_ms + 2_000
    assert segment.words[-1].end_ms == segment.end_ms
    assert len(runtime.calls) == 1


def test_close_releases_the_runtime(tiny_en_tokenizer: Path) -> None:
    engine, runtime, _tok = make_engine(tiny_en_tokenizer, lambda _r: DecoderOutput(()))
    engine.close()
    assert runtime.closed
