"""Admission control from measured load: live decode cycles and file backlog."""

from __future__ import annotations

import pytest

from stt_worker.admission import Admission
from stt_worker.errors import CapacityError
from worker_testing import FakeClock


def admission(clock: FakeClock, rtf: float = 0.1) -> Admission:
    return Admission(
        max_live_cycle_s=2.0, max_file_wait_s=60.0, real_time_factor=lambda: rtf, clock=clock
    )


def test_live_streams_are_admitted_until_the_predicted_cycle_passes_the_limit() -> None:
    clock = FakeClock()
    gate = admission(clock)
    gate.check_live()  # nothing measured: admitted
    gate.live_streams = 3
    gate.record_cycle(1.2)  # 0.4 s per stream
    assert gate.live_cycle_s == pytest.approx(1.2)
    gate.check_live()  # a 4th stream: 1.6 s
    gate.live_streams = 4
    gate.check_live()  # a 5th: 2.0 s, at the limit
    gate.live_streams = 5
    with pytest.raises(CapacityError) as refused:
        gate.check_live()  # a 6th: 2.4 s
    assert refused.value.retry_after_ms > 0
    assert "live capacity" in str(refused.value)


def test_old_measurements_do_not_refuse_anyone() -> None:
    clock = FakeClock()
    gate = admission(clock)
    gate.live_streams = 1
    gate.record_cycle(5.0)
    with pytest.raises(CapacityError):
        gate.check_live()
    clock.now += 60.0  # the engine has been quiet since
    gate.check_live()
    assert gate.live_cycle_s == 0.0


def test_cycles_are_smoothed_per_stream() -> None:
    clock = FakeClock()
    gate = admission(clock)
    gate.live_streams = 2
    gate.record_cycle(1.0)  # 0.5 per stream
    gate.record_cycle(3.0)  # one slow cycle moves the estimate a little
    assert 1.0 < gate.live_cycle_s < 1.5


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
