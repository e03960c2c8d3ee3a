"""A live session: one live stream, its commit policy (`live_policy.py`) driven by the
client's audio and the scheduler.

One task reads audio from the client into the `CommitPolicy`; the stream's own loop asks
the policy for a window whenever enough new audio arrived, runs voice-activity detection
and the decode as one scheduler job (live priority), and turns the policy's updates into
responses. A loaded worker therefore decodes each stream less often instead of falling
behind: a window always covers all audio received so far.

Backpressure is end to end: when more than `max_pending_s` of audio waits undecoded, the
reader stops taking messages, HTTP/2 flow control stops the gateway's writes, and the
gateway stops reading the client's socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from stt_worker.audio import pcm_to_float32, samples_to_ms
from stt_worker.config import LiveSettings
from stt_worker.errors import InvalidConfigError
from stt_worker.live_policy import (
    CommitPolicy,
    LiveOptions,
    LiveResult,
    LiveUpdate,
    SpeechDetector,
    WindowRequest,
    speech_window,
)
from stt_worker.options import check_task_and_no_speech
from stt_worker.scheduler import Priority, Scheduler
from stt_worker.types import (
    AudioEncoding,
    DecodeOptions,
    EngineInfo,
    StreamConfig,
    WindowDecode,
    WindowInput,
)
from stt_worker.vad import (
    LIVE_MIN_SILENCE_MS,
    LIVE_SPEECH_PAD_MS,
    MAX_LIVE_MIN_SILENCE_MS,
    MAX_LIVE_SPEECH_PAD_MS,
    SileroDetector,
)

logger = logging.getLogger(__name__)

# No temperature fallback: a window that fails Whisper's checks is simply decoded again
# 300 ms later, while a fallback cascade costs up to five more decodes (seconds of
# latency) on the one engine thread.
LIVE_TEMPERATURES = (0.0,)


def live_options(config: StreamConfig, info: EngineInfo, defaults: LiveSettings) -> LiveOptions:
    """The policy options of a live stream: the client's choices over the defaults.

    Raises:
        InvalidConfigError: A value is out of range or the model cannot do what is asked.
    """
    no_speech = check_task_and_no_speech(config, info, defaults.no_speech_threshold)
    threshold = config.vad.threshold if config.vad.threshold is not None else defaults.vad_threshold
    if not 0.0 < threshold < 1.0:
        raise InvalidConfigError(f"vad threshold must be in (0, 1), got {threshold}")
    language = config.language
    if not info.is_multilingual:
        language = "en"
    elif language is not None and language not in info.languages:
        raise InvalidConfigError(f"unknown language {language!r}")
    return LiveOptions(
        language=language,
        task=config.task,
        initial_prompt=config.initial_prompt,
        hotwords=config.hotwords,
        use_vad=bool(config.enable_vad),
        vad_threshold=threshold,
        no_speech_threshold=no_speech,
        word_timestamps=config.word_timestamps,
        first_decode_s=defaults.first_decode_ms / 1000,
        min_step_s=defaults.min_step_ms / 1000,
        max_buffer_s=defaults.max_buffer_s,
        trim_s=defaults.trim_s,
        fluent_cut=defaults.fluent_cut,
        load_trim_s=defaults.load_trim_s,
        pause_commit_s=defaults.pause_commit_ms / 1000,
        settle_s=None if defaults.settle_ms is None else defaults.settle_ms / 1000,
        is_multilingual=info.is_multilingual,
    )


class LiveWindow:
    """A live window as a batchable scheduler job: VAD in `prepare`, the policy's view of
    the decode in `finish` (both on the engine thread)."""

    __slots__ = ("_beam_size", "_detector", "_padding_s", "_regions", "_request")

    def __init__(
        self,
        request: WindowRequest,
        detector: SpeechDetector | None,
        strategy: tuple[int | None, float | None],
    ) -> None:
        self._request = request
        self._detector = detector
        self._beam_size, self._padding_s = strategy
        self._regions: tuple[tuple[float, float], ...] | None = None

    @staticmethod
    def strategy(defaults: LiveSettings, under_load: bool) -> tuple[int | None, float | None]:
        """Beam size and encoder padding: the engine's beam and Whisper's full padding
        while few streams are live, the cheap ones under load."""
        if not under_load:
            return None, None
        return defaults.beam_size, defaults.padding_s

    @staticmethod
    def batch_key(strategy: tuple[int | None, float | None]) -> tuple[object, ...]:
        """Live windows decoded the same way share engine calls, whatever their stream."""
        return ("live", *strategy, LIVE_TEMPERATURES)

    def prepare(self) -> WindowInput | None:
        speech, self._regions = speech_window(self._request, self._detector)
        if speech is None:
            return None
        return WindowInput(
            speech.audio,
            DecodeOptions(
                language=speech.language,
                task="translate" if speech.task == "translate" else "transcribe",
                initial_prompt=speech.initial_prompt,
                hotwords=speech.hotwords,
                temperatures=LIVE_TEMPERATURES,
                word_timestamps=True,  # the policy aligns and commits word by word
                vad_filter=False,  # VAD ran in this step already
                condition_on_previous_text=False,  # one window: no text of its own before it
                beam_size=self._beam_size,
                padding_s=self._padding_s,
            ),
            speech_regions=self._regions,
        )

    def finish(self, decoded: WindowDecode | None) -> WindowDecode:
        if decoded is None:
            return WindowDecode((), self._request.language or "", 0.0, speech_regions=())
        return replace(decoded, speech_regions=self._regions)


@dataclass(frozen=True, slots=True)
class LiveReply:
    """One response of a live stream, in domain form (the servicer maps it to proto).

    `results` are in `LiveUpdate`'s order: committed segments first, then the partial.
    The first reply of a stream (the ack) has no results and no progress.
    """

    results: tuple[LiveResult, ...]
    language: str
    language_probability: float
    processed_audio_ms: int
    total_audio_ms: int


class LiveSession:
    """One live stream.

    Args:
        policy: The commit policy, fed by `run`.
        scheduler: Where decodes run.
        encoding: Sample format of the incoming audio.
        defaults: The worker's live settings (idle flush, backpressure).
        detector: Voice-activity detection, or None to decode every window.
        clock: Monotonic seconds.
        on_cycle: Told each decode's cycle (request to result), seconds.
        live_streams: The live streams now (more than `full_quality_streams`: cheap decodes).
        interim_results: Send interim (partial) results; False sends final results only.
    """

    def __init__(
        self,
        policy: CommitPolicy,
        scheduler: Scheduler,
        encoding: AudioEncoding,
        defaults: LiveSettings,
        detector: SpeechDetector | None,
        clock: Callable[[], float],
        on_cycle: Callable[[float], None] | None = None,
        live_streams: Callable[[], int] = lambda: 1,
        interim_results: bool = True,
    ) -> None:
        self._interim_results = interim_results
        self._policy = policy
        self._on_cycle = on_cycle
        self._live_streams = live_streams
        self._scheduler = scheduler
        self._encoding = encoding
        self._defaults = defaults
        self._detector = detector
        self._clock = clock
        self._audio_arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._ended = False
        self._last_audio_at = clock()
        self._decoded_through_s = 0.0
        self.decodes = 0

    async def run(self, audio: AsyncIterator[bytes]) -> AsyncIterator[LiveReply]:
        """Serves the stream: the ack, updates as they come, the flush at the end.

        Args:
            audio: The client's audio after the config, one non-empty chunk per message
                (a protocol error is raised from it and ends the stream).

        Yields:
            Replies as the proto's LIVE-mode comment describes.
        """
        yield LiveReply((), "", 0.0, 0, 0)
        reader = asyncio.create_task(self._read(audio))
        try:
            idle_flushed = True
            while True:
                if reader.done():
                    reader.result()  # re-raises a protocol error from the client
                if self._policy.wants_decode():
                    idle_flushed = False
                    update = await self._decode(final=False)
                    if update is not None:
                        for response in self._responses(update):
                            yield response
                    continue
                if self._ended:
                    break
                idle_s = self._defaults.idle_flush_ms / 1000
                waited = await self._wait_for_audio(None if idle_flushed else idle_s)
                if not waited and not idle_flushed:
                    # No audio for a while: the speaker stopped or the client paused;
                    # commit what is pending rather than leave it hanging.
                    idle_flushed = True
                    update = await self._decode(final=True)
                    if update is not None:
                        for response in self._responses(update):
                            yield response
            reader.result()
            update = await self._decode(final=True)
            if update is not None:
                for response in self._responses(update):
                    yield response
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    @property
    def policy(self) -> CommitPolicy:
        """The policy (for the summary)."""
        return self._policy

    async def _read(self, audio: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in audio:
                samples = pcm_to_float32(chunk, self._encoding)
                self._policy.push_audio(samples)
                self._last_audio_at = self._clock()
                self._audio_arrived.set()
                if self._pending_s() > self._defaults.max_pending_s:
                    self._room.clear()
                    await self._room.wait()
        finally:
            self._ended = True
            self._audio_arrived.set()

    def _pending_s(self) -> float:
        return self._policy.received_s - self._decoded_through_s

    async def _wait_for_audio(self, timeout_s: float | None) -> bool:
        self._audio_arrived.clear()
        if self._policy.wants_decode() or self._ended:
            return True
        try:
            await asyncio.wait_for(self._audio_arrived.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _decode(self, *, final: bool) -> LiveUpdate | None:
        request = self._policy.next_request(final=final)
        if request is None:
            return None
        window_ms = samples_to_ms(request.audio.size)
        asked_at = self._clock()
        # Full quality only while the engine is not shared: with more live streams, or a
        # file being transcribed, each decode must be cheap to leave the others room.
        under_load = (
            self._live_streams() > self._defaults.full_quality_streams
            or self._scheduler.files_active
        )
        strategy = LiveWindow.strategy(self._defaults, under_load)
        result = await self._scheduler.submit_window(
            LiveWindow(request, self._detector, strategy),
            key=LiveWindow.batch_key(strategy),
            priority=Priority.LIVE,
            audio_ms=window_ms,
        )
        self.decodes += 1
        if self._on_cycle is not None:
            self._on_cycle(self._clock() - asked_at)
        self._decoded_through_s = request.offset_s + request.audio.size / 16_000
        self._room.set()
        update = self._policy.apply(request, result, final=final, under_load=under_load)
        if not update.committed and update.partial is None and update.language is None:
            return None
        return update

    def _responses(self, update: LiveUpdate) -> list[LiveReply]:
        """The update as responses: one, or two when it commits the whole window.

        A commit that leaves no partial (a pause, the idle flush, the end) is announced
        first as a partial with the same text. The partial a client saw last is then the
        text that was committed, not an older wording of it: WhisperLive's own client adds
        its last partial to the transcript when it differs from the last completed text.
        """
        if not self._interim_results:
            # Final results only (the client asked for no interim ones).
            if not update.committed:
                return []
            return [self._response(replace(update, partial=None))]
        responses = []
        if update.committed and update.partial is None:
            preview = replace(update.committed[-1], is_final=False)
            responses.append(
                self._response(
                    replace(update, committed=(), partial=preview, language=None),
                )
            )
        responses.append(self._response(update))
        return responses

    def _response(self, update: LiveUpdate) -> LiveReply:
        partial = () if update.partial is None else (update.partial,)
        return LiveReply(
            results=(*update.committed, *partial),
            language=self._policy.language or "",
            language_probability=update.language_probability,
            processed_audio_ms=round(self._decoded_through_s * 1000),
            total_audio_ms=round(self._policy.received_s * 1000),
        )


def live_detector(config: StreamConfig) -> SileroDetector:
    """The stream's voice-activity detector: the client's silence, padding and shortest
    speech over the live defaults. (Its threshold goes with each window; the longest
    speech region does not apply, a live window is cut by the commit policy.)

    Raises:
        InvalidConfigError: A value is past its live cap.
    """
    vad = config.vad
    min_silence_ms = LIVE_MIN_SILENCE_MS if vad.min_silence_ms is None else vad.min_silence_ms
    speech_pad_ms = LIVE_SPEECH_PAD_MS if vad.speech_pad_ms is None else vad.speech_pad_ms
    if min_silence_ms > MAX_LIVE_MIN_SILENCE_MS:
        raise InvalidConfigError(
            f"vad min_silence_ms of a live stream must be at most {MAX_LIVE_MIN_SILENCE_MS}, "
            f"got {min_silence_ms}"
        )
    if speech_pad_ms > MAX_LIVE_SPEECH_PAD_MS:
        raise InvalidConfigError(
            f"vad speech_pad_ms of a live stream must be at most {MAX_LIVE_SPEECH_PAD_MS}, "
            f"got {speech_pad_ms}"
        )
    return SileroDetector(
        min_silence_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        min_speech_ms=vad.min_speech_ms or 0,
    )


def start_live_session(
    config: StreamConfig,
    info: EngineInfo,
    scheduler: Scheduler,
    defaults: LiveSettings,
    clock: Callable[[], float],
    detector: SpeechDetector | None = None,
    on_cycle: Callable[[float], None] | None = None,
    live_streams: Callable[[], int] = lambda: 1,
) -> LiveSession:
    """Validates a live stream's config and sets up its policy.

    Raises:
        InvalidConfigError: The config cannot be served.
    """
    if config.encoding is None:
        raise InvalidConfigError("encoding is required")
    options = live_options(config, info, defaults)
    vad_detector = live_detector(config)  # validated before the stream is accepted
    policy = CommitPolicy(options, clock)
    return LiveSession(
        policy,
        scheduler,
        config.encoding,
        defaults,
        detector if detector is not None else vad_detector,
        clock,
        on_cycle,
        live_streams,
        config.interim_results,
    )
