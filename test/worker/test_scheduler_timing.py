"""The scheduler's timing policy alone (frozen clock), and the live grace in the scheduler."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from stt_worker.engines.fake import FakeEngine
from stt_worker.scheduler import DispatchTiming, Priority, Scheduler, WaitKind
from stt_worker.types import DecodeOptions, WindowDecode, WindowInput
from worker_testing import FakeClock, Hold


class Window:
    """One second of loud audio; the result names the window."""

    def __init__(self, name: str) -> None:
        self.name = name

    def prepare(self) -> WindowInput:
        return WindowInput(np.full(16_000, 0.3, np.float32), DecodeOptions(language="en"))

    def finish(self, decoded: WindowDecode | None) -> str:
        return self.name


def company(seconds: float) -> tuple[WaitKind, float]:
    return "company", pytest.approx(seconds)  # type: ignore[return-value]


def timing(clock: FakeClock, batch_wait_s: float = 0.0) -> DispatchTiming:
    return DispatchTiming(batch_wait_s=batch_wait_s, live_grace_s=0.02, clock=clock)


def test_the_live_grace_holds_file_work_until_it_expires_whatever_else_queues() -> None:
    clock = FakeClock()
    policy = timing(clock)
    assert policy.wait(is_live=False, is_overdue=False, needs_company=False) is None
    policy.live_batch_done()
    clock.now += 0.005
    wait = policy.wait(is_live=False, is_overdue=False, needs_company=False)
    assert wait is not None and wait[0] == "grace" and abs(wait[1] - 0.015) < 1e-9
    # More file work arriving asks again: still the grace (it used to end it).
    assert policy.wait(is_live=False, is_overdue=False, needs_company=False) == ("grace", wait[1])
    # An overdue file job is not held.
    assert policy.wait(is_live=False, is_overdue=True, needs_company=False) is None
    # The timer fired: file work goes.
    policy.expire("grace")
    assert policy.wait(is_live=False, is_overdue=False, needs_company=False) is None


def test_live_work_ends_the_grace_and_runs_at_once() -> None:
    clock = FakeClock()
    policy = timing(clock)
    policy.live_batch_done()
    assert policy.wait(is_live=True, is_overdue=False, needs_company=False) is None
    assert policy.wait(is_live=False, is_overdue=False, needs_company=False) is None


def test_the_batch_wait_happens_once_per_batch() -> None:
    clock = FakeClock()
    policy = timing(clock, batch_wait_s=0.005)
    assert policy.wait(is_live=True, is_overdue=False, needs_company=True) == company(0.005)
    clock.now += 0.002
    wait = policy.wait(is_live=True, is_overdue=False, needs_company=True)
    assert wait is not None and abs(wait[1] - 0.003) < 1e-9  # the same wait, not a new one
    policy.expire("company")  # the clock is frozen: the timer's word is enough
    assert policy.wait(is_live=True, is_overdue=False, needs_company=True) is None
    policy.started()
    assert policy.wait(is_live=True, is_overdue=False, needs_company=True) == company(0.005)
    # A full batch needs no wait.
    assert policy.wait(is_live=True, is_overdue=False, needs_company=False) is None


async def test_a_file_job_queued_in_the_live_grace_lets_the_next_live_window_go_first() -> None:
    engine = FakeEngine()
    sched = Scheduler(engine, max_queue=16, max_batch=4, live_grace_s=0.2)
    order: list[str] = []

    async def submit(name: str, priority: Priority) -> None:
        order.append(await sched.submit_window(Window(name), key=priority, priority=priority))

    hold = Hold()
    held = asyncio.create_task(sched.submit(hold, priority=Priority.LIVE))
    await hold.wait_started()
    hold.release.set()
    await held  # a live batch returned: the grace runs
    file = asyncio.create_task(submit("file", Priority.FILE))
    await asyncio.sleep(0.01)
    assert order == [] and sched.queue_depth == 1  # held by the grace, not started
    live = asyncio.create_task(submit("live", Priority.LIVE))
    await asyncio.gather(file, live)
    assert order == ["live", "file"]
    await sched.close()
