"""Admission control from measured load: live decode cycles and file backlog."""

from __future__ import annotations

import pytest

from stt_worker.admission import Admission, LiveTicket
from stt_worker.errors import CapacityError
from worker_testing import FakeClock


def admission(clock: FakeClock, rtf: float = 0.1, *, unmeasured: int = 2) -> Admission:
    return Admission(
        max_live_cycle_s=2.0,
        max_file_wait_s=60.0,
        real_time_factor=lambda: rtf,
        clock=clock,
        unmeasured_live_streams=unmeasured,
    )


def measured_streams(gate: Admission, count: int, cycle_s: float) -> list[LiveTicket]:
    """Opens `count` live streams, all decoding, and records a cycle of `cycle_s`."""
    tickets = [gate.open_live() for _ in range(count)]
    for ticket in tickets:
        ticket.measured = True
    gate.record_cycle(cycle_s, tickets[-1])
    return tickets


def test_live_streams_are_admitted_until_the_predicted_cycle_passes_the_limit() -> None:
    clock = FakeClock()
    gate = admission(clock, unmeasured=10)
    gate.check_live()  # nothing measured: admitted
    measured_streams(gate, 3, 1.2)  # 0.4 s per stream
    assert gate.live_cycle_s == pytest.approx(1.2)
    gate.check_live()  # a 4th stream: 1.6 s
    measured_streams(gate, 1, 1.6)
    gate.check_live()  # a 5th: 2.0 s, at the limit
    measured_streams(gate, 1, 2.0)
    with pytest.raises(CapacityError) as refused:
        gate.check_live()  # a 6th: 2.4 s
    assert refused.value.retry_after_ms > 0
    assert "live capacity" in str(refused.value)


def test_a_burst_of_new_live_streams_is_admitted_in_measured_steps() -> None:
    clock = FakeClock()
    gate = admission(clock, unmeasured=2)
    first = [gate.open_live() for _ in range(2)]  # an idle worker takes two unmeasured
    with pytest.raises(CapacityError) as refused:
        gate.check_live()
    assert "measuring" in str(refused.value)
    assert 1000 <= refused.value.retry_after_ms <= 5000
    for ticket in first:
        ticket.measured = True
    gate.record_cycle(0.5, first[-1])  # 0.25 s per stream
    # The cost is known now: as many as it leaves room for (8 in 2.0 s) at once.
    for _ in range(6):
        gate.check_live()
        gate.open_live()
    with pytest.raises(CapacityError):
        gate.check_live()
    assert gate.live_streams == 8


def test_a_worker_that_knows_its_cost_takes_a_burst_up_to_its_capacity_at_once() -> None:
    clock = FakeClock()
    gate = admission(clock, unmeasured=2)
    (ticket,) = measured_streams(gate, 1, 0.25)  # 0.25 s per stream: 8 fit in 2.0 s
    gate.close_live(ticket)
    clock.now += 3600.0  # long idle: the cost is stale, yet still the best estimate
    for _ in range(8):
        gate.check_live()
        gate.open_live()
    with pytest.raises(CapacityError) as refused:
        gate.check_live()
    assert "measuring" in str(refused.value)
    assert gate.live_streams == 8


def test_a_stream_that_never_decodes_stops_counting_as_being_measured() -> None:
    clock = FakeClock()
    gate = admission(clock, unmeasured=1)
    gate.open_live()  # a client that connects and sends nothing
    with pytest.raises(CapacityError):
        gate.check_live()
    clock.now += 11.0
    gate.check_live()


def test_a_live_refusal_says_when_the_oldest_stream_should_end() -> None:
    clock = FakeClock()
    gate = admission(clock, unmeasured=10)
    # Streams have lasted 100 s on average.
    for _ in range(3):
        (ticket,) = measured_streams(gate, 1, 0.1)
        clock.now += 100.0
        gate.close_live(ticket)
    oldest = measured_streams(gate, 1, 1.0)
    clock.now += 40.0
    measured_streams(gate, 3, 2.0)  # 0.5 s per stream: a 5th would make 2.5 s
    with pytest.raises(CapacityError) as refused:
        gate.check_live()
    assert refused.value.retry_after_ms == pytest.approx(60_000, abs=1000)
    assert "end in about 60 s" in str(refused.value)
    gate.close_live(oldest[0])
    gate.close_live(oldest[0])  # twice is harmless
    assert gate.live_streams == 3
    gate.check_live()  # four would make 2.0 s: admitted


def test_without_a_cycle_limit_live_streams_are_not_gated() -> None:
    gate = Admission(
        max_live_cycle_s=None, max_file_wait_s=None, real_time_factor=lambda: 0.0, clock=FakeClock()
    )
    for _ in range(50):
        gate.check_live()
        gate.open_live()


def test_old_measurements_do_not_refuse_anyone() -> None:
    clock = FakeClock()
    gate = admission(clock)
    measured_streams(gate, 1, 5.0)
    with pytest.raises(CapacityError):
        gate.check_live()
    clock.now += 60.0  # the engine has been quiet since
    gate.check_live()
    assert gate.live_cycle_s == 0.0


def test_cycles_are_smoothed_per_measured_stream() -> None:
    clock = FakeClock()
    gate = admission(clock)
    a, b = measured_streams(gate, 2, 1.0)  # 0.5 s per stream
    gate.open_live()  # not decoding yet: does not dilute the cost
    gate.record_cycle(1.0, a)
    gate.record_cycle(3.0, b)  # one slow cycle moves the estimate a little
    assert gate.live_cycle_s / gate.live_streams == pytest.approx(0.6)


def test_files_are_refused_while_the_admitted_backlog_is_too_long() -> None:
    clock = FakeClock()
    gate = admission(clock, rtf=0.1)
    gate.check_file()
    gate.add_file_audio(500_000)  # 500 s of audio at RTF 0.1: 50 s of work
    gate.check_file()
    gate.add_file_audio(200_000)  # 70 s of work > 60 s
    with pytest.raises(CapacityError) as refused:
        gate.check_file()
    assert refused.value.retry_after_ms == pytest.approx(10_000, rel=0.01)
    gate.add_file_audio(-700_000)
    gate.check_file()
    assert gate.file_wait_s == 0.0


def test_file_audio_is_counted_against_the_budget_until_released() -> None:
    gate = Admission(
        max_live_cycle_s=None,
        max_file_wait_s=None,
        real_time_factor=lambda: 0.1,
        clock=FakeClock(),
        max_file_audio_s=100.0,
    )
    declared = gate.admit_file(60_000)
    undeclared = gate.admit_file(0)
    undeclared.grow_to(30_000)
    with pytest.raises(CapacityError) as refused:
        undeclared.grow_to(50_000)  # 110 s > 100 s: not counted
    assert refused.value.retry_after_ms >= 1000
    with pytest.raises(CapacityError):
        gate.admit_file(20_000)
    declared.settle(40_000)  # shorter than declared: the rest comes back
    gate.admit_file(20_000).release()
    declared.release()
    declared.release()
    undeclared.release()
    gate.admit_file(100_000)
