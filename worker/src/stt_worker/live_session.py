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

Turn mode (`StreamConfig.turns`): the reader scores each chunk's voice activity as it
arrives (Silero frame by frame, on a thread of its own so a decode never delays it) and
`turns.TurnTracker` says where speech begins and where turns end. Each turn has a commit
policy of its own, in the turn's time; at the end of a turn its remaining audio is
decoded once more and committed in full (the flush of the end of a stream), then the turn
end is sent and a fresh policy takes the audio after it. Results are shifted into stream
time and numbered on across turns.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

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
from stt_worker.turns import (
    EndTurn,
    SpeechBegin,
    SpeechScorer,
    TurnEnd,
    TurnEvent,
    TurnOptions,
    TurnTracker,
)
from stt_worker.types import (
    SAMPLE_RATE_HERTZ,
    AudioEncoding,
    DecodeOptions,
    EngineInfo,
    FloatArray,
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
    SileroScorer,
)

logger = logging.getLogger(__name__)

# No temperature fallback: a window that fails Whisper's checks is simply decoded again
# 300 ms later, while a fallback cascade costs up to five more decodes (seconds of
# latency) on the one engine thread.
LIVE_TEMPERATURES = (0.0,)
# Caps of a turn-mode stream's tuning, ms.
MAX_TURN_SILENCE_MS = 10_000
MAX_TURN_PREFIX_PADDING_MS = 5_000

LiveInput = bytes | EndTurn
"""What a live stream's reader takes after the config: audio, or a request to end the
current turn."""

_scoring_thread: ThreadPoolExecutor | None = None


def _scoring_executor() -> ThreadPoolExecutor:
    """The one thread that scores the voice activity of every turn-mode stream. Not the
    engine thread: there the scoring would wait behind decodes, and turns would end late."""
    global _scoring_thread
    if _scoring_thread is None:
        _scoring_thread = ThreadPoolExecutor(1, thread_name_prefix="stt-turn-vad")
    return _scoring_thread


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


def turn_options(config: StreamConfig, vad_threshold: float) -> TurnOptions | None:
    """The turn detection of a live stream, or None without turn mode.

    Args:
        config: The stream's config.
        vad_threshold: The stream's VAD threshold (turns use it unless they set their own).

    Raises:
        InvalidConfigError: A value is out of range.
    """
    turns = config.turns
    if turns is None:
        return None
    threshold = turns.threshold if turns.threshold is not None else vad_threshold
    if not 0.0 < threshold < 1.0:
        raise InvalidConfigError(f"turns threshold must be in (0, 1), got {threshold}")
    if turns.silence_duration_ms > MAX_TURN_SILENCE_MS:
        raise InvalidConfigError(
            f"turns silence_duration_ms must be at most {MAX_TURN_SILENCE_MS}, "
            f"got {turns.silence_duration_ms}"
        )
    if turns.prefix_padding_ms > MAX_TURN_PREFIX_PADDING_MS:
        raise InvalidConfigError(
            f"turns prefix_padding_ms must be at most {MAX_TURN_PREFIX_PADDING_MS}, "
            f"got {turns.prefix_padding_ms}"
        )
    return TurnOptions(
        silence_ms=turns.silence_duration_ms,
        prefix_padding_ms=turns.prefix_padding_ms,
        threshold=threshold,
    )


@dataclass(frozen=True, slots=True)
class SpeechModels:
    """How live streams hear speech. Tests put energy-based stand-ins in: the fake
    engine's tones are no speech to Silero."""

    detector: SpeechDetector | None = None
    """Voice activity of each window; None: Silero with the stream's tuning."""
    scorer: Callable[[], SpeechScorer] = SileroScorer
    """A new turn-mode stream's frame scorer."""


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
    speech_begin: SpeechBegin | None = None
    """Turn mode: set alone (no results) when speech first starts in a turn."""
    turn_end: TurnEnd | None = None
    """Turn mode: set alone after the last results of a turn."""


@dataclass(slots=True, eq=False)
class _Turn:
    """The current turn of a stream: its policy, which counts from `origin` (samples of
    the stream), and the index of its first result in the stream."""

    policy: CommitPolicy
    origin: int = 0
    first_index: int = 0
    committed: int = 0  # final results sent so far

    def in_stream(self, result: LiveResult) -> LiveResult:
        """A result of the turn's policy in stream time and numbering."""
        if not self.origin and not self.first_index:
            return result
        shift = self.origin / SAMPLE_RATE_HERTZ
        return replace(
            result,
            index=result.index + self.first_index,
            start_s=result.start_s + shift,
            end_s=result.end_s + shift,
            words=tuple(
                replace(w, start_s=w.start_s + shift, end_s=w.end_s + shift) for w in result.words
            ),
        )


class LiveSession:
    """One live stream.

    Args:
        options: The commit policy's options (each turn gets a policy of its own).
        scheduler: Where decodes run.
        encoding: Sample format of the incoming audio.
        defaults: The worker's live settings (idle flush, backpressure).
        detector: Voice-activity detection, or None to decode every window.
        clock: Monotonic seconds.
        on_cycle: Told each decode's cycle (request to result), seconds.
        live_streams: The live streams now (more than `full_quality_streams`: cheap decodes).
        interim_results: Send interim (partial) results; False sends final results only.
        turns: Turn mode's detection, or None for a stream of one turn.
        scorer: Turn mode: scores the stream's voice activity frame by frame.
    """

    def __init__(
        self,
        options: LiveOptions,
        scheduler: Scheduler,
        encoding: AudioEncoding,
        defaults: LiveSettings,
        detector: SpeechDetector | None,
        clock: Callable[[], float],
        on_cycle: Callable[[float], None] | None = None,
        live_streams: Callable[[], int] = lambda: 1,
        interim_results: bool = True,
        turns: TurnOptions | None = None,
        scorer: SpeechScorer | None = None,
    ) -> None:
        self._options = options
        self._interim_results = interim_results
        self._turn = _Turn(CommitPolicy(options, clock))  # the only turn without turn mode
        self._on_cycle = on_cycle
        self._live_streams = live_streams
        self._scheduler = scheduler
        self._encoding = encoding
        self._defaults = defaults
        self._detector = detector
        self._clock = clock
        self._turns = TurnTracker(turns) if turns is not None else None
        self._scorer = scorer if scorer is not None else SileroScorer()
        # Turn events found by the reader, handled in order by the stream's loop.
        self._events: collections.deque[TurnEvent] = collections.deque()
        self._audio_arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._ended = False
        self._last_audio_at = clock()
        self._received = 0  # samples of the stream
        self._decoded_through = 0  # samples of the stream
        self.decodes = 0

    async def run(self, inputs: AsyncIterator[LiveInput]) -> AsyncIterator[LiveReply]:
        """Serves the stream: the ack, updates as they come, the flush at the end.

        Args:
            inputs: The client's messages after the config: non-empty audio chunks, and in
                turn mode requests to end a turn (a protocol error is raised from it and
                ends the stream).

        Yields:
            Replies as the proto's LIVE-mode comment describes.
        """
        yield LiveReply((), "", 0.0, 0, 0)
        reader = asyncio.create_task(self._read(inputs))
        try:
            idle_flushed = True
            while True:
                if reader.done():
                    reader.result()  # re-raises a protocol error from the client
                if self._events:
                    for reply in await self._next_event():
                        yield reply
                    continue
                if self._turn.policy.wants_decode():
                    idle_flushed = False
                    for reply in await self._decode_replies(final=False):
                        yield reply
                    continue
                if self._ended:
                    break
                idle_s = self._defaults.idle_flush_ms / 1000
                waited = await self._wait_for_audio(None if idle_flushed else idle_s)
                if not waited and not idle_flushed:
                    # No audio for a while: the speaker stopped or the client paused;
                    # commit what is pending rather than leave it hanging.
                    idle_flushed = True
                    for reply in await self._decode_replies(final=True):
                        yield reply
            reader.result()
            if self._turns is None:
                for reply in await self._decode_replies(final=True):
                    yield reply
                return
            if self._received > self._turns.turn_start:
                self._events.append(self._turns.end_turn(self._received, "stream_end"))
            while self._events:
                for reply in await self._next_event():
                    yield reply
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    @property
    def received_s(self) -> float:
        """Seconds of audio received since the stream began."""
        return self._received / SAMPLE_RATE_HERTZ

    @property
    def turns_ended(self) -> int:
        """Turns ended so far (0 without turn mode)."""
        return 0 if self._turns is None else self._turns.turn_index

    @property
    def language(self) -> str | None:
        """The stream's language once known."""
        return self._turn.policy.language

    async def _read(self, inputs: AsyncIterator[LiveInput]) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for item in inputs:
                if isinstance(item, EndTurn):
                    if self._turns is None:
                        raise InvalidConfigError("end_turn needs a stream with turns in its config")
                    # The turn ends after the audio received before the request.
                    self._events.append(self._turns.end_turn(self._received, "requested"))
                    self._audio_arrived.set()
                    continue
                samples = pcm_to_float32(item, self._encoding)
                if self._turns is not None:
                    # Scored before the policy sees the audio: no window holds audio past
                    # a turn's end before the end is known.
                    probabilities = await loop.run_in_executor(
                        _scoring_executor(), self._scorer.score, samples
                    )
                    self._events.extend(
                        self._turns.hear(probabilities.tolist(), self._scorer.frame_samples)
                    )
                self._turn.policy.push_audio(samples)
                self._received += samples.size
                self._last_audio_at = self._clock()
                self._audio_arrived.set()
                if self._pending_s() > self._defaults.max_pending_s:
                    self._room.clear()
                    await self._room.wait()
        finally:
            self._ended = True
            self._audio_arrived.set()

    def _pending_s(self) -> float:
        return (self._received - self._decoded_through) / SAMPLE_RATE_HERTZ

    async def _wait_for_audio(self, timeout_s: float | None) -> bool:
        self._audio_arrived.clear()
        if self._turn.policy.wants_decode() or self._ended or self._events:
            return True
        try:
            await asyncio.wait_for(self._audio_arrived.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _decode_replies(self, *, final: bool) -> list[LiveReply]:
        """Decodes the current turn's window: the speech events found meanwhile, then the
        update's replies."""
        turn = self._turn
        request = turn.policy.next_request(final=final)
        update = None if request is None else await self._decode(turn, request, final=final)
        replies = []
        while self._events and isinstance(self._events[0], SpeechBegin):
            # Speech of this turn (one of the next turn would follow this turn's end).
            replies.append(self._event_reply(self._events.popleft()))
        if update is not None:
            replies.extend(self._responses(turn, update))
        return replies

    async def _decode(
        self, turn: _Turn, request: WindowRequest, *, final: bool
    ) -> LiveUpdate | None:
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
        window_end = turn.origin + round(request.offset_s * SAMPLE_RATE_HERTZ) + request.audio.size
        self._decoded_through = max(self._decoded_through, window_end)
        self._room.set()
        if not final and any(isinstance(event, TurnEnd) for event in self._events):
            # The turn ended meanwhile: its flush decodes and commits it all.
            return None
        update = turn.policy.apply(request, result, final=final, under_load=under_load)
        turn.committed += len(update.committed)
        if not update.committed and update.partial is None and update.language is None:
            return None
        return update

    async def _next_event(self) -> list[LiveReply]:
        event = self._events.popleft()
        if isinstance(event, SpeechBegin):
            return [self._event_reply(event)]
        return await self._end_turn(event)

    async def _end_turn(self, end: TurnEnd) -> list[LiveReply]:
        """Flushes the current turn up to its end, hands the audio after it to the next
        turn's policy and closes the turn."""
        turn = self._turn
        request = turn.policy.next_request(final=True)
        cut, next_origin = 0, self._received
        if request is not None:
            start = turn.origin + round(request.offset_s * SAMPLE_RATE_HERTZ)
            cut = min(max(end.end - start, 0), request.audio.size)
            next_origin = start + cut
        # The next turn takes over before the flush's await: audio arriving meanwhile is
        # its own.
        tail = request.audio[cut:] if request is not None else np.zeros(0, np.float32)
        self._turn = _Turn(self._policy(turn.policy.language, tail), next_origin)
        replies = []
        if request is not None and cut > 0:
            flush = replace(request, audio=request.audio[:cut])
            update = await self._decode(turn, flush, final=True)
            if update is not None:
                replies.extend(self._responses(turn, update))
        if turn.policy.language is not None and self._turn.policy.language is None:
            # The flush fixed the stream's language: the next turn keeps it too. Its
            # policy has not decoded yet, so its buffer is all of its audio.
            held = self._turn.policy.next_request(final=True)
            audio = held.audio if held is not None else tail[:0]
            self._turn.policy = self._policy(turn.policy.language, audio)
        # Numbered on from the last result of this turn, flush included.
        self._turn.first_index = turn.first_index + turn.committed
        replies.append(self._event_reply(end))
        return replies

    def _policy(self, language: str | None, audio: FloatArray) -> CommitPolicy:
        """A turn's policy, holding `audio`; the stream's language, once detected, stays."""
        options = self._options if language is None else replace(self._options, language=language)
        policy = CommitPolicy(options, self._clock)
        if audio.size:
            policy.push_audio(audio)
        return policy

    def _event_reply(self, event: TurnEvent) -> LiveReply:
        language = self._turn.policy.language or ""
        if isinstance(event, SpeechBegin):
            return LiveReply((), language, 0.0, 0, 0, speech_begin=event)
        return LiveReply((), language, 0.0, 0, 0, turn_end=event)

    def _responses(self, turn: _Turn, update: LiveUpdate) -> list[LiveReply]:
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
            return [self._response(turn, replace(update, partial=None))]
        responses = []
        if update.committed and update.partial is None:
            preview = replace(update.committed[-1], is_final=False)
            responses.append(
                self._response(
                    turn,
                    replace(update, committed=(), partial=preview, language=None),
                )
            )
        responses.append(self._response(turn, update))
        return responses

    def _response(self, turn: _Turn, update: LiveUpdate) -> LiveReply:
        partial = () if update.partial is None else (update.partial,)
        return LiveReply(
            results=tuple(turn.in_stream(r) for r in (*update.committed, *partial)),
            language=turn.policy.language or "",
            language_probability=update.language_probability,
            processed_audio_ms=round(self._decoded_through * 1000 / SAMPLE_RATE_HERTZ),
            total_audio_ms=round(self._received * 1000 / SAMPLE_RATE_HERTZ),
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
    speech: SpeechModels | None = None,
    on_cycle: Callable[[float], None] | None = None,
    live_streams: Callable[[], int] = lambda: 1,
) -> LiveSession:
    """Validates a live stream's config and sets up its session.

    Raises:
        InvalidConfigError: The config cannot be served.
    """
    if config.encoding is None:
        raise InvalidConfigError("encoding is required")
    options = live_options(config, info, defaults)
    turns = turn_options(config, options.vad_threshold)
    vad_detector = live_detector(config)  # validated before the stream is accepted
    speech = speech or SpeechModels()
    return LiveSession(
        options,
        scheduler,
        config.encoding,
        defaults,
        speech.detector if speech.detector is not None else vad_detector,
        clock,
        on_cycle,
        live_streams,
        config.interim_results,
        turns,
        speech.scorer() if turns is not None else None,
    )
