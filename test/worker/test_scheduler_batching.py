"""The scheduler's batching: windows with one strategy share an engine call, in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine

import numpy as np
import pytest

from stt_worker.engines.fake import FakeEngine
from stt_worker.errors import EngineError
from stt_worker.scheduler import Priority, Scheduler
from stt_worker.types import DecodeOptions, WindowDecode, WindowInput
from worker_testing import FakeClock, Hold


class Window:
    """A window job: `seconds` of loud audio, or nothing to decode when `silent`."""

    def __init__(self, name: str, seconds: float = 1.0, *, silent: bool = False) -> None:
        self.name = name
        self.audio = np.full(int(seconds * 16_000), 0.3, dtype=np.float32)
        self.silent = silent
        self.thread: str | None = None

    def prepare(self) -> WindowInput | None:
        self.thread = threading.current_thread().name
        if self.silent:
            return None
        return WindowInput(self.audio, DecodeOptions(language="en", temperatures=(0.0,)))

    def finish(self, decoded: WindowDecode | None) -> str:
        if decoded is None:
            return f"{self.name}: silence"
        return f"{self.name}:" + "".join(s.text for s in decoded.segments)


def live_window(scheduler: Scheduler, name: str) -> Coroutine[object, object, str]:
    """A live window of one second, submitted (await it, or make it a task)."""
    return scheduler.submit_window(Window(name), key="live", priority=Priority.LIVE)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
async def batching(engine: FakeEngine) -> AsyncIterator[Scheduler]:
    sched = Scheduler(engine, max_queue=16, max_batch=3)
    yield sched
    await sched.close()


async def _hold_engine(
    scheduler: Scheduler, priority: Priority = Priority.FILE
) -> tuple[Hold, asyncio.Task[str]]:
    hold = Hold()
    held = asyncio.create_task(scheduler.submit(hold, priority=priority))
    await hold.wait_started()
    return hold, held


async def test_windows_waiting_together_share_one_engine_call(
    batching: Scheduler, engine: FakeEngine
) -> None:
    hold, held = await _hold_engine(batching)
    windows = [Window(f"w{i}", seconds=1 + i) for i in range(5)]
    tasks = [
        asyncio.create_task(batching.submit_window(w, key="live", priority=Priority.LIVE))
        for w in windows
    ]
    await asyncio.sleep(0)
    hold.release.set()
    results = await asyncio.gather(*tasks)
    await held
    # Each job gets the decode of its own window, not a neighbour's.
    assert results == [
        "w0: speech 0.0 to 1.0",
        "w1: speech 0.0 to 1.0 speech 1.0 to 2.0",
        "w2: speech 0.0 to 1.0 speech 1.0 to 2.0 speech 2.0 to 3.0",
        "w3: speech 0.0 to 1.0 speech 1.0 to 2.0 speech 2.0 to 3.0 speech 3.0 to 4.0",
        "w4: speech 0.0 to 1.0 speech 1.0 to 2.0 speech 2.0 to 3.0 speech 3.0 to 4.0 "
        "speech 4.0 to 5.0",
    ]
    assert engine.batch_sizes == [3, 2]  # max_batch 3, first come first served
    assert batching.stats().mean_batch > 1.0


async def test_windows_with_other_keys_are_not_mixed(
    batching: Scheduler, engine: FakeEngine
) -> None:
    hold, held = await _hold_engine(batching)
    tasks = [
        asyncio.create_task(
            batching.submit_window(Window(f"w{i}"), key=("k", i % 2), priority=Priority.LIVE)
        )
        for i in range(4)
    ]
    await asyncio.sleep(0)
    hold.release.set()
    await asyncio.gather(held, *tasks)
    assert engine.batch_sizes == [2, 2]


async def test_live_windows_go_before_file_windows_and_are_batched_apart(
    batching: Scheduler, engine: FakeEngine
) -> None:
    hold, held = await _hold_engine(batching)
    order: list[str] = []

    async def submit(name: str, priority: Priority) -> None:
        order.append(await batching.submit_window(Window(name), key=priority, priority=priority))

    tasks = [
        asyncio.create_task(submit("file-a", Priority.FILE)),
        asyncio.create_task(submit("live-a", Priority.LIVE)),
        asyncio.create_task(submit("file-b", Priority.FILE)),
        asyncio.create_task(submit("live-b", Priority.LIVE)),
    ]
    await asyncio.sleep(0)
    hold.release.set()
    await asyncio.gather(held, *tasks)
    assert [o.split(":")[0] for o in order] == ["live-a", "live-b", "file-a", "file-b"]
    # While live sessions are active, file windows go one per call (the default limit).
    assert engine.batch_sizes == [2, 1, 1]


async def test_file_windows_fill_big_batches_when_no_live_session_is_active() -> None:
    clock = FakeClock()
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=16, max_batch=4, max_file_batch_with_live=1, clock=clock)
    await live_window(sched, "live")
    clock.now += 10.0  # the live session is long gone
    hold, held = await _hold_engine(sched)
    tasks = [
        asyncio.create_task(
            sched.submit_window(Window(f"f{i}"), key="file", priority=Priority.FILE)
        )
        for i in range(4)
    ]
    await asyncio.sleep(0)
    hold.release.set()
    await asyncio.gather(held, *tasks)
    assert engine.batch_sizes == [1, 4]
    await sched.close()


async def test_silent_windows_skip_the_decode_and_prepare_runs_on_the_engine_thread(
    batching: Scheduler, engine: FakeEngine
) -> None:
    hold, held = await _hold_engine(batching)
    quiet, loud = Window("quiet", silent=True), Window("loud")
    tasks = [
        asyncio.create_task(batching.submit_window(w, key="live", priority=Priority.LIVE))
        for w in (quiet, loud)
    ]
    await asyncio.sleep(0)
    hold.release.set()
    assert await asyncio.gather(*tasks) == ["quiet: silence", "loud: speech 0.0 to 1.0"]
    await held
    assert engine.batch_sizes == [1]  # only the loud window reached the engine
    assert quiet.thread is not None and quiet.thread.startswith("stt-engine")


async def test_a_failed_batch_fails_its_jobs_and_the_next_batch_runs(
    batching: Scheduler, engine: FakeEngine
) -> None:
    engine.fail_with = RuntimeError("CUDA out of memory")
    with pytest.raises(EngineError):
        await live_window(batching, "doomed")
    engine.fail_with = None
    assert await live_window(batching, "ok") == "ok: speech 0.0 to 1.0"


async def test_cancelled_window_leaves_the_queue_at_once_and_the_batch(
    batching: Scheduler, engine: FakeEngine
) -> None:
    hold, held = await _hold_engine(batching)
    doomed = asyncio.create_task(live_window(batching, "doomed"))
    kept = asyncio.create_task(live_window(batching, "kept"))
    await asyncio.sleep(0)
    assert batching.queue_depth == 2
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert batching.queue_depth == 1  # the slot is free before the engine is
    hold.release.set()
    assert await kept == "kept: speech 0.0 to 1.0"
    await held
    assert engine.batch_sizes == [1]


async def test_an_idle_engine_waits_briefly_for_company() -> None:
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=16, max_batch=2, batch_wait_s=0.05)
    first = asyncio.create_task(live_window(sched, "a"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(live_window(sched, "b"))
    await asyncio.gather(first, second)
    assert engine.batch_sizes == [2]  # the second arrived within the wait and joined
    alone = await live_window(sched, "c")
    assert alone == "c: speech 0.0 to 1.0"  # nobody came: decoded after the wait
    assert engine.batch_sizes == [2, 1]
    await sched.close()


async def test_a_window_cancelled_while_the_engine_waits_for_company_stalls_nothing() -> None:
    # A client that leaves while its window waits for company (the stock WhisperLive
    # client closes right after END_OF_AUDIO) must not leave the engine waiting for good.
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=16, max_batch=4, batch_wait_s=0.05)
    doomed = asyncio.create_task(live_window(sched, "doomed"))
    await asyncio.sleep(0.01)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await asyncio.sleep(0.1)  # the wait is over with nobody left to decode
    for name in ("next", "after"):
        result = await asyncio.wait_for(live_window(sched, name), 2)
        assert result == f"{name}: speech 0.0 to 1.0"
    assert engine.batch_sizes == [1, 1]
    await sched.close()


async def test_a_file_job_waiting_too_long_goes_before_live_work() -> None:
    clock = FakeClock()
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=16, max_batch=4, max_file_delay_s=5.0, clock=clock)
    hold, held = await _hold_engine(sched, Priority.LIVE)
    order: list[str] = []

    async def submit(name: str, priority: Priority) -> None:
        order.append(await sched.submit_window(Window(name), key=priority, priority=priority))

    tasks = [asyncio.create_task(submit("file", Priority.FILE))]
    await asyncio.sleep(0)
    clock.now += 6.0  # the file chunk has waited past the limit
    tasks += [asyncio.create_task(submit(f"live-{i}", Priority.LIVE)) for i in range(2)]
    await asyncio.sleep(0)
    hold.release.set()
    await asyncio.gather(held, *tasks)
    assert [o.split(":")[0] for o in order] == ["file", "live-0", "live-1"]
    await sched.close()


async def test_overdue_file_chunks_go_one_at_a_time_between_live_batches() -> None:
    clock = FakeClock()
    engine = FakeEngine()
    sched = Scheduler(
        engine,
        max_queue=16,
        max_batch=4,
        max_file_batch_with_live=1,
        max_file_delay_s=5.0,
        clock=clock,
    )
    hold, held = await _hold_engine(sched, Priority.LIVE)
    order: list[str] = []

    async def submit(name: str, priority: Priority) -> None:
        order.append(await sched.submit_window(Window(name), key=priority, priority=priority))

    files = [asyncio.create_task(submit(f"file-{i}", Priority.FILE)) for i in range(3)]
    await asyncio.sleep(0)
    clock.now += 6.0  # all three chunks have waited past the limit
    live = [asyncio.create_task(submit(f"live-{i}", Priority.LIVE)) for i in range(2)]
    await asyncio.sleep(0)
    hold.release.set()
    await asyncio.gather(held, *files, *live)
    # One overdue chunk, then the live windows (together), then the rest of the file.
    assert [o.split(":")[0] for o in order] == ["file-0", "live-0", "live-1", "file-1", "file-2"]
    assert engine.batch_sizes == [1, 2, 1, 1]
    await sched.close()


async def test_a_window_that_breaks_its_batch_fails_alone_and_its_neighbours_succeed(
    batching: Scheduler, engine: FakeEngine
) -> None:
    # The bad window is the only one of 2 s; a batch holding it makes the engine raise.
    engine.fails_on = lambda window: window.audio.size == 2 * 16_000
    hold, held = await _hold_engine(batching)
    tasks = [
        asyncio.create_task(
            batching.submit_window(Window(name, seconds), key="live", priority=Priority.LIVE)
        )
        for name, seconds in (("a", 1.0), ("bad", 2.0), ("c", 1.0))
    ]
    await asyncio.sleep(0)
    hold.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await held
    assert results[0] == "a: speech 0.0 to 1.0"
    assert isinstance(results[1], EngineError)
    assert results[2] == "c: speech 0.0 to 1.0"
    # One batch of three failed, then each window alone: only "bad" failed again.
    assert engine.batch_sizes == [3, 1, 1, 1]
    assert await live_window(batching, "next") == "next: speech 0.0 to 1.0"
