"""The scheduler: priority order, bounded queue, cancellation, one engine thread, stats."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable

import pytest

from stt_worker.engines.base import Engine
from stt_worker.engines.fake import FakeEngine
from stt_worker.errors import CapacityError, EngineError, InvalidConfigError, UnavailableError
from stt_worker.scheduler import ENGINE_THREAD_NAME, Priority, Scheduler
from worker_testing import FakeClock, Hold


def record(log: list[str], name: str) -> Callable[[Engine], str]:
    def job(engine: Engine) -> str:
        del engine
        log.append(name)
        return name

    return job


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    sched = Scheduler(FakeEngine(), max_queue=4)
    yield sched
    await sched.close()


async def test_scheduler_returns_job_result(scheduler: Scheduler) -> None:
    result = await scheduler.submit(lambda engine: engine.info.backend, priority=Priority.FILE)
    assert result == "fake"


async def test_scheduler_runs_live_before_file_and_fifo_within_priority(
    scheduler: Scheduler,
) -> None:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    order: list[str] = []
    tasks = [
        asyncio.create_task(scheduler.submit(record(order, name), priority=priority))
        for name, priority in [
            ("file-1", Priority.FILE),
            ("file-2", Priority.FILE),
            ("live-1", Priority.LIVE),
            ("live-2", Priority.LIVE),
        ]
    ]
    await asyncio.sleep(0)  # let every task enqueue its job
    assert scheduler.queue_depth == 4
    hold.release.set()
    await asyncio.gather(held, *tasks)
    assert order == ["live-1", "live-2", "file-1", "file-2"]


async def test_scheduler_full_queue_raises_capacity_error(scheduler: Scheduler) -> None:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    order: list[str] = []
    queued = [
        asyncio.create_task(scheduler.submit(record(order, f"job-{i}"), priority=Priority.LIVE))
        for i in range(4)
    ]
    await asyncio.sleep(0)
    with pytest.raises(CapacityError) as raised:
        await scheduler.submit(record(order, "one-too-many"), priority=Priority.LIVE)
    assert raised.value.retry_after_ms > 0
    hold.release.set()
    await asyncio.gather(held, *queued)
    assert order == ["job-0", "job-1", "job-2", "job-3"]


async def test_scheduler_cancelled_caller_removes_its_queued_job(scheduler: Scheduler) -> None:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    order: list[str] = []
    doomed = asyncio.create_task(scheduler.submit(record(order, "doomed"), priority=Priority.FILE))
    kept = asyncio.create_task(scheduler.submit(record(order, "kept"), priority=Priority.FILE))
    await asyncio.sleep(0)
    assert scheduler.queue_depth == 2
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert scheduler.queue_depth == 1  # removed at once, before the engine is free
    hold.release.set()
    await asyncio.gather(held, kept)
    assert order == ["kept"]


async def test_scheduler_cancelled_running_job_finishes_and_next_runs(
    scheduler: Scheduler,
) -> None:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    hold.release.set()
    order: list[str] = []
    assert await scheduler.submit(record(order, "next"), priority=Priority.FILE) == "next"
    assert order == ["next"]


async def test_scheduler_uses_one_engine_thread(scheduler: Scheduler) -> None:
    def thread_name(engine: Engine) -> tuple[str, int | None]:
        del engine
        return threading.current_thread().name, threading.get_ident()

    results = await asyncio.gather(
        *(scheduler.submit(thread_name, priority=Priority(i % 2)) for i in range(5))
    )
    assert len({ident for _, ident in results}) == 1
    name, ident = results[0]
    assert name.startswith(ENGINE_THREAD_NAME)
    assert ident != threading.get_ident()


async def test_scheduler_wraps_unexpected_errors_and_passes_domain_errors(
    scheduler: Scheduler,
) -> None:
    def broken(engine: Engine) -> None:
        del engine
        raise ValueError("boom")

    def invalid(engine: Engine) -> None:
        del engine
        raise InvalidConfigError("bad language")

    with pytest.raises(EngineError) as raised:
        await scheduler.submit(broken, priority=Priority.FILE)
    assert isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(InvalidConfigError, match="bad language"):
        await scheduler.submit(invalid, priority=Priority.FILE)
    # The engine thread survives both.
    assert await scheduler.submit(lambda _engine: 42, priority=Priority.FILE) == 42


async def test_scheduler_tracks_real_time_factor() -> None:
    clock = FakeClock()
    sched = Scheduler(FakeEngine(), max_queue=4, clock=clock)
    assert sched.real_time_factor == 0.0

    def half_second(engine: Engine) -> None:
        del engine
        clock.now += 0.5

    await sched.submit(half_second, priority=Priority.FILE, audio_ms=2000)
    assert sched.real_time_factor == pytest.approx(0.25)
    await sched.submit(half_second, priority=Priority.FILE)  # audio credited afterwards
    sched.record_audio(1000)
    assert sched.real_time_factor == pytest.approx(1.0 / 3.0, rel=0.05)
    stats = sched.stats()
    assert stats.queue_depth == 0
    assert stats.max_queue == 4
    assert stats.running is False
    await sched.close()


async def test_scheduler_close_fails_queued_jobs_and_closes_engine() -> None:
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=4)
    hold = Hold()
    held = asyncio.create_task(sched.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    queued = asyncio.create_task(sched.submit(lambda _e: "late", priority=Priority.FILE))
    await asyncio.sleep(0)
    closing = asyncio.create_task(sched.close())
    with pytest.raises(UnavailableError):
        await queued
    hold.release.set()
    assert await held == "held"  # the running job finishes
    await closing
    assert engine.closed
    with pytest.raises(UnavailableError):
        await sched.submit(lambda _e: None, priority=Priority.LIVE)


async def test_scheduler_full_queue_still_takes_continuations(scheduler: Scheduler) -> None:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=Priority.FILE))
    await hold.wait_started()
    order: list[str] = []
    queued = [
        asyncio.create_task(scheduler.submit(record(order, f"new-{i}"), priority=Priority.FILE))
        for i in range(4)
    ]
    await asyncio.sleep(0)
    with pytest.raises(CapacityError):
        await scheduler.submit(record(order, "rejected"), priority=Priority.FILE)
    follow_up = asyncio.create_task(
        scheduler.submit(record(order, "next-window"), priority=Priority.FILE, continuation=True)
    )
    await asyncio.sleep(0)
    assert scheduler.queue_depth == 5
    hold.release.set()
    await asyncio.gather(held, follow_up, *queued)
    assert order == ["new-0", "new-1", "new-2", "new-3", "next-window"]
