"""The scheduler: the only caller of the engine.

Callers put engine work into one bounded priority queue; one dedicated engine thread runs
it. Live work runs before file work and work of the same priority runs first in, first
out. A full queue raises `CapacityError` at once instead of adding latency. A caller that
is cancelled while its work waits removes it (the slot is free at once); work already
running finishes and its result is dropped.

Two kinds of work:

- `submit(fn)`: any function of the engine, run alone (a file's preparation).
- `submit_window(job, key=...)`: one window to decode. When the engine turns to a window,
  it takes every other waiting window with the same `key` (the same decoding strategy)
  along, up to `max_batch`, and decodes them in one `Engine.decode_batch` call. Each job's
  `prepare` (voice-activity detection, say) and `finish` run on the engine thread around
  the batch. Batches form by themselves under load: while one batch runs, the sessions'
  next windows queue up and go together. `batch_wait_s` lets an idle engine wait a
  moment for company, and after a live batch file work waits a grace for the live
  sessions' next windows; `DispatchTiming` owns both waits, apart from the choice of
  what runs next. While live sessions are active, a file's windows go in smaller
  batches (`max_file_batch_with_live`), so a live window never waits behind a long
  batch of file windows.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import functools
import heapq
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from stt_worker import metrics
from stt_worker.engines.base import Engine
from stt_worker.errors import CapacityError, EngineError, UnavailableError, WorkerError
from stt_worker.types import WindowDecode, WindowInput

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

ENGINE_THREAD_NAME = "stt-engine"

# How fast old measurements fade from the real-time factor: half weight after this long.
_RTF_HALF_LIFE_S = 30.0
# Smoothing of the mean job time used for retry hints.
_JOB_TIME_ALPHA = 0.2
_MIN_RETRY_AFTER_MS = 100
_MAX_RETRY_AFTER_MS = 30_000
# Live sessions (and files) count as active this long after their last job.
_LIVE_GRACE_S = 0.02
"""After a live decode, file work waits this long for the live sessions' next windows."""
_LIVE_ACTIVE_S = 3.0


class Priority(enum.IntEnum):
    """Job priority; lower runs first."""

    LIVE = 0
    FILE = 1

    @property
    def kind(self) -> metrics.StreamKind:
        """The kind of stream that queues work of this priority."""
        return "live" if self is Priority.LIVE else "file"


class WindowJob(Protocol[T_co]):
    """One window to decode in a batch; both methods run on the engine thread."""

    def prepare(self) -> WindowInput | None:
        """The window to decode, or None when there is nothing to decode (silence)."""
        ...

    def finish(self, decoded: WindowDecode | None) -> T_co:
        """The job's result from the decode (None when `prepare` returned None)."""
        ...


class _JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(slots=True, eq=False)
class _Job(Generic[T]):
    """Queued work: a plain function of the engine, or a window (`window` set)."""

    fn: Callable[[Engine], T] | None
    window: WindowJob[T] | None
    key: Hashable
    priority: Priority
    seq: int
    audio_ms: int
    future: asyncio.Future[T]
    queued_at: float
    state: _JobState = _JobState.QUEUED


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one job produced in the engine thread."""

    value: Any
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class _Run:
    """What one engine call (a job, or a batch of windows) produced."""

    outcomes: tuple[_Outcome, ...]
    compute_s: float


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """A snapshot of the scheduler's load."""

    queue_depth: int
    max_queue: int
    real_time_factor: float
    running: bool
    mean_batch: float
    """Windows per engine call, recent average (1 when nothing is batched)."""


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


WaitKind = Literal["grace", "company"]


class DispatchTiming:
    """When an idle engine may start the work chosen for it: two waits, kept apart.

    - The **live grace**: after a live batch, file work waits `live_grace_s` so the live
      sessions can ask for their next windows first. Live work ends it (it runs at once),
      an overdue file job ignores it, and new file jobs arriving meanwhile do not end it.
    - The **batch wait**: an idle engine whose next window has fewer companions than a
      full batch waits `batch_wait_s` for more, once per batch.

    It decides from flags its timer sets (`expire`), not by comparing clock readings, so
    a test's frozen clock cannot stall it; the clock only sizes the remaining waits.

    Args:
        batch_wait_s: The batch wait; 0 never waits for company.
        live_grace_s: The live grace; 0 never holds file work back.
        clock: Monotonic seconds.
    """

    def __init__(
        self, *, batch_wait_s: float, live_grace_s: float, clock: Callable[[], float]
    ) -> None:
        self._batch_wait_s = batch_wait_s
        self._live_grace_s = live_grace_s
        self._clock = clock
        self._grace_until: float | None = None
        self._company_until: float | None = None
        self._company_over = False

    def live_batch_done(self) -> None:
        """A live batch returned: file work waits for the grace."""
        if self._live_grace_s > 0:
            self._grace_until = self._clock() + self._live_grace_s

    def wait(
        self, *, is_live: bool, is_overdue: bool, needs_company: bool
    ) -> tuple[WaitKind, float] | None:
        """What to wait for before starting the chosen head, and for how long (seconds);
        None: start it now.

        Args:
            is_live: The head is live work (the grace does not hold it).
            is_overdue: The head is a file job past its longest delay (nor does it).
            needs_company: The head is a window with fewer companions than a full batch.
        """
        now = self._clock()
        if is_live:
            self._grace_until = None
        elif self._grace_until is not None and not is_overdue:
            return "grace", max(0.0, self._grace_until - now)
        if not needs_company or self._batch_wait_s <= 0:
            self._company_until = None
            self._company_over = False
            return None
        if self._company_over:
            return None
        if self._company_until is None:
            self._company_until = now + self._batch_wait_s
        return "company", max(0.0, self._company_until - now)

    def expire(self, kind: WaitKind) -> None:
        """The timer armed for `kind` fired: that wait is over."""
        if kind == "grace":
            self._grace_until = None
        else:
            self._company_until = None
            self._company_over = True

    def started(self) -> None:
        """The engine took work: the next batch waits for company afresh."""
        self._company_until = None
        self._company_over = False


class Scheduler:
    """Runs engine work on one engine thread, from a bounded priority queue, batching
    windows with the same decoding strategy.

    Args:
        engine: The engine; from now on only this scheduler calls it.
        max_queue: Most jobs that may wait (the running ones not counted).
        max_batch: Most windows decoded in one engine call.
        batch_wait_s: How long an idle engine waits for more windows before it decodes
            fewer than `max_batch`; 0 decodes at once.
        max_file_batch_with_live: Most file windows in one call while live sessions are
            active (a live window may have to wait for that call).
        max_file_delay_s: A file job that has waited this long goes before live work, so a
            worker busy with live sessions still makes progress on files; None never.
        live_grace_s: After a live batch, how long file work waits for the live
            sessions' next windows (see `DispatchTiming`).
        clock: Monotonic seconds (read on both threads); injected so tests control time.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int,
        max_batch: int = 1,
        batch_wait_s: float = 0.0,
        max_file_batch_with_live: int = 1,
        max_file_delay_s: float | None = None,
        live_grace_s: float = _LIVE_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if max_batch < 1 or max_file_batch_with_live < 1:
            raise ValueError("batch sizes must be at least 1")
        self._engine = engine
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._batch_wait_s = batch_wait_s
        self._max_file_batch_with_live = max_file_batch_with_live
        self._max_file_delay_s = max_file_delay_s
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=ENGINE_THREAD_NAME)
        self._queue: list[tuple[int, int, _Job[Any]]] = []
        self._running: list[_Job[Any]] = []
        self._running_future: asyncio.Future[_Run] | None = None
        self._timer: tuple[WaitKind, asyncio.TimerHandle] | None = None
        self._timing = DispatchTiming(
            batch_wait_s=batch_wait_s, live_grace_s=live_grace_s, clock=clock
        )
        self._seq = 0
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._meter = _RateMeter()
        self._mean_job_s = 0.5
        self._mean_batch = 1.0
        self._last_live_at = -1e9
        self._last_file_at = -1e9
        self._last_file_run_at = -1e9

    # -- public API -----------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Jobs waiting (not counting the ones running)."""
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
            running=bool(self._running),
            mean_batch=self._mean_batch,
        )

    @property
    def files_active(self) -> bool:
        """Whether file work was queued lately (live decodes then leave it room)."""
        return self._clock() - self._last_file_at < _LIVE_ACTIVE_S

    def retry_after_ms(self) -> int:
        """A guess at when a rejected caller could try again, in ms."""
        calls = self.queue_depth / max(1.0, self._mean_batch) + 1
        estimate = calls * self._mean_job_s * 1000.0
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
        """Queues a function of the engine and waits for its result.

        Args:
            job: Called with the engine, on the engine thread, alone.
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
        return await self._enqueue(job, None, None, priority, audio_ms, continuation)

    async def submit_window(
        self,
        job: WindowJob[T],
        *,
        key: Hashable,
        priority: Priority,
        audio_ms: int = 0,
        continuation: bool = False,
    ) -> T:
        """Queues one window for a batched decode and waits for the job's result.

        Args:
            job: Prepares the window and turns its decode into the result.
            key: Windows with equal keys may share an engine call (their decoding strategy
                must be the same: beam size, temperatures, token limit).
            priority, audio_ms, continuation: As for `submit`.

        Returns:
            What `job.finish` returned.

        Raises:
            As `submit`.
        """
        return await self._enqueue(None, job, key, priority, audio_ms, continuation)

    async def close(self) -> None:
        """Fails waiting jobs, lets the running ones finish, then closes the engine.

        Calling it twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        self._disarm()
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

    async def _enqueue(
        self,
        fn: Callable[[Engine], T] | None,
        window: WindowJob[T] | None,
        key: Hashable,
        priority: Priority,
        audio_ms: int,
        continuation: bool,
    ) -> T:
        if self._closed:
            raise UnavailableError("the worker is shutting down")
        if not continuation and len(self._queue) >= self._max_queue:
            raise CapacityError(
                f"the engine queue is full ({self._max_queue} jobs)",
                retry_after_ms=self.retry_after_ms(),
            )
        loop = asyncio.get_running_loop()
        self._loop = loop
        if priority is Priority.LIVE:
            self._last_live_at = self._clock()
        else:
            self._last_file_at = self._clock()
        entry: _Job[T] = _Job(
            fn=fn,
            window=window,
            key=key,
            priority=priority,
            seq=self._seq,
            audio_ms=audio_ms,
            future=loop.create_future(),
            queued_at=self._clock(),
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
                self._dispatch()  # stops a batch wait that has nobody left to wait for
            raise

    def _remove(self, job: _Job[Any]) -> None:
        self._queue = [item for item in self._queue if item[2] is not job]
        heapq.heapify(self._queue)
        job.state = _JobState.DONE

    def _batch_limit(self, head: _Job[Any]) -> int:
        if head.priority is Priority.FILE and self._live_active():
            return min(self._max_batch, self._max_file_batch_with_live)
        return self._max_batch

    def _live_active(self) -> bool:
        return self._clock() - self._last_live_at < _LIVE_ACTIVE_S

    def _take_batch(self, head: _Job[Any]) -> list[_Job[Any]]:
        """The head and the waiting windows that may share its engine call, in order."""
        limit = self._batch_limit(head)
        batch = [head]
        if limit > 1:
            for _, _, job in sorted(self._queue, key=lambda item: (item[0], item[1])):
                if len(batch) >= limit:
                    break
                if job.window is not None and job.key == head.key and not job.future.done():
                    batch.append(job)
        if len(batch) > 1:
            taken = {id(job) for job in batch}
            self._queue = [item for item in self._queue if id(item[2]) not in taken]
            heapq.heapify(self._queue)
        return batch

    def _overdue_file(self) -> _Job[Any] | None:
        """The oldest file job if it has waited longer than `max_file_delay_s`."""
        if self._max_file_delay_s is None or self._queue[0][0] == Priority.FILE:
            return None
        files = [job for _, _, job in self._queue if job.priority is Priority.FILE]
        if not files:
            return None
        oldest = min(files, key=lambda job: job.seq)
        # Waiting counts from the last file call, so overdue chunks go one at a time
        # between live batches, never several in a row.
        since = max(oldest.queued_at, self._last_file_run_at)
        if self._clock() - since < self._max_file_delay_s:
            return None
        return oldest

    def _should_wait(self, head: _Job[Any]) -> bool:
        """Whether an idle engine should wait a moment for more windows like `head`."""
        if self._batch_wait_s <= 0 or head.window is None:
            return False
        limit = self._batch_limit(head)
        if limit <= 1:
            return False
        alike = sum(
            1 for _, _, job in self._queue if job.window is not None and job.key == head.key
        )
        return alike < limit

    def _timer_fired(self, kind: WaitKind) -> None:
        self._timer = None
        self._timing.expire(kind)
        self._dispatch()

    def _arm(self, loop: asyncio.AbstractEventLoop, kind: WaitKind, delay_s: float) -> None:
        """One timer for whichever wait holds the engine (kept while the kind is the same)."""
        if self._timer is not None:
            if self._timer[0] == kind:
                return
            self._timer[1].cancel()
        self._timer = (kind, loop.call_later(delay_s, self._timer_fired, kind))

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None

    def _dispatch(self) -> None:
        """Starts the next engine call if the engine is idle: chooses the head (priority,
        overdue files), then asks the timing policy whether to wait first."""
        if self._running or self._loop is None or self._closed:
            return
        while self._queue and self._queue[0][2].future.done():  # callers that went away
            heapq.heappop(self._queue)[2].state = _JobState.DONE
        if not self._queue:
            self._disarm()  # nothing left to wait for (its caller went away)
            return
        overdue = self._overdue_file()
        head = overdue or self._queue[0][2]
        wait = self._timing.wait(
            is_live=head.priority is Priority.LIVE,
            is_overdue=overdue is not None,
            needs_company=self._should_wait(head),
        )
        if wait is not None:
            self._arm(self._loop, *wait)
            return
        self._disarm()
        self._timing.started()
        self._remove(head)
        batch = self._take_batch(head) if head.window is not None else [head]
        now = self._clock()
        for job in batch:
            job.state = _JobState.RUNNING
        metrics.engine_call_started(head.priority.kind, [now - job.queued_at for job in batch])
        self._running = batch
        future = self._loop.run_in_executor(self._executor, self._execute, batch)
        self._running_future = future
        # An empty context: the batch belongs to no one stream, so its log lines must not
        # carry the request id of whichever stream's call happened to start it.
        future.add_done_callback(
            functools.partial(self._finish, batch), context=contextvars.Context()
        )

    def _execute(self, batch: list[_Job[Any]]) -> _Run:
        """Runs one engine call on the engine thread, timing it."""
        started = self._clock()
        if batch[0].fn is not None:
            try:
                outcome = _Outcome(batch[0].fn(self._engine), None)
            except Exception as exc:
                outcome = _Outcome(None, exc)
            return _Run((outcome,), self._clock() - started)
        outcomes = self._execute_windows([job.window for job in batch if job.window is not None])
        return _Run(tuple(outcomes), self._clock() - started)

    def _execute_windows(self, windows: Sequence[WindowJob[Any]]) -> list[_Outcome]:
        """prepare, one batched decode, finish; a failure only fails the jobs it touches.

        A batch whose decode fails is decoded again window by window, so only the windows
        that fail alone fail (a batch of one fails at once).
        """
        errors: dict[int, BaseException] = {}
        inputs: dict[int, WindowInput] = {}
        for index, window in enumerate(windows):
            try:
                prepared = window.prepare()
            except Exception as exc:
                errors[index] = exc
            else:
                if prepared is not None:
                    inputs[index] = prepared
        decoded: dict[int, WindowDecode] = {}
        if inputs:
            try:
                results = self._engine.decode_batch(list(inputs.values()))
            except Exception as exc:
                if len(inputs) == 1:
                    errors.update(dict.fromkeys(inputs, exc))
                else:
                    # One bad window must not end its neighbours' sessions: each is
                    # decoded again alone, so the failure stays with its own window.
                    logger.warning("a batch of %d windows failed; decoding each alone", len(inputs))
                    for index, prepared_input in inputs.items():
                        try:
                            decoded[index] = self._engine.decode_batch([prepared_input])[0]
                        except Exception as alone_exc:
                            errors[index] = alone_exc
            else:
                decoded = dict(zip(inputs, results, strict=True))
        outcomes = []
        for index, window in enumerate(windows):
            if index in errors:
                outcomes.append(_Outcome(None, errors[index]))
                continue
            try:
                outcomes.append(_Outcome(window.finish(decoded.get(index)), None))
            except Exception as exc:
                outcomes.append(_Outcome(None, exc))
        return outcomes

    def _finish(self, batch: list[_Job[Any]], done: asyncio.Future[_Run]) -> None:
        """Delivers the outcomes on the event loop and starts the next engine call."""
        self._running = []
        self._running_future = None
        if batch[0].priority is Priority.FILE:
            self._last_file_run_at = self._clock()
        if done.cancelled():
            run = _Run((_Outcome(None, UnavailableError("the engine stopped")),) * len(batch), 0.0)
        elif done.exception() is not None:
            run = _Run((_Outcome(None, done.exception()),) * len(batch), 0.0)
        else:
            run = done.result()
        self._mean_job_s += _JOB_TIME_ALPHA * (run.compute_s - self._mean_job_s)
        is_window = batch[0].window is not None
        metrics.engine_call_done(
            batch[0].priority.kind, run.compute_s, len(batch) if is_window else None
        )
        if is_window:
            self._mean_batch += _JOB_TIME_ALPHA * (len(batch) - self._mean_batch)
            logger.debug(
                "decoded a batch",
                extra={
                    "windows": len(batch),
                    "priority": batch[0].priority.name,
                    "audio_ms": sum(job.audio_ms for job in batch),
                    "compute_ms": round(run.compute_s * 1000),
                },
            )
        audio_ms = sum(job.audio_ms for job in batch)
        self._meter.add(self._clock(), compute_s=run.compute_s, audio_s=audio_ms / 1000.0)
        for job, outcome in zip(batch, run.outcomes, strict=True):
            job.state = _JobState.DONE
            if job.future.done():
                continue
            error = outcome.error
            if error is None:
                job.future.set_result(outcome.value)
            elif isinstance(error, WorkerError):
                job.future.set_exception(error)
            else:
                wrapped = EngineError("engine job failed")
                wrapped.__cause__ = error
                job.future.set_exception(wrapped)
        if batch[0].priority is Priority.LIVE:
            self._timing.live_batch_done()
        self._dispatch()
