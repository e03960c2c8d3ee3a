"""Admission control: whether the worker can take one more stream, from measured load.

A hard cap (`max_streams`) is a backstop; the real test is what the engine has done
lately:

- **Live streams** are admitted while the predicted *decode cycle* stays under
  `max_live_cycle_s`. A live decode's cycle is the time from asking for a window to
  getting its words (queueing plus the batched decode); a word is committed about two
  cycles after it was spoken, so the cycle bounds live latency. Each measured cycle is
  divided by the live streams active at the time, giving the engine's recent cost per
  stream; the prediction for one more stream is that cost times (streams + 1). The model
  is linear (batching makes the real cost grow slower), so it errs towards refusing.
- **Files** are admitted while the file audio already waiting would be done within
  `max_file_wait_s`, at the recent real-time factor, and while it fits in the file-audio
  budget (`max_file_audio_s`), which bounds the memory files hold: a file's declared
  duration is counted before its audio arrives, an undeclared one as its audio arrives.

Refusals are `CapacityError`s with a retry hint: the gateway turns them into HTTP 503 with
`Retry-After`, or WhisperLive's WAIT with the minutes to wait.
"""

from __future__ import annotations

from collections.abc import Callable

from stt_worker.errors import CapacityError

# Weight of the newest cycle in the running cost per stream.
_COST_ALPHA = 0.1
# Measurements older than this no longer describe the engine: start afresh.
_STALE_S = 30.0
_LIVE_RETRY_MS = 10_000
_MIN_FILE_RETRY_MS = 1_000
_MAX_FILE_RETRY_MS = 600_000


class Admission:
    """Tracks the measured load and decides on new streams.

    Args:
        max_live_cycle_s: Longest predicted live decode cycle at which a new live stream
            is still admitted; None admits up to the stream cap.
        max_file_wait_s: Longest predicted wait for the file audio already admitted at
            which a new file is still admitted; None admits up to the stream cap.
        max_file_audio_s: Most file audio held at once (declared or received), seconds;
            None: unbounded.
        real_time_factor: The scheduler's recent compute seconds per audio second.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_live_cycle_s: float | None,
        max_file_wait_s: float | None,
        real_time_factor: Callable[[], float],
        clock: Callable[[], float],
        max_file_audio_s: float | None = None,
    ) -> None:
        self._max_file_audio_ms = None if max_file_audio_s is None else max_file_audio_s * 1000
        self._max_live_cycle_s = max_live_cycle_s
        self._max_file_wait_s = max_file_wait_s
        self._real_time_factor = real_time_factor
        self._clock = clock
        self.live_streams = 0
        self._cost_s: float | None = None  # recent cycle seconds per live stream
        self._measured_at = 0.0
        self._file_audio_ms = 0

    # -- measurements ---------------------------------------------------------------

    def record_cycle(self, seconds: float) -> None:
        """One live decode took `seconds` from request to result."""
        if self.live_streams <= 0:
            return
        now = self._clock()
        cost = seconds / self.live_streams
        if self._cost_s is None or now - self._measured_at > _STALE_S:
            self._cost_s = cost
        else:
            self._cost_s += _COST_ALPHA * (cost - self._cost_s)
        self._measured_at = now

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
        if limit is None or self._cost_s is None or self.live_streams == 0:
            return
        if self._clock() - self._measured_at > _STALE_S:
            return
        predicted = self._cost_s * (self.live_streams + 1)
        if predicted > limit:
            raise CapacityError(
                f"the worker is at its live capacity ({self.live_streams} streams, predicted "
                f"decode cycle {predicted:.1f} s > {limit:.1f} s)",
                retry_after_ms=_LIVE_RETRY_MS,
            )

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
