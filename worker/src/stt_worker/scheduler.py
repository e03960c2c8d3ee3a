"""The scheduler: the only caller of the engine.

Callers (`await scheduler.submit(job, priority=...)`) put engine jobs into one bounded
priority queue; one dedicated engine thread runs them one at a time. Live work runs
before file work and jobs of the same priority run first in, first out, so a live
session's next window waits for at most one window of a long file. A full queue raises
`CapacityError` at once instead of adding latency. A caller that is cancelled while its
job waits removes the job; a job already running finishes and its result is dropped.

Batching several windows into one engine call is a later step; it slots in here, behind
the same `submit()`.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import heapq
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from stt_worker.engines.base import Engine
from stt_worker.errors import CapacityError, EngineError, UnavailableError, WorkerError

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENGINE_THREAD_NAME = "stt-engine"

# How fast old measurements fade from the real-time factor: half weight after this long.
_RTF_HALF_LIFE_S = 30.0
# Smoothing of the mean job time used for retry hints.
_JOB_TIME_ALPHA = 0.2
_MIN_RETRY_AFTER_MS = 100
_MAX_RETRY_AFTER_MS = 30_000


class Priority(enum.IntEnum):
    """Job priority; lower runs first."""

    LIVE = 0
    FILE = 1


class _JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(slots=True, eq=False)
class _Job(Generic[T]):
    fn: Callable[[Engine], T]
    priority: Priority
    seq: int
    audio_ms: int
    future: asyncio.Future[T]
    state: _JobState = _JobState.QUEUED


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a job produced in the engine thread."""

    value: Any
    error: BaseException | None
    compute_s: float


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """A snapshot of the scheduler's load."""

    queue_depth: int
    max_queue: int
    real_time_factor: float
    running: bool


@dataclass(slots=True)
class _RateMeter:
    """Compute seconds over audio seconds, both decayed exponentially with time."""

    compute_s: float = 0.0
    audio_s: float = 0.0
    updated_at: float | None = field(default=None)

    def add(self, now: float, *, compute_s: float = 0.0, audio_s: float = 0.0) -> None:
        if self.updated_at is not None:
            decay = 0.5 ** (max(0.0, now - self.updated_at) / _RTF_HALF_LIFE_S)
            self.compute_s *= decay
            self.audio_s *= decay
        self.updated_at = now
        self.compute_s += compute_s
        self.audio_s += audio_s

    @property
    def ratio(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s > 0 else 0.0


class Scheduler:
    """Runs engine jobs on one engine thread, from a bounded priority queue.

    Args:
        engine: The engine; from now on only this scheduler calls it.
        max_queue: Most jobs that may wait (the running one not counted).
        clock: Monotonic seconds (read on both threads); injected so tests control time.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self._engine = engine
        self._max_queue = max_queue
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=ENGINE_THREAD_NAME)
        self._queue: list[tuple[int, int, _Job[Any]]] = []
        self._running: _Job[Any] | None = None
        self._running_future: asyncio.Future[_Outcome] | None = None
        self._seq = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._meter = _RateMeter()
        self._mean_job_s = 0.5

    # -- public API -----------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return len(self._queue)

    @property
    def max_queue(self) -> int:
        """Most jobs that may wait."""
        return self._max_queue

    @property
    def real_time_factor(self) -> float:
        """Recent seconds of compute per second of audio; 0 before any audio."""
        return self._meter.ratio

    def stats(self) -> SchedulerStats:
        """A snapshot of the load, for `GetWorkerInfo`."""
        return SchedulerStats(
            queue_depth=self.queue_depth,
            max_queue=self._max_queue,
            real_time_factor=self.real_time_factor,
            running=self._running is not None,
        )

    def retry_after_ms(self) -> int:
        """A guess at when a rejected caller could try again, in ms."""
        estimate = (self.queue_depth + 1) * self._mean_job_s * 1000.0
        return int(min(_MAX_RETRY_AFTER_MS, max(_MIN_RETRY_AFTER_MS, estimate)))

    def record_audio(self, audio_ms: int) -> None:
        """Credits audio processed by earlier jobs, for the real-time factor.

        Use this when a job's audio is only known after it ran (a file's windows).

        Args:
            audio_ms: Audio covered, in ms.
        """
        if audio_ms > 0:
            self._meter.add(self._clock(), audio_s=audio_ms / 1000.0)

    async def submit(
        self,
        job: Callable[[Engine], T],
        *,
        priority: Priority,
        audio_ms: int = 0,
        continuation: bool = False,
    ) -> T:
        """Queues a job and waits for its result.

        Args:
            job: Called with the engine, on the engine thread.
            priority: `Priority.LIVE` runs before `Priority.FILE`.
            audio_ms: Audio the job covers, if known before it runs (for the real-time
                factor); 0 if not, see `record_audio`.
            continuation: The next step of work that was already admitted (the next
                window of a file being decoded). It is queued even when the queue is full:
                the bound turns away new work, it must not break streams half way.

        Returns:
            What `job` returned.

        Raises:
            CapacityError: The queue is full (never for a continuation).
            UnavailableError: The scheduler is closed.
            WorkerError: What `job` raised, if it was a domain error.
            EngineError: `job` raised anything else (the original is the cause).
            asyncio.CancelledError: The caller was cancelled; a queued job is dropped.
        """
        if self._closed:
            raise UnavailableError("the worker is shutting down")
        if not continuation and len(self._queue) >= self._max_queue:
            raise CapacityError(
                f"the engine queue is full ({self._max_queue} jobs)",
                retry_after_ms=self.retry_after_ms(),
            )
        loop = asyncio.get_running_loop()
        self._loop = loop
        entry: _Job[T] = _Job(
            fn=job, priority=priority, seq=self._seq, audio_ms=audio_ms, future=loop.create_future()
        )
        self._seq += 1
        heapq.heappush(self._queue, (int(priority), entry.seq, entry))
        self._dispatch()
        try:
            return await entry.future
        except asyncio.CancelledError:
            if entry.state is _JobState.QUEUED:
                self._remove(entry)
                logger.debug("dropped a queued %s job of a cancelled caller", priority.name)
            raise

    async def close(self) -> None:
        """Fails waiting jobs, lets the running one finish, then closes the engine.

        Calling it twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        while self._queue:
            _, _, job = heapq.heappop(self._queue)
            job.state = _JobState.DONE
            if not job.future.done():
                job.future.set_exception(UnavailableError("the worker is shutting down"))
        running = self._running_future
        if running is not None:
            await asyncio.wait({running})
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._engine.close)
        except Exception:
            logger.exception("closing the engine failed")
        self._executor.shutdown(wait=True)

    # -- internals ------------------------------------------------------------------

    def _remove(self, job: _Job[Any]) -> None:
        self._queue = [item for item in self._queue if item[2] is not job]
        heapq.heapify(self._queue)
        job.state = _JobState.DONE

    def _dispatch(self) -> None:
        """Starts the next waiting job if the engine is idle."""
        if self._running is not None or self._loop is None:
            return
        while self._queue:
            _, _, job = heapq.heappop(self._queue)
            if job.future.done():  # its caller went away
                job.state = _JobState.DONE
                continue
            job.state = _JobState.RUNNING
            self._running = job
            future = self._loop.run_in_executor(self._executor, self._execute, job.fn)
            self._running_future = future
            future.add_done_callback(functools.partial(self._finish, job))
            return

    def _execute(self, fn: Callable[[Engine], Any]) -> _Outcome:
        """Runs one job on the engine thread, timing it."""
        started = self._clock()
        try:
            value = fn(self._engine)
        except Exception as exc:
            return _Outcome(None, exc, self._clock() - started)
        return _Outcome(value, None, self._clock() - started)

    def _finish(self, job: _Job[Any], done: asyncio.Future[_Outcome]) -> None:
        """Delivers a job's outcome on the event loop and starts the next job."""
        self._running = None
        self._running_future = None
        job.state = _JobState.DONE
        if done.cancelled():
            outcome = _Outcome(None, UnavailableError("the engine stopped"), 0.0)
        elif done.exception() is not None:
            outcome = _Outcome(None, done.exception(), 0.0)
        else:
            outcome = done.result()
        self._mean_job_s += _JOB_TIME_ALPHA * (outcome.compute_s - self._mean_job_s)
        self._meter.add(self._clock(), compute_s=outcome.compute_s, audio_s=job.audio_ms / 1000.0)
        if not job.future.done():
            error = outcome.error
            if error is None:
                job.future.set_result(outcome.value)
            elif isinstance(error, WorkerError):
                job.future.set_exception(error)
            else:
                wrapped = EngineError("engine job failed")
                wrapped.__cause__ = error
                job.future.set_exception(wrapped)
        self._dispatch()
