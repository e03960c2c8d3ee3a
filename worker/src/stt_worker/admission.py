"""Admission control: whether the worker can take one more stream, from measured load.

Hard caps (`max_streams`, the queue) are outer bounds; the real test is what the engine
has done lately:

- **Live streams** are admitted while the predicted *decode cycle* stays under
  `max_live_cycle_s` (on by default). A live decode's cycle is the time from asking for
  a window to getting its words (queueing plus the batched decode); a word is committed
  about two to three cycles after it was spoken, so the cycle bounds live latency. Each
  measured cycle is divided by the live streams that are decoding at the time (those
  whose first cycle was measured), giving the engine's recent cost per stream; the
  prediction for one more stream is that cost times (streams + 1). The model is linear
  (batching makes the real cost grow slower), so it errs towards refusing, and streams
  already admitted keep their latency. A stream admitted but not yet measured costs an
  unknown amount: at most `unmeasured_live_streams` of them, or as many as are measured
  (the population at most doubles per measurement), or as many as the last cost per
  stream ever measured leaves room for under the limit (kept past staleness: a worker
  that served live streams before knows roughly what one costs), are admitted at once. So
  a burst of new streams on a worker that never served one is taken in steps, and on a
  worker that has, up to its known capacity at once.
- **Files** are admitted while the file audio already waiting would be done within
  `max_file_wait_s`, at the recent real-time factor, and while it fits in the file-audio
  budget (`max_file_audio_s`), which bounds the memory files hold: a file's declared
  duration is counted before its audio arrives, an undeclared one as its audio arrives.

Refusals are `CapacityError`s with a retry hint: the gateway turns them into HTTP 503 with
`Retry-After`, or WhisperLive's WAIT with the minutes to wait. A live refusal's hint is
when the oldest live stream is expected to end (from the lengths of streams that ended),
or `_UNKNOWN_LIVE_RETRY_MS` before any ended; a stream refused while new streams are
still being measured is told to come back after their first cycles.
"""

from __future__ import annotations

from collections.abc import Callable

from stt_worker.errors import CapacityError

# Weight of the newest cycle in the running cost per stream.
_COST_ALPHA = 0.1
# Weight of the newest ended stream in the mean live stream length.
_LENGTH_ALPHA = 0.2
# Measurements older than this no longer describe the engine: start afresh.
_STALE_S = 30.0
# A new stream's first cycle is measured about this long after it opens (the first
# decode waits for 1 s of audio, then queues and decodes).
_MEASURING_RETRY_MS = 3_000
# A stream not measured this long after it opened is idle, not being measured.
_MEASURING_S = 10.0
# The wait suggested before any live stream has ended: nothing is known of their length.
# (Not a whole number of minutes: the gateway's WAIT carries float minutes, and a JSON
# encoder writes 1.0 as 1.)
_UNKNOWN_LIVE_RETRY_MS = 30_000
_MIN_LIVE_RETRY_MS = 3_000
_MAX_LIVE_RETRY_MS = 590_000
_MIN_FILE_RETRY_MS = 1_000
_MAX_FILE_RETRY_MS = 600_000


class LiveTicket:
    """One admitted live stream; `Admission.close_live` it when the stream ends."""

    __slots__ = ("measured", "opened_at")

    def __init__(self, opened_at: float) -> None:
        self.opened_at = opened_at
        self.measured = False
        """Whether one of its decode cycles was measured."""


class Admission:
    """Tracks the measured load and decides on new streams.

    Args:
        max_live_cycle_s: Longest predicted live decode cycle at which a new live stream
            is still admitted; None admits up to the stream cap.
        max_file_wait_s: Longest predicted wait for the file audio already admitted at
            which a new file is still admitted; None admits up to the stream cap.
        real_time_factor: The scheduler's recent compute seconds per audio second.
        clock: Monotonic seconds.
        max_file_audio_s: Most file audio held at once (declared or received), seconds;
            None: unbounded.
        unmeasured_live_streams: Most live streams admitted before their cost is measured
            (more when more streams are measured already); ignored without
            `max_live_cycle_s`.
    """

    def __init__(
        self,
        *,
        max_live_cycle_s: float | None,
        max_file_wait_s: float | None,
        real_time_factor: Callable[[], float],
        clock: Callable[[], float],
        max_file_audio_s: float | None = None,
        unmeasured_live_streams: int = 2,
    ) -> None:
        self._max_file_audio_ms = None if max_file_audio_s is None else max_file_audio_s * 1000
        self._max_live_cycle_s = max_live_cycle_s
        self._max_file_wait_s = max_file_wait_s
        self._real_time_factor = real_time_factor
        self._clock = clock
        self._unmeasured_live_streams = max(1, unmeasured_live_streams)
        self._live: list[LiveTicket] = []
        self._cost_s: float | None = None  # recent cycle seconds per live stream
        self._known_cost_s: float | None = None  # the latest cost, kept when stale
        self._measured_at = 0.0
        self._mean_live_length_s: float | None = None
        self._file_audio_ms = 0

    # -- live streams ---------------------------------------------------------------

    @property
    def live_streams(self) -> int:
        """Live streams admitted and not yet closed."""
        return len(self._live)

    @property
    def measured_live_streams(self) -> int:
        """Live streams with at least one measured decode cycle."""
        return sum(1 for ticket in self._live if ticket.measured)

    def open_live(self) -> LiveTicket:
        """Counts a new live stream (after `check_live` admitted it)."""
        ticket = LiveTicket(self._clock())
        self._live.append(ticket)
        return ticket

    def close_live(self, ticket: LiveTicket) -> None:
        """The stream ended; its length feeds the retry hints. Twice is harmless."""
        if ticket not in self._live:
            return
        self._live.remove(ticket)
        length = self._clock() - ticket.opened_at
        if self._mean_live_length_s is None:
            self._mean_live_length_s = length
        else:
            self._mean_live_length_s += _LENGTH_ALPHA * (length - self._mean_live_length_s)

    def record_cycle(self, seconds: float, ticket: LiveTicket | None = None) -> None:
        """One live decode (of `ticket`'s stream) took `seconds` from request to result."""
        if ticket is not None:
            ticket.measured = True
        streams = self.measured_live_streams if ticket is not None else self.live_streams
        if streams <= 0:
            return
        now = self._clock()
        cost = seconds / streams
        if self._cost_s is None or now - self._measured_at > _STALE_S:
            self._cost_s = cost
        else:
            self._cost_s += _COST_ALPHA * (cost - self._cost_s)
        self._known_cost_s = self._cost_s
        self._measured_at = now

    @property
    def live_capacity(self) -> int | None:
        """Live streams the last measured cost per stream leaves room for under
        `max_live_cycle_s` (at least 1: a lone stream is always admitted); None before any
        measurement, or without that limit."""
        limit = self._max_live_cycle_s
        if limit is None or self._known_cost_s is None or self._known_cost_s <= 0:
            return None
        return max(1, int(limit / self._known_cost_s))

    @property
    def unmeasured_live_streams(self) -> int:
        """Live streams admitted at once before their cost is measured."""
        return self._unmeasured_live_streams

    @property
    def live_cycle_s(self) -> float:
        """The predicted live decode cycle now, seconds (0 when nothing is measured)."""
        if self._cost_s is None or self._clock() - self._measured_at > _STALE_S:
            return 0.0
        return self._cost_s * max(1, self.live_streams)

    def add_file_audio(self, audio_ms: int) -> None:
        """File audio admitted (positive) or decoded or given up (negative)."""
        self._file_audio_ms = max(0, self._file_audio_ms + audio_ms)

    @property
    def file_wait_s(self) -> float:
        """Predicted time to decode the file audio already admitted, seconds."""
        return self._file_audio_ms / 1000 * self._real_time_factor()

    # -- decisions ------------------------------------------------------------------

    def check_live(self) -> None:
        """Raises CapacityError if one more live stream would make the cycle too long."""
        limit = self._max_live_cycle_s
        if limit is None:
            return
        now = self._clock()
        measured = self.measured_live_streams
        # A stream that sent no audio to decode for a while costs nothing and must not
        # hold others out (an idle client would otherwise block admission).
        measuring = sum(
            1
            for ticket in self._live
            if not ticket.measured and now - ticket.opened_at < _MEASURING_S
        )
        known_capacity = self.live_capacity or 0
        if (
            measuring >= max(self._unmeasured_live_streams, measured)
            and self.live_streams >= known_capacity
        ):
            raise CapacityError(
                f"the worker is measuring its {measuring} newest live streams before it takes more",
                retry_after_ms=_MEASURING_RETRY_MS,
            )
        if self._cost_s is None or self.live_streams == 0:
            return
        if self._clock() - self._measured_at > _STALE_S:
            return
        predicted = self._cost_s * (self.live_streams + 1)
        if predicted > limit:
            retry_ms = self._live_retry_ms()
            raise CapacityError(
                f"the worker is at its live capacity ({self.live_streams} streams, predicted "
                f"decode cycle {predicted:.1f} s > {limit:.1f} s); a stream is expected to "
                f"end in about {retry_ms / 1000:.0f} s",
                retry_after_ms=retry_ms,
            )

    def _live_retry_ms(self) -> int:
        """When the oldest live stream is expected to end, in ms from now."""
        if self._mean_live_length_s is None or not self._live:
            return _UNKNOWN_LIVE_RETRY_MS
        oldest = min(ticket.opened_at for ticket in self._live)
        remaining_s = self._mean_live_length_s - (self._clock() - oldest)
        return round(min(_MAX_LIVE_RETRY_MS, max(_MIN_LIVE_RETRY_MS, remaining_s * 1000)))

    def check_file(self) -> None:
        """Raises CapacityError if the file audio already waiting takes too long."""
        limit = self._max_file_wait_s
        if limit is None:
            return
        wait = self.file_wait_s
        if wait > limit:
            retry_ms = round((wait - limit) * 1000)
            raise CapacityError(
                f"the worker has {wait:.0f} s of file work waiting (limit {limit:.0f} s)",
                retry_after_ms=min(_MAX_FILE_RETRY_MS, max(_MIN_FILE_RETRY_MS, retry_ms)),
            )

    def admit_file(self, audio_ms: int) -> FileBudget:
        """Counts a new file's audio against the file-audio budget.

        Args:
            audio_ms: The declared duration, or 0 when unknown (the audio is then
                counted as it arrives, see `FileBudget.grow_to`).

        Returns:
            The file's share of the budget; `release` it when the file is done.

        Raises:
            CapacityError: The file does not fit now.
        """
        budget = FileBudget(self)
        budget.grow_to(audio_ms)
        return budget

    def reserve_file_audio(self, audio_ms: int) -> None:
        """Counts `audio_ms` more file audio if it fits in the budget.

        Raises:
            CapacityError: It does not fit (nothing is counted).
        """
        limit = self._max_file_audio_ms
        if audio_ms > 0 and limit is not None and self._file_audio_ms + audio_ms > limit:
            over_s = (self._file_audio_ms + audio_ms - limit) / 1000
            # Room comes back as admitted files are decoded, at the real-time factor.
            retry_ms = round(over_s * max(self._real_time_factor(), 0.05) * 1000)
            raise CapacityError(
                f"the worker holds {self._file_audio_ms / 1000:.0f} s of file audio; "
                f"{audio_ms / 1000:.0f} s more would pass its limit of {limit / 1000:.0f} s",
                retry_after_ms=min(_MAX_FILE_RETRY_MS, max(_MIN_FILE_RETRY_MS, retry_ms)),
            )
        self.add_file_audio(audio_ms)


class FileBudget:
    """One file's share of the file-audio budget (see `Admission.admit_file`)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.audio_ms = 0
        """Audio counted for this file so far."""

    def grow_to(self, audio_ms: int) -> None:
        """Counts the file as at least `audio_ms` long.

        Raises:
            CapacityError: The growth does not fit in the budget (nothing is counted).
        """
        if audio_ms > self.audio_ms:
            self._admission.reserve_file_audio(audio_ms - self.audio_ms)
            self.audio_ms = audio_ms

    def settle(self, audio_ms: int) -> None:
        """Counts the file as exactly `audio_ms` long (its audio is complete)."""
        self._admission.add_file_audio(audio_ms - self.audio_ms)
        self.audio_ms = audio_ms

    def release(self) -> None:
        """Gives the file's share back; calling it twice is harmless."""
        self._admission.add_file_audio(-self.audio_ms)
        self.audio_ms = 0
