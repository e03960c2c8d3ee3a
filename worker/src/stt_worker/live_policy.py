"""The commit policy of a live session: when to decode, what to commit, what to keep.

A live stream re-decodes its uncommitted audio as it grows and commits words once two
consecutive hypotheses agree on them (local agreement of order 2). Committed text never
changes afterwards. The audio buffer is trimmed only behind committed words, at a pause,
so no unprocessed speech is ever dropped; at the end of the stream the remainder is
decoded once more and committed in full (the flush).

This module is plain synchronous code: no gRPC, no threads, no engine. The live session
(`live_session.py`) feeds audio in, asks for the next `WindowRequest`, runs it through the
scheduler and hands the engine's `WindowDecode` back. Time comes from an injected clock, so tests
never sleep. Where a window may be cut is `window_cuts.py`'s to say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import takewhile
from typing import Protocol

import numpy as np
import numpy.typing as npt

from stt_worker.types import WindowDecode
from stt_worker.window_cuts import CutOptions, WindowWords, cut_point
from stt_worker.window_cuts import silences as window_silences

FloatArray = npt.NDArray[np.float32]

SAMPLE_RATE_HERTZ = 16_000
# Whisper's own limit: text that gzip-compresses better than this is a repetition loop.
_MAX_COMPRESSION_RATIO = 2.4
# Silence kept after the last speech region when a window is decoded, seconds.
_TAIL_PAD_S = 0.5
# Least part of a word (seconds) that must lie in detected speech for it to count as heard.
_MIN_WORD_IN_SPEECH_S = 0.08
# A word shorter than this has no real time (Whisper squeezed it to a point); it is kept
# when it lies within `_DEGENERATE_SNAP_S` of speech, seconds.
_DEGENERATE_WORD_S = 0.04
_DEGENERATE_SNAP_S = 0.5
# A head word starting this soon after the last committed word re-states it (the window
# was cut there and Whisper heard it again); later it is said again, s.
_REPEAT_SLACK_S = 1.0
# A head word heard this far inside the last committed word may be its tail, seconds.
_TAIL_OVERLAP_S = 0.1


class _LiveBuffer:
    """The uncommitted window: float32 samples from `start_s` to `end_s` of the stream.

    Appends amortise by doubling; trimming moves the start without copying until the dead
    head outweighs the live part.
    """

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE_HERTZ * 8, dtype=np.float32)
        self._head = 0  # index of the first live sample in _data
        self._size = 0  # live samples
        self._dropped = 0  # samples trimmed since the stream began

    @property
    def start_s(self) -> float:
        return self._dropped / SAMPLE_RATE_HERTZ

    @property
    def end_s(self) -> float:
        return (self._dropped + self._size) / SAMPLE_RATE_HERTZ

    @property
    def duration_s(self) -> float:
        return self._size / SAMPLE_RATE_HERTZ

    def append(self, samples: FloatArray) -> None:
        needed = self._head + self._size + samples.size
        if needed > self._data.size:
            live = self._data[self._head : self._head + self._size]
            capacity = max(self._data.size, 2 * (self._size + samples.size))
            grown = np.zeros(capacity, dtype=np.float32)
            grown[: self._size] = live
            self._data, self._head = grown, 0
        end = self._head + self._size
        self._data[end : end + samples.size] = samples
        self._size += samples.size

    def view(self) -> FloatArray:
        return self._data[self._head : self._head + self._size]

    def trim_to(self, stream_s: float) -> None:
        """Drop samples before `stream_s` (seconds of the stream)."""
        drop = round(stream_s * SAMPLE_RATE_HERTZ) - self._dropped
        drop = max(0, min(drop, self._size))
        self._head += drop
        self._size -= drop
        self._dropped += drop


_NORMALIZE_RE = re.compile(r"[^\w']+", re.UNICODE)


def _norm(word: str) -> str:
    """Case- and punctuation-insensitive form of a word, for agreement checks."""
    return _NORMALIZE_RE.sub("", word.lower())


@dataclass(frozen=True, slots=True)
class LiveWord:
    """A word of a hypothesis, with times in seconds of the stream."""

    text: str
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """A decode of the uncommitted audio window, for the scheduler and engine.

    When `vad_threshold` is set, voice-activity detection runs first (on the same compute
    thread) and a window without speech is not decoded.
    """

    audio: FloatArray
    offset_s: float
    initial_prompt: str | None
    language: str | None
    task: str
    hotwords: str | None
    vad_threshold: float | None = None


@dataclass(frozen=True, slots=True)
class LiveResult:
    """A result for the client (DESIGN's result, the proto's `TranscriptResult`): a committed
    (`is_final`) or partial span of transcript, times in seconds of the stream. Not an
    engine `types.Segment`: it is built from the policy's words."""

    index: int
    text: str
    start_s: float
    end_s: float
    words: tuple[LiveWord, ...]
    is_final: bool


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """The outcome of one decode: newly committed results and the current partial."""

    committed: tuple[LiveResult, ...]
    partial: LiveResult | None
    language: str | None = None
    language_probability: float = 0.0


class WindowDecoder(Protocol):
    """Decodes one window (the engine's live entry point)."""

    def __call__(self, request: WindowRequest) -> WindowDecode:
        """Decode the window; speech_regions is left None."""
        ...


class SpeechDetector(Protocol):
    """Voice-activity detection over a window of 16 kHz mono audio."""

    def speech_regions(self, audio: FloatArray, threshold: float) -> list[tuple[float, float]]:
        """Speech regions as (start_s, end_s) relative to the window start."""
        ...


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Per-stream options from the client, with the worker's defaults."""

    language: str | None = None
    task: str = "transcribe"
    initial_prompt: str | None = None
    hotwords: str | None = None
    use_vad: bool = False
    vad_threshold: float = 0.5
    no_speech_threshold: float = 0.45
    word_timestamps: bool = False
    #: Audio needed before the first decode, seconds.
    first_decode_s: float = 1.0
    #: New audio needed between decodes, seconds.
    min_step_s: float = 0.3
    #: Buffer length above which the oldest hypothesis segment is committed without
    #: agreement, seconds. Keeps windows bounded when text never stabilises.
    max_buffer_s: float = 20.0
    #: Buffer length above which the buffer is trimmed behind committed words at a pause.
    trim_s: float = 4.0
    #: Cut the window at any pause behind committed words, and in fluent speech past
    #: twice the trim length at the widest gap between words (short windows, cheap
    #: decodes), with `load_trim_s`; False does so only for decodes under load and
    #: otherwise cuts only at a pause right after the last committed word (`trim_s`).
    fluent_cut: bool = False
    #: The trim length of fluent cuts, seconds.
    load_trim_s: float = 4.0
    #: Shortest pause between a committed word and the next one that is a safe cut, s.
    cut_gap_s: float = 0.25
    #: Silence at the window's end after which the words before it are committed at
    #: once, without waiting for a second agreeing hypothesis, seconds.
    pause_commit_s: float = 0.5
    #: Words ending this long before the newest audio commit on first sight, seconds;
    #: None waits for agreement (or a pause) always.
    settle_s: float | None = None
    #: A word's midpoint must lie in a detected speech region widened by this much, s.
    speech_pad_s: float = 0.1
    #: Speech a window must hold before a detected language is fixed, seconds.
    language_speech_s: float = 2.0
    #: Whether a multilingual model may translate or needs language detection.
    is_multilingual: bool = True


@dataclass
class _State:
    committed_words: list[LiveWord] = field(default_factory=list)
    in_buffer: list[LiveWord] = field(default_factory=list)  # committed since the last trim
    previous: list[LiveWord] = field(default_factory=list)
    next_index: int = 0
    decoded_until_s: float = 0.0
    language: str | None = None
    language_probability: float = 0.0
    language_announced: bool = False


class CommitPolicy:
    """The commit policy of one live stream.

    Args:
        options: Client options and tuning.
        clock: Monotonic seconds; only used to time-stamp updates for latency stats.
        use_detector: Ask for voice-activity detection with each window, so silent
            windows are skipped (see `run_window`).
    """

    def __init__(
        self,
        options: LiveOptions,
        clock: Callable[[], float],
        *,
        use_detector: bool = True,
    ) -> None:
        self._options = options
        self._use_detector = use_detector
        self._clock = clock
        self._buffer = _LiveBuffer()
        self._cut_options = CutOptions(
            trim_s=options.trim_s,
            max_buffer_s=options.max_buffer_s,
            load_trim_s=options.load_trim_s,
            cut_gap_s=options.cut_gap_s,
        )
        self._state = _State(language=options.language)
        if options.language is not None or not options.is_multilingual:
            self._state.language_announced = True
            self._state.language = options.language or "en"
            self._state.language_probability = 1.0

    # -- audio ---------------------------------------------------------------------

    @property
    def received_s(self) -> float:
        """Seconds of audio received since the stream began."""
        return self._buffer.end_s

    @property
    def buffer_s(self) -> float:
        """Seconds of audio not yet trimmed (the uncommitted window)."""
        return self._buffer.duration_s

    @property
    def committed_text(self) -> str:
        """Everything committed so far, as Whisper wrote it."""
        return "".join(w.text for w in self._state.committed_words)

    def push_audio(self, samples: FloatArray) -> None:
        """Append received audio (float32, 16 kHz mono)."""
        self._buffer.append(samples)

    # -- decoding ------------------------------------------------------------------

    def wants_decode(self) -> bool:
        """Whether enough new audio arrived for another decode."""
        if self._buffer.end_s < self._options.first_decode_s:
            return False
        return self._buffer.end_s - self._state.decoded_until_s >= self._options.min_step_s

    def next_request(self, *, final: bool = False) -> WindowRequest | None:
        """A snapshot of the window to decode next, or None when the buffer is empty.

        Args:
            final: True for the flush at the end of the stream.
        """
        del final
        self._state.decoded_until_s = self._buffer.end_s
        audio = self._buffer.view()
        if audio.size == 0:
            return None
        threshold = None
        if self._use_detector:
            # With the client's VAD off, gate only clear silence (a permissive threshold).
            threshold = (
                self._options.vad_threshold
                if self._options.use_vad
                else min(self._options.vad_threshold, 0.35)
            )
        return WindowRequest(
            audio=audio.copy(),
            offset_s=self._buffer.start_s,
            # Only the client's prompt. Committed text is not prompted: Whisper, shown
            # "what your country can do for you" before hearing "ask what you can do for
            # your country", skipped to "your country" (JFK, tiny.en, under load), and
            # a skipped word never comes back.
            initial_prompt=self._options.initial_prompt,
            language=self._state.language,
            task=self._options.task,
            hotwords=self._options.hotwords,
            vad_threshold=threshold,
        )

    def apply(
        self,
        request: WindowRequest,
        result: WindowDecode,
        *,
        final: bool = False,
        under_load: bool = False,
    ) -> LiveUpdate:
        """Fold a decode into the transcript.

        Args:
            request: The request that was decoded.
            result: What the engine returned for it.
            final: True for the flush: commit every word of the hypothesis.
            under_load: The worker serves many live streams: keep the window short
                (fluent cuts at `load_trim_s`) so each decode stays cheap.

        Returns:
            Newly committed segments (never changed later) and the current partial.
        """
        regions = result.speech_regions
        if regions is not None and not regions:
            # Silence: nothing was decoded. Keep the last second in case speech starts at
            # its very end; no uncommitted word is lost since none was spoken.
            if not self._state.previous:
                self._buffer.trim_to(
                    max(
                        self._buffer.start_s,
                        request.offset_s + request.audio.size / SAMPLE_RATE_HERTZ - 1.0,
                    )
                )
            return LiveUpdate(committed=(), partial=None)
        pause_s = self._last_pause(request, regions) if regions else None
        speech_s = sum(b - a for a, b in regions) if regions is not None else None
        language_update = self._update_language(result, speech_s, final=final)
        hypothesis = self._hypothesis(request, result)
        if regions:
            hypothesis = self._inside_speech(hypothesis, request, regions)

        if final:
            agreed = hypothesis
        else:
            agreed = self._agreed_prefix(self._state.previous, hypothesis)
            if pause_s is not None:
                # The speaker paused: words before the pause were heard in full.
                heard = list(takewhile(lambda w: w.start_s < pause_s, hypothesis))
                if len(heard) > len(agreed):
                    agreed = heard
            settle_s = self._options.settle_s
            if settle_s is not None:
                # Words this far behind the newest audio had their right context: under
                # load (a long decode cycle) they need not wait for a second hypothesis.
                window_end = request.offset_s + request.audio.size / SAMPLE_RATE_HERTZ
                settled = list(takewhile(lambda w: w.end_s <= window_end - settle_s, hypothesis))
                if len(settled) > len(agreed):
                    agreed = settled
            if not agreed and self.buffer_s > self._options.max_buffer_s:
                agreed = self._forced_prefix(request, result, hypothesis)
            if not self._state.language_announced and self.buffer_s <= self._options.max_buffer_s:
                # Text in a language that may still change is not committed yet.
                agreed = []
        rest = hypothesis[len(agreed) :]
        self._state.previous = rest

        committed: list[LiveResult] = []
        if agreed:
            committed.append(self._commit(agreed))
        window_end = request.offset_s + request.audio.size / SAMPLE_RATE_HERTZ
        silences = (
            window_silences(regions, request.offset_s, window_end) if regions is not None else None
        )
        self._trim(rest, silences, fluent=self._options.fluent_cut or under_load)

        partial = None
        if rest and not final:
            partial = self._segment(rest, index=self._state.next_index, is_final=False)
        return LiveUpdate(
            committed=tuple(committed),
            partial=partial,
            language=language_update,
            language_probability=self._state.language_probability,
        )

    @property
    def language(self) -> str | None:
        """The stream's language once known."""
        return self._state.language

    # -- internals -----------------------------------------------------------------

    def _inside_speech(
        self,
        words: list[LiveWord],
        request: WindowRequest,
        regions: Sequence[tuple[float, float]],
    ) -> list[LiveWord]:
        """Re-times words by the detected speech and drops those heard in silence.

        Whisper's word times stretch across pauses: the first word after a pause often
        "starts" where the pause began. Each word is clipped to the (padded) speech
        region it overlaps most; a word with too little of itself inside speech was heard
        in silence (Whisper's "Thank you." in a trailing silence, a "Yeah." in a long
        pause) and is dropped.
        """
        pad = self._options.speech_pad_s
        spans = [(request.offset_s + a - pad, request.offset_s + b + pad) for a, b in regions]
        kept: list[LiveWord] = []
        for word in words:
            best: tuple[float, float, float] | None = None
            for a, b in spans:
                overlap = min(word.end_s, b) - max(word.start_s, a)
                if best is None or overlap > best[0]:
                    best = (overlap, a, b)
            if best is None:
                continue
            overlap, a, b = best
            duration = word.end_s - word.start_s
            if duration < _DEGENERATE_WORD_S:
                # Whisper squeezed the word to a point (at a window edge or next to a
                # pause): its time says little, keep it if it is next to speech.
                if overlap < -_DEGENERATE_SNAP_S:
                    continue
            elif overlap < min(_MIN_WORD_IN_SPEECH_S, duration / 2):
                continue
            start = min(max(word.start_s, a), b)
            end = max(start, min(word.end_s, b))
            kept.append(LiveWord(word.text, start, end, word.probability))
        return kept

    def _last_pause(
        self, request: WindowRequest, regions: Sequence[tuple[float, float]]
    ) -> float | None:
        """Where the latest pause of at least `pause_commit_s` in the window begins
        (seconds of the stream), or None."""
        window_s = request.audio.size / SAMPLE_RATE_HERTZ
        ends = [end for _, end in regions]
        starts = [start for start, _ in regions[1:]] + [window_s]
        for end, next_start in reversed(list(zip(ends, starts, strict=True))):
            if next_start - end >= self._options.pause_commit_s:
                return request.offset_s + end
        return None

    def _update_language(
        self, result: WindowDecode, speech_s: float | None, *, final: bool
    ) -> str | None:
        """Fixes the stream's language once a window holds enough speech to tell it.

        Whisper detects the language from the window's first 30 s of encoder output; on a
        second of mostly silence it guesses (Spanish as Arabic). The language is fixed,
        and announced, once the window has `language_speech_s` of speech (or at the
        flush), so one early guess does not decide the whole stream.
        """
        if self._state.language_announced:
            return None
        if not final and speech_s is not None and speech_s < self._options.language_speech_s:
            return None
        if result.language and result.language_probability > 0.5:
            self._state.language = result.language
            self._state.language_probability = result.language_probability
            self._state.language_announced = True
            return result.language
        return None

    def _hypothesis(self, request: WindowRequest, result: WindowDecode) -> list[LiveWord]:
        """Words of the decode in stream time, minus hallucinated and committed ones."""
        words: list[LiveWord] = []
        window_end = request.offset_s + request.audio.size / SAMPLE_RATE_HERTZ
        for segment in result.segments:
            if (
                segment.no_speech_probability > self._options.no_speech_threshold
                and segment.avg_logprob < -1.0
            ):
                continue
            if segment.compression_ratio > _MAX_COMPRESSION_RATIO:
                # A repetition loop ("the the the ...", ". . . ."): live windows decode
                # greedily without fallback, so such text is dropped, never committed.
                continue
            for word in segment.words:
                start = min(request.offset_s + word.start_ms / 1000, window_end)
                end = min(request.offset_s + word.end_ms / 1000, window_end)
                if not word.text.strip():
                    continue
                words.append(LiveWord(word.text, start, max(start, end), word.probability))
        return self._drop_repeated_head(words[self._committed_prefix_length(words) :])

    def _committed_prefix_length(self, words: Sequence[LiveWord]) -> int:
        """How many leading hypothesis words re-state words already committed.

        The window still holds the words committed since the last trim; the hypothesis
        usually repeats them first. They are found by aligning texts (edit distance over
        normalised words), because Whisper's word times jitter and the last word of a
        window is often stretched to the window's end.
        """
        inside = self._state.in_buffer
        if not inside:
            return 0
        committed = [_norm(w.text) for w in inside]
        heard = [_norm(w.text) for w in words]
        previous_row = _alignment_row(committed, heard)
        committed_end = inside[-1].end_s
        best = min(
            range(len(heard) + 1),
            key=lambda j: (
                previous_row[j],
                abs((words[j].start_s if j < len(words) else 1e9) - committed_end),
            ),
        )
        if previous_row[best] <= len(committed) // 3:
            # Words after the aligned ones that Whisper still places inside committed
            # audio were heard there again, worded anew: a translation of the same German
            # re-ordered ("... used as a small hall." then "of the room.").
            while (
                best < len(words) and (words[best].start_s + words[best].end_s) / 2 < committed_end
            ):
                best += 1
            return best
        # The window was re-heard too differently to align: fall back to times.
        return sum(1 for w in words if (w.start_s + w.end_s) / 2 < committed_end)

    def _drop_repeated_head(self, words: list[LiveWord]) -> list[LiveWord]:
        """Drop a head that repeats the committed tail (up to 5 words) where that tail was
        spoken: the window was cut inside it and Whisper heard it again. The same words
        said again later ("no, no") are new speech and kept."""
        if not self._state.committed_words:
            return words
        tail = [_norm(w.text) for w in self._state.committed_words[-5:]]
        head = [_norm(w.text) for w in words[:5]]
        last_end = self._state.committed_words[-1].end_s
        for n in range(min(len(tail), len(head)), 0, -1):
            if tail[-n:] == head[:n] and words[n - 1].start_s < last_end + _REPEAT_SLACK_S:
                return words[n:]
        overlap_s = last_end - words[0].start_s if words else 0.0
        if overlap_s >= _TAIL_OVERLAP_S and _retells_tail(head[0], tail[-1]):
            # The window was cut inside the last committed word and Whisper heard its
            # tail as a word of its own ("surpassed" -> "passed", "dated" -> "stated").
            return words[1:]
        return words

    @staticmethod
    def _agreed_prefix(previous: Sequence[LiveWord], current: Sequence[LiveWord]) -> list[LiveWord]:
        agreed: list[LiveWord] = []
        for old, new in zip(previous, current, strict=False):
            if _norm(old.text) != _norm(new.text) or not _norm(new.text):
                break
            agreed.append(new)
        return agreed

    def _forced_prefix(
        self, request: WindowRequest, result: WindowDecode, hypothesis: list[LiveWord]
    ) -> list[LiveWord]:
        """Commit without agreement when the window grew too long: all but the last
        segment of the hypothesis, or the first half of its words."""
        del request
        if len(result.segments) > 1:
            last_start = result.segments[-1].start_ms / 1000
            head = [w for w in hypothesis if w.start_s < self._buffer.start_s + last_start]
            if head:
                return head
        return hypothesis[: max(1, len(hypothesis) // 2)]

    def _commit(self, words: list[LiveWord]) -> LiveResult:
        previous_end = self._state.committed_words[-1].end_s if self._state.committed_words else 0.0
        fixed: list[LiveWord] = []
        for word in words:
            start = max(word.start_s, previous_end)
            end = max(word.end_s, start)
            fixed.append(LiveWord(word.text, start, end, word.probability))
            previous_end = end
        self._state.committed_words.extend(fixed)
        self._state.in_buffer.extend(fixed)
        segment = self._segment(fixed, index=self._state.next_index, is_final=True)
        self._state.next_index += 1
        return segment

    def _segment(self, words: Sequence[LiveWord], *, index: int, is_final: bool) -> LiveResult:
        text = "".join(w.text for w in words)
        return LiveResult(
            index=index,
            text=text,
            start_s=words[0].start_s,
            end_s=max(words[-1].end_s, words[0].start_s),
            words=tuple(words) if self._options.word_timestamps else (),
            is_final=is_final,
        )

    def _trim(
        self,
        rest: list[LiveWord],
        silences: Sequence[tuple[float, float]] | None,
        *,
        fluent: bool,
    ) -> None:
        """Drop audio behind committed words where `window_cuts.cut_point` finds a safe cut."""
        window = WindowWords(
            committed=self._state.committed_words,
            in_window=self._state.in_buffer,
            rest=rest,
            silences=silences,
            start_s=self._buffer.start_s,
            length_s=self.buffer_s,
        )
        cut = cut_point(window, self._cut_options, fluent=fluent)
        if cut is not None and cut > self._buffer.start_s:
            self._buffer.trim_to(min(cut, self._buffer.end_s))
            self._state.in_buffer = [w for w in self._state.in_buffer if w.end_s > cut]


def _retells_tail(heard: str, committed: str) -> bool:
    """Whether `heard` (normalised) is how Whisper hears the end of the word `committed`
    when a window starts inside it: a shorter word ending like it, sharing at least three
    letters and half of itself ("passed" of "surpassed", "stated" of "dated")."""
    if not heard or heard == committed or len(heard) > len(committed) + 1:
        return False
    shared = 0
    for a, b in zip(reversed(heard), reversed(committed), strict=False):
        if a != b:
            break
        shared += 1
    return shared >= 3 and 2 * shared >= len(heard)


def _alignment_row(committed: Sequence[str], heard: Sequence[str]) -> list[int]:
    """Edit distances between all `committed` words and each prefix `heard[:j]`.

    Besides insertions, deletions and substitutions, two words heard as one or one as two
    ("seat belts" / "seatbelts") align at no cost: Whisper splits compounds differently
    from one decode to the next.
    """
    rows = [list(range(len(heard) + 1))]
    for i in range(1, len(committed) + 1):
        word = committed[i - 1]
        row = [i] + [0] * len(heard)
        for j in range(1, len(heard) + 1):
            other = heard[j - 1]
            # The window may start inside its first committed word: the first word heard
            # can be that word's tail.
            same = word == other or (i == j == 1 and _retells_tail(other, word))
            best = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (not same))
            if i > 1 and committed[i - 2] + word == other:
                best = min(best, rows[i - 2][j - 1])
            if j > 1 and heard[j - 2] + other == word:
                best = min(best, rows[i - 1][j - 2])
            row[j] = best
        rows.append(row)
    return rows[-1]


def speech_window(
    request: WindowRequest, detector: SpeechDetector | None
) -> tuple[WindowRequest | None, tuple[tuple[float, float], ...] | None]:
    """Voice-activity detection over a window: what is left to decode, and the regions.

    Returns (None, ()) for silence: nothing to decode. Trailing silence is cut (Whisper
    invents words there): the window is decoded up to its last speech only. Without a
    detector (or a threshold) the request is returned as is, with regions None.
    """
    if request.vad_threshold is None or detector is None:
        return request, None
    regions = tuple(detector.speech_regions(request.audio, request.vad_threshold))
    if not regions:
        return None, ()
    end = min(request.audio.size, round((regions[-1][1] + _TAIL_PAD_S) * SAMPLE_RATE_HERTZ))
    if end < request.audio.size:
        request = replace(request, audio=request.audio[:end])
    return request, regions


def run_window(
    request: WindowRequest, decoder: WindowDecoder, detector: SpeechDetector | None
) -> WindowDecode:
    """Voice-activity detection, then the decode if there is speech (one window alone).

    Runs on the scheduler's compute thread, so neither blocks the event loop.
    """
    speech, regions = speech_window(request, detector)
    if speech is None:
        return WindowDecode((), request.language or "", 0.0, speech_regions=())
    return replace(decoder(speech), speech_regions=regions)
