"""`stt.v1.TranscriberService` over grpc.aio: proto to domain and back, status codes.

This is the only module that calls `context.abort`. It holds no policy: file streams go
to `file_transcription`, decoding goes through the scheduler, validation lives in
`options`. Domain errors map to status codes as the proto's service comment lists.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from stt.v1 import transcriber_pb2 as pb
from stt.v1 import transcriber_pb2_grpc as pb_grpc
from stt_worker import __version__, metrics
from stt_worker.admission import Admission, FileBudget
from stt_worker.audio import PcmAccumulator, samples_to_ms
from stt_worker.config import WorkerSettings
from stt_worker.errors import (
    CapacityError,
    EngineError,
    InvalidAudioError,
    InvalidConfigError,
    InvalidRequestError,
    UnavailableError,
    UnimplementedError,
    WorkerError,
)
from stt_worker.file_transcription import (
    ChunkPlan,
    FileResult,
    FileTranscription,
    start_file_transcription,
)
from stt_worker.live_policy import LiveResult
from stt_worker.live_session import (
    LIVE_TEMPERATURES,
    LiveInput,
    LiveReply,
    SpeechModels,
    start_live_session,
)
from stt_worker.logs import bind_request_id
from stt_worker.options import (
    FileDefaults,
    check_audio_format,
    check_model,
    file_decode_options,
)
from stt_worker.scheduler import Scheduler
from stt_worker.turns import EndTurn, TurnEndReason
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    AudioEncoding,
    DecodeOptions,
    EngineInfo,
    StreamConfig,
    Task,
    TranscriptionMode,
    TurnConfig,
    VadOverrides,
    VadParameters,
)

logger = logging.getLogger(__name__)

SERVICE_NAME = "stt.v1.TranscriberService"
REQUEST_ID_KEY = "x-request-id"
RETRY_AFTER_KEY = "retry-after-ms"
_STREAM_LIMIT_RETRY_MS = 1000
# Live streams a CPU worker admits at once before it has measured them.
_CPU_UNMEASURED_LIVE_STREAMS = 2
# A file may run this much past its declared duration (containers round their lengths).
_DECLARED_SLACK_MS = 1000

_ENCODINGS: dict[int, AudioEncoding] = {
    pb.AUDIO_ENCODING_LINEAR16: "linear16",
    pb.AUDIO_ENCODING_FLOAT32: "float32",
}
_MODES: dict[int, TranscriptionMode] = {
    pb.TRANSCRIPTION_MODE_UNSPECIFIED: "file",
    pb.TRANSCRIPTION_MODE_FILE: "file",
    pb.TRANSCRIPTION_MODE_LIVE: "live",
}
_TURN_END_REASONS: dict[TurnEndReason, pb.TurnEndReason] = {
    "silence": pb.TURN_END_REASON_SILENCE,
    "requested": pb.TURN_END_REASON_REQUESTED,
    "stream_end": pb.TURN_END_REASON_STREAM_END,
}
_TASKS: dict[int, Task] = {
    pb.TASK_UNSPECIFIED: "transcribe",
    pb.TASK_TRANSCRIBE: "transcribe",
    pb.TASK_TRANSLATE: "translate",
}

StreamContext = grpc.aio.ServicerContext[
    pb.StreamingTranscribeRequest, pb.StreamingTranscribeResponse
]
InfoContext = grpc.aio.ServicerContext[pb.GetWorkerInfoRequest, pb.GetWorkerInfoResponse]


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the servicer needs once the model is loaded."""

    engine_info: EngineInfo
    scheduler: Scheduler


def stream_config_from_proto(msg: pb.StreamingTranscribeConfig) -> StreamConfig:
    """Maps the proto config to the domain config (no validation beyond enum values).

    Args:
        msg: The first request's config.

    Returns:
        The domain config; unset optional fields are None.

    Raises:
        InvalidConfigError: An enum holds a value this worker does not know.
    """
    if msg.mode not in _MODES:
        raise InvalidConfigError(f"unknown transcription mode {msg.mode}")
    if msg.task not in _TASKS:
        raise InvalidConfigError(f"unknown task {msg.task}")
    vad = msg.vad
    turns = msg.turns
    return StreamConfig(
        encoding=_ENCODINGS.get(msg.encoding),
        sample_rate_hertz=msg.sample_rate_hertz,
        mode=_MODES[msg.mode],
        language=msg.language_code or None,
        task=_TASKS[msg.task],
        model=msg.model,
        interim_results=msg.interim_results,
        word_timestamps=msg.enable_word_time_offsets,
        initial_prompt=msg.initial_prompt or None,
        hotwords=msg.hotwords or None,
        temperature=msg.temperature,
        enable_vad=msg.enable_vad if msg.HasField("enable_vad") else None,
        vad=VadOverrides(
            threshold=vad.threshold if vad.HasField("threshold") else None,
            min_speech_ms=vad.min_speech_ms if vad.HasField("min_speech_ms") else None,
            min_silence_ms=vad.min_silence_ms if vad.HasField("min_silence_ms") else None,
            speech_pad_ms=vad.speech_pad_ms if vad.HasField("speech_pad_ms") else None,
            max_speech_ms=vad.max_speech_ms if vad.HasField("max_speech_ms") else None,
        ),
        no_speech_threshold=(
            msg.no_speech_threshold if msg.HasField("no_speech_threshold") else None
        ),
        same_output_threshold=(
            msg.same_output_threshold if msg.HasField("same_output_threshold") else None
        ),
        coarse_segments=msg.coarse_segments,
        audio_duration_ms=(msg.audio_duration_ms if msg.HasField("audio_duration_ms") else None),
        turns=(
            TurnConfig(
                silence_duration_ms=turns.silence_duration_ms,
                prefix_padding_ms=turns.prefix_padding_ms,
                threshold=turns.threshold if turns.HasField("threshold") else None,
            )
            if msg.HasField("turns")
            else None
        ),
    )


async def _live_inputs(
    messages: AsyncIterator[pb.StreamingTranscribeRequest],
) -> AsyncIterator[LiveInput]:
    """The audio (empty chunks skipped) and turn ends of a live stream's messages after
    the config.

    Raises:
        InvalidConfigError: A second config arrived.
    """
    async for message in messages:
        kind = message.WhichOneof("request")
        if kind == "config":
            raise InvalidConfigError("config is only allowed in the first message")
        if kind == "end_turn":
            yield EndTurn()
        elif kind == "audio" and message.audio:
            yield message.audio


def _live_result_proto(
    segment: LiveResult, language: str, probability: float
) -> pb.TranscriptResult:
    return pb.TranscriptResult(
        segment_index=segment.index,
        transcript=segment.text,
        is_final=segment.is_final,
        start_offset_ms=round(segment.start_s * 1000),
        end_offset_ms=round(segment.end_s * 1000),
        words=[
            pb.WordInfo(
                word=w.text,
                start_offset_ms=round(w.start_s * 1000),
                end_offset_ms=round(w.end_s * 1000),
                probability=w.probability,
            )
            for w in segment.words
        ],
        language_code=language,
        language_probability=probability,
    )


def _stream_ms(samples: int) -> int:
    """A position in the stream in ms, rounded as live results' offsets are."""
    return round(samples * 1000 / SAMPLE_RATE_HERTZ)


def _live_response(reply: LiveReply) -> pb.StreamingTranscribeResponse:
    if reply.speech_begin is not None:
        return pb.StreamingTranscribeResponse(
            speech_event=pb.SPEECH_EVENT_SPEECH_BEGIN,
            speech_event_offset_ms=_stream_ms(reply.speech_begin.offset),
        )
    end = reply.turn_end
    if end is not None:
        return pb.StreamingTranscribeResponse(
            turn_end=pb.TurnEnd(
                turn_index=end.turn_index,
                start_offset_ms=_stream_ms(end.start),
                end_offset_ms=_stream_ms(end.end),
                had_speech=end.had_speech,
                reason=_TURN_END_REASONS[end.reason],
            )
        )
    return pb.StreamingTranscribeResponse(
        results=[
            _live_result_proto(r, reply.language, reply.language_probability) for r in reply.results
        ],
        progress=pb.TranscriptionProgress(
            processed_audio_ms=reply.processed_audio_ms,
            total_audio_ms=reply.total_audio_ms,
        ),
    )


def _result_proto(result: FileResult, language: str, probability: float) -> pb.TranscriptResult:
    segment = result.segment
    return pb.TranscriptResult(
        segment_index=result.index,
        transcript=segment.text,
        is_final=True,
        start_offset_ms=segment.start_ms,
        end_offset_ms=segment.end_ms,
        words=[
            pb.WordInfo(
                word=w.text,
                start_offset_ms=w.start_ms,
                end_offset_ms=w.end_ms,
                probability=w.probability,
            )
            for w in segment.words
        ],
        language_code=language,
        language_probability=probability,
        token_ids=segment.token_ids,
        temperature=segment.temperature,
        avg_logprob=segment.avg_logprob,
        compression_ratio=segment.compression_ratio,
        no_speech_probability=segment.no_speech_probability,
        window_offset_ms=segment.window_offset_ms,
    )


def _summary_proto(
    transcription: FileTranscription, duration_ms: int, model: str
) -> pb.TranscriptionSummary:
    info = transcription.info
    used = info.options
    # No speech and no configured language: there is no language to report.
    known = transcription.results_sent > 0 or transcription.options.language is not None
    return pb.TranscriptionSummary(
        duration_ms=duration_ms,
        duration_after_vad_ms=min(duration_ms, info.duration_after_vad_ms),
        language_code=info.language if known else "",
        language_probability=info.language_probability if known else 0.0,
        options=pb.TranscriptionOptions(
            beam_size=used.beam_size,
            best_of=used.best_of,
            temperatures=used.temperatures,
            condition_on_previous_text=used.condition_on_previous_text,
            initial_prompt=used.initial_prompt,
            hotwords=used.hotwords,
            word_timestamps=used.word_timestamps,
            vad_filter=used.vad_filter,
            no_speech_threshold=used.no_speech_threshold,
            compression_ratio_threshold=used.compression_ratio_threshold,
            log_prob_threshold=used.log_prob_threshold,
            task=used.task,
        ),
        model=model,
    )


def _request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


def _status_of(error: WorkerError) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """The status code, client-facing message and trailing metadata of a domain error."""
    if isinstance(error, InvalidRequestError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(error), ()
    if isinstance(error, CapacityError):
        return (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            str(error),
            ((RETRY_AFTER_KEY, str(error.retry_after_ms)),),
        )
    if isinstance(error, UnavailableError):
        return grpc.StatusCode.UNAVAILABLE, str(error), ()
    if isinstance(error, UnimplementedError):
        return grpc.StatusCode.UNIMPLEMENTED, str(error), ()
    return grpc.StatusCode.INTERNAL, "internal error in the speech engine", ()


class TranscriberServicer(pb_grpc.TranscriberServiceServicer):
    """Serves `StreamingTranscribe` and `GetWorkerInfo`.

    Args:
        settings: The worker settings (limits and file defaults).
        clock: Monotonic seconds, for latencies in the log.
        speech: How live streams hear speech; None: Silero.
    """

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        speech: SpeechModels | None = None,
    ) -> None:
        self._settings = settings
        self._speech = speech
        self._clock = clock
        self._runtime: Runtime | None = None
        self._draining = False
        self._active_streams = 0
        vad = settings.vad
        chunking = settings.file
        self._chunk_plan = (
            ChunkPlan(
                max_chunk_s=chunking.max_chunk_s,
                max_gap_s=chunking.max_gap_s,
                in_flight=settings.scheduler.max_batch,
            )
            if chunking.chunked
            else None
        )
        self._file_defaults = FileDefaults(
            enable_vad=settings.file.enable_vad,
            no_speech_threshold=settings.file.no_speech_threshold,
            vad=VadParameters(
                threshold=vad.threshold,
                min_speech_ms=vad.min_speech_ms,
                min_silence_ms=vad.min_silence_ms,
                speech_pad_ms=vad.speech_pad_ms,
                max_speech_ms=vad.max_speech_ms,
            ),
        )
        self._max_samples = int(settings.limits.max_audio_s * SAMPLE_RATE_HERTZ)
        self._live_defaults = settings.live
        self._admission: Admission | None = None

    @property
    def active_streams(self) -> int:
        """Streams being served now."""
        return self._active_streams

    def attach(self, runtime: Runtime) -> None:
        """Starts serving with a loaded engine behind `runtime.scheduler`."""
        self._runtime = runtime
        limits = self._settings.limits
        self._admission = Admission(
            max_live_cycle_s=limits.max_live_cycle_s,
            max_file_wait_s=limits.max_file_wait_s,
            max_file_audio_s=limits.max_file_audio_s,
            unmeasured_live_streams=(
                limits.unmeasured_live_streams
                or (
                    self._settings.scheduler.max_batch
                    if runtime.engine_info.device == "cuda"
                    else _CPU_UNMEASURED_LIVE_STREAMS
                )
            ),
            real_time_factor=lambda: runtime.scheduler.real_time_factor,
            clock=self._clock,
        )
        admission = self._admission
        metrics.set_build_info(runtime.engine_info, __version__)
        metrics.watch(
            capacity=lambda: min(
                limits.max_streams,
                admission.live_capacity or admission.unmeasured_live_streams,
            ),
            queue_depth=lambda: runtime.scheduler.queue_depth,
            real_time_factor=lambda: runtime.scheduler.real_time_factor,
        )

    def start_draining(self) -> None:
        """Refuses new streams with UNAVAILABLE; running streams continue."""
        self._draining = True

    async def StreamingTranscribe(
        self,
        request_iterator: AsyncIterator[pb.StreamingTranscribeRequest],
        context: StreamContext,
    ) -> AsyncIterator[pb.StreamingTranscribeResponse]:
        """Transcribes one stream: config first, then audio, then the client half-closes.

        Args:
            request_iterator: The client's messages.
            context: The call.

        Yields:
            Final results with progress, then one summary.
        """
        request_id = _request_id(context)
        # Every line logged for this stream, here or in the tasks it starts, carries the id.
        bind_request_id(request_id)
        extra: dict[str, Any] = {"request_id": request_id}
        runtime = self._runtime
        if runtime is None or self._draining:
            state = "loading the model" if runtime is None else "shutting down"
            await self._abort(context, UnavailableError(f"the worker is {state}"), extra)
        if self._active_streams >= self._settings.limits.max_streams:
            await self._abort(
                context,
                CapacityError(
                    f"the worker serves at most {self._settings.limits.max_streams} streams",
                    retry_after_ms=_STREAM_LIMIT_RETRY_MS,
                ),
                extra,
            )
        self._active_streams += 1
        failure: WorkerError | None = None
        try:
            async for response in self._serve(request_iterator, runtime, extra):
                yield response
        except WorkerError as exc:
            failure = exc
        except asyncio.CancelledError:
            # The client left, its deadline passed, or the drain's grace period ended.
            logger.debug("stream cancelled", extra=extra)
            raise
        except Exception as exc:
            failure = EngineError("unexpected failure")
            failure.__cause__ = exc
        finally:
            self._active_streams -= 1
        if failure is not None:
            await self._abort(context, failure, extra)

    async def GetWorkerInfo(
        self, request: pb.GetWorkerInfoRequest, context: InfoContext
    ) -> pb.GetWorkerInfoResponse:
        """Describes the loaded model, the engine and the current load.

        Args:
            request: Empty.
            context: The call.

        Returns:
            The description.
        """
        del request
        runtime = self._runtime
        if runtime is None:
            await self._abort(context, UnavailableError("the worker is loading the model"), {})
        info = runtime.engine_info
        stats = runtime.scheduler.stats()
        admission = self._admitted()
        limits = self._settings.limits
        return pb.GetWorkerInfoResponse(
            model=pb.ModelInfo(
                name=info.model_name,
                is_multilingual=info.is_multilingual,
                languages=info.languages,
            ),
            backend=info.backend,
            device=info.device,
            compute_type=info.compute_type,
            load=pb.WorkerLoad(
                active_streams=self._active_streams,
                max_streams=self._settings.limits.max_streams,
                queue_depth=stats.queue_depth,
                max_queue_depth=stats.max_queue,
                real_time_factor=stats.real_time_factor,
                live_streams=admission.live_streams,
                live_cycle_ms=round(admission.live_cycle_s * 1000),
                max_live_cycle_ms=round((limits.max_live_cycle_s or 0.0) * 1000),
                file_backlog_ms=round(admission.file_wait_s * 1000),
                mean_batch_size=stats.mean_batch,
            ),
            version=__version__,
            cpu_threads=info.cpu_threads,
        )

    # -- internals ------------------------------------------------------------------

    async def _serve(
        self,
        requests: AsyncIterator[pb.StreamingTranscribeRequest],
        runtime: Runtime,
        extra: dict[str, Any],
    ) -> AsyncIterator[pb.StreamingTranscribeResponse]:
        messages = aiter(requests)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("request") != "config":
            raise InvalidConfigError("the first message of a stream must carry config")
        config = stream_config_from_proto(first.config)
        check_audio_format(config)
        info = runtime.engine_info
        check_model(config.model, info.model_name)
        logger.debug(
            "stream opened",
            extra={**extra, "mode": config.mode, "language": config.language, "task": config.task},
        )
        if config.mode == "live":
            async for response in self._serve_live(messages, config, runtime, extra):
                yield response
            return
        if config.turns is not None:
            raise InvalidConfigError("turns are only allowed in live mode")
        options = file_decode_options(config, info, self._file_defaults)
        if config.encoding is None:  # checked above; narrows the type
            raise InvalidConfigError("encoding is required")
        declared_ms = config.audio_duration_ms
        max_ms = samples_to_ms(self._max_samples)
        if declared_ms is not None and declared_ms > max_ms:
            raise InvalidAudioError(
                f"the audio is {declared_ms / 1000:.0f} s long; this worker takes files of "
                f"at most {max_ms / 1000:.0f} s ({max_ms / 3_600_000:.1f} h)"
            )
        admission = self._admitted()
        admission.check_file()
        budget = admission.admit_file(declared_ms or 0)
        try:
            # The ack, as for live streams: past this point the stream is this worker's, so
            # a gateway holding the audio back until now can still send it elsewhere.
            yield pb.StreamingTranscribeResponse(
                progress=pb.TranscriptionProgress(
                    processed_audio_ms=0, total_audio_ms=declared_ms or 0
                )
            )
            with metrics.stream_active("file"):
                async for response in self._serve_file(
                    messages, config.encoding, declared_ms, budget, options, runtime, extra
                ):
                    yield response
        finally:
            budget.release()

    async def _serve_file(
        self,
        messages: AsyncIterator[pb.StreamingTranscribeRequest],
        encoding: AudioEncoding,
        declared_ms: int | None,
        budget: FileBudget,
        options: DecodeOptions,
        runtime: Runtime,
        extra: dict[str, Any],
    ) -> AsyncIterator[pb.StreamingTranscribeResponse]:
        info = runtime.engine_info
        # The recording stays in its wire format; each engine job converts its own stretch.
        buffer = PcmAccumulator(encoding, max_samples=self._max_samples)
        async for message in messages:
            kind = message.WhichOneof("request")
            if kind == "audio":
                buffer.append(message.audio)
                if declared_ms is None:
                    budget.grow_to(buffer.duration_ms)
                elif buffer.duration_ms > declared_ms + _DECLARED_SLACK_MS:
                    raise InvalidAudioError(
                        f"the audio runs past its declared duration of {declared_ms} ms"
                    )
            elif kind == "config":
                raise InvalidConfigError("config is only allowed in the first message")
        duration_ms = buffer.duration_ms
        extra = {**extra, "model": info.model_name, "audio_ms": duration_ms}
        if buffer.num_samples == 0:
            raise InvalidAudioError("no audio: the stream ended before any audio arrived")
        budget.settle(duration_ms)
        started = self._clock()
        logger.debug("file stream received", extra=extra)
        transcription = await start_file_transcription(
            runtime.scheduler, buffer, options, info, self._chunk_plan
        )
        language = transcription.info.language
        probability = transcription.info.language_probability
        try:
            async for result in transcription:
                yield pb.StreamingTranscribeResponse(
                    results=[_result_proto(result, language, probability)],
                    progress=pb.TranscriptionProgress(
                        processed_audio_ms=result.processed_ms, total_audio_ms=duration_ms
                    ),
                )
        finally:
            transcription.close()
        yield pb.StreamingTranscribeResponse(
            progress=pb.TranscriptionProgress(
                processed_audio_ms=duration_ms, total_audio_ms=duration_ms
            ),
            summary=_summary_proto(transcription, duration_ms, info.model_name),
        )
        metrics.audio_processed("file", duration_ms / 1000)
        logger.info(
            "file stream done",
            extra={
                **extra,
                "latency_ms": round((self._clock() - started) * 1000),
                "results": transcription.results_sent,
                "language": language,
                "grpc_code": "OK",
            },
        )

    async def _serve_live(
        self,
        messages: AsyncIterator[pb.StreamingTranscribeRequest],
        config: StreamConfig,
        runtime: Runtime,
        extra: dict[str, Any],
    ) -> AsyncIterator[pb.StreamingTranscribeResponse]:
        info = runtime.engine_info
        admission = self._admitted()
        admission.check_live()
        ticket = admission.open_live()
        started = self._clock()
        try:
            with metrics.stream_active("live"):
                live = start_live_session(
                    config,
                    info,
                    runtime.scheduler,
                    self._live_defaults,
                    self._clock,
                    self._speech,
                    on_cycle=functools.partial(admission.record_cycle, ticket=ticket),
                    live_streams=lambda: admission.live_streams,
                )
                async for reply in live.run(_live_inputs(messages)):
                    yield _live_response(reply)
        finally:
            admission.close_live(ticket)
        duration_ms = round(live.received_s * 1000)
        language = live.language or ""
        yield pb.StreamingTranscribeResponse(
            progress=pb.TranscriptionProgress(
                processed_audio_ms=duration_ms, total_audio_ms=duration_ms
            ),
            summary=pb.TranscriptionSummary(
                duration_ms=duration_ms,
                duration_after_vad_ms=duration_ms,
                language_code=language,
                language_probability=1.0 if language else 0.0,
                options=pb.TranscriptionOptions(
                    beam_size=(
                        info.beam_size
                        if self._live_defaults.beam_size is None
                        or admission.live_streams <= self._live_defaults.full_quality_streams
                        else self._live_defaults.beam_size
                    ),
                    best_of=info.best_of,
                    temperatures=list(LIVE_TEMPERATURES),
                    condition_on_previous_text=False,
                    initial_prompt=config.initial_prompt or "",
                    hotwords=config.hotwords or "",
                    word_timestamps=config.word_timestamps,
                    vad_filter=bool(config.enable_vad),
                    no_speech_threshold=(
                        config.no_speech_threshold
                        if config.no_speech_threshold is not None
                        else self._live_defaults.no_speech_threshold
                    ),
                    task=config.task,
                ),
                model=info.model_name,
            ),
        )
        metrics.audio_processed("live", duration_ms / 1000)
        logger.info(
            "live stream done",
            extra={
                **extra,
                "model": info.model_name,
                "audio_ms": duration_ms,
                "latency_ms": round((self._clock() - started) * 1000),
                "decodes": live.decodes,
                "turns": live.turns_ended,
                "language": language,
                "grpc_code": "OK",
            },
        )

    def _admitted(self) -> Admission:
        if self._admission is None:  # attach() sets it before any stream is served
            raise UnavailableError("the worker is loading the model")
        return self._admission

    async def _abort(
        self,
        context: grpc.aio.ServicerContext[Any, Any],
        error: WorkerError,
        extra: dict[str, Any],
    ) -> NoReturn:
        code, message, trailing = _status_of(error)
        metrics.rejected(code.name)
        details = {**extra, "grpc_code": code.name}
        if isinstance(error, EngineError):
            logger.error("stream failed: %s", error, exc_info=error, extra=details)
        elif isinstance(error, InvalidRequestError | UnimplementedError):
            logger.info("stream rejected: %s", message, extra=details)
        else:
            logger.warning("stream refused: %s", message, extra=details)
        await context.abort(code, message, trailing_metadata=trailing)
