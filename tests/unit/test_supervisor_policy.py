"""The supervisor's restart policy (issue 19 item 2): backoff doubling from 1 s to 30 s, reset after a
process ran a minute, and a process given up only after crashing again and again soon after each start."""

from __future__ import annotations

from deploy.local.supervisor import (
    GIVE_UP_AFTER_CRASHES,
    MAX_BACKOFF_SECONDS,
    STABLE_AFTER_SECONDS,
    Restarts,
    exit_reason,
)


def test_the_backoff_doubles_with_each_crash_in_a_row_up_to_its_cap() -> None:
    restarts = Restarts(started_at=100.0)
    delays = []
    now = 100.0
    for _ in range(GIVE_UP_AFTER_CRASHES):
        now += 1
        delay = restarts.crashed(now)
        assert delay is not None and not restarts.due(now) and restarts.due(now + delay)
        delays.append(delay)
        restarts.restarted(now + delay)
        now += delay
    assert delays == [min(MAX_BACKOFF_SECONDS, 2.0**n) for n in range(GIVE_UP_AFTER_CRASHES)]
    assert restarts.count == GIVE_UP_AFTER_CRASHES


def test_a_process_that_keeps_crashing_is_given_up() -> None:
    restarts = Restarts(started_at=0.0)
    now = 1.0
    for _ in range(GIVE_UP_AFTER_CRASHES):
        delay = restarts.crashed(now)
        assert delay is not None
        restarts.restarted(now + delay)
        now += delay + 1
    assert restarts.crashed(now) is None
    assert restarts.gave_up


def test_a_process_that_ran_a_while_starts_its_backoff_again() -> None:
    restarts = Restarts(started_at=0.0)
    for _ in range(3):
        restarts.crashed(1.0)
        restarts.restarted(1.0)
    assert restarts.crashed(1.0 + STABLE_AFTER_SECONDS) == 1.0


def test_exit_reasons_name_the_signal() -> None:
    assert exit_reason(-9) == "signal SIGKILL"
    assert exit_reason(1) == "code 1"
