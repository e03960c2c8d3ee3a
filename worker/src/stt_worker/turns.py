"""Turn mode of a live stream: where each turn (utterance) starts and ends.

A turn-mode stream (`StreamingTranscribeConfig.turns`) is cut into turns, as OpenAI
Realtime's server VAD cuts a session into items. `TurnTracker` follows a speech
probability for every frame of the stream (Silero's, scored as the audio arrives) and
says when speech first starts in the current turn and when the turn ends: after
`silence_s` of silence following speech, or when asked (`end_turn`: the client's
`EndTurn`, or the end of the stream).

Plain synchronous code over sample counts of the stream: no model, no clock, no threads.
The live session (`live_session.py`) feeds it and turns its events into responses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from stt_worker.types import SAMPLE_RATE_HERTZ

TurnEndReason = Literal["silence", "requested", "stream_end"]

# Silero's hysteresis: speech starts at the threshold and goes on while the probability
# stays above the threshold less this.
_HYSTERESIS = 0.15


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """A stream's turn detection, from its `TurnConfig`."""

    silence_ms: int
    """Silence after speech that ends a turn; 0: turns end only when asked."""
    prefix_padding_ms: int
    """Audio before the start of speech that the speech event's offset includes."""
    threshold: float
    """Speech probability from which a frame starts speech, in (0, 1)."""


@dataclass(frozen=True, slots=True)
class EndTurn:
    """The client asks to end the current turn at the end of the audio sent so far (the
    proto's `EndTurn`)."""


@dataclass(frozen=True, slots=True)
class SpeechBegin:
    """Voice activity first started in turn `turn_index`; `offset` (samples of the
    stream) is where, less the prefix padding, never before the turn's start."""

    turn_index: int
    offset: int


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """Turn `turn_index` covers samples `start` to `end` of the stream."""

    turn_index: int
    start: int
    end: int
    had_speech: bool
    reason: TurnEndReason


TurnEvent = SpeechBegin | TurnEnd


class SpeechScorer(Protocol):
    """Speech probabilities of a stream's audio, frame by frame, as it arrives."""

    @property
    def frame_samples(self) -> int:
        """Samples per scored frame."""
        ...

    def score(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The probability of each frame that `audio` completes, in order (samples of an
        unfinished frame wait for the next call)."""
        ...


def samples_of_ms(ms: int) -> int:
    """Milliseconds as samples at 16 kHz."""
    return ms * SAMPLE_RATE_HERTZ // 1000


class TurnTracker:
    """The turns of one stream, fed frame probabilities in stream order.

    Args:
        options: The stream's turn detection.
    """

    def __init__(self, options: TurnOptions) -> None:
        self._on = options.threshold
        self._off = max(options.threshold - _HYSTERESIS, 0.01)
        self._silence = samples_of_ms(options.silence_ms)
        self._padding = samples_of_ms(options.prefix_padding_ms)
        self._index = 0
        self._start = 0
        self._heard = 0  # end of the last frame scored, samples of the stream
        self._speech_start: int | None = None  # first speech of the current turn
        self._speech_end = 0  # end of its last speech frame
        self._in_speech = False

    @property
    def turn_index(self) -> int:
        """Index of the current turn."""
        return self._index

    @property
    def turn_start(self) -> int:
        """Where the current turn starts, samples of the stream."""
        return self._start

    def hear(self, probabilities: Sequence[float], frame_samples: int) -> list[TurnEvent]:
        """Takes the next frames' speech probabilities; returns the events they cause.

        A turn ends by silence at its last speech plus `silence_ms` (not where the
        silence was noticed), so where turns end does not depend on how the audio was
        chunked; the audio after that point starts the next turn.
        """
        events: list[TurnEvent] = []
        for probability in probabilities:
            frame_start = self._heard
            self._heard += frame_samples
            if probability >= (self._off if self._in_speech else self._on):
                if self._speech_start is None:
                    # A frame scored after a requested end may start before it.
                    self._speech_start = max(frame_start, self._start)
                    offset = max(self._start, self._speech_start - self._padding)
                    events.append(SpeechBegin(self._index, offset))
                self._in_speech = True
                self._speech_end = self._heard
                continue
            self._in_speech = False
            if (
                self._silence
                and self._speech_start is not None
                and self._heard - self._speech_end >= self._silence
            ):
                events.append(self._close(self._speech_end + self._silence, "silence"))
        return events

    def end_turn(self, at: int, reason: TurnEndReason) -> TurnEnd:
        """Ends the current turn at sample `at` of the stream (the audio received so
        far), whatever was heard; the next turn starts there."""
        return self._close(max(at, self._start), reason)

    def _close(self, end: int, reason: TurnEndReason) -> TurnEnd:
        event = TurnEnd(self._index, self._start, end, self._speech_start is not None, reason)
        self._index += 1
        self._start = end
        self._speech_start = None
        self._in_speech = False
        return event
