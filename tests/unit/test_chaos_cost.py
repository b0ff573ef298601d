"""What `make chaos` counts as the cost of a fault (bench/chaos.py `cost`)."""

from __future__ import annotations

import pytest

from bench.chaos import Write, cost


def _write(started: float, ended: float, ok: bool) -> Write:
    return Write("order", started, ended, ok, unavailable=not ok)


def test_a_wait_that_lasts_until_the_load_stops_is_the_longest_gap() -> None:
    """Acknowledgements stop right after the fault and writes hang until the load ends: the gap runs from the
    last acknowledgement to the end of the load, not only between acknowledgements."""
    writes = [
        _write(0.0, 1.0, True),
        _write(1.0, 1.2, True),
        _write(1.2, 31.0, False),
        _write(31.0, 36.0, False),
    ]
    measured = cost(writes, struck_at=1.0, recovery_seconds=30.0)
    assert measured.ack_gap == pytest.approx(34.8)
    assert measured.window == pytest.approx(5.0) and measured.failed == 2


def test_a_fault_the_clients_never_notice_costs_nothing() -> None:
    writes = [_write(n * 0.5, n * 0.5 + 0.1, True) for n in range(10)]
    measured = cost(writes, struck_at=1.0, recovery_seconds=30.0)
    assert measured.window == 0.0 and measured.failed == 0
    assert measured.ack_gap == pytest.approx(0.5)
