"""How `counsel up` keeps the platform up: a process that dies is started again after a backoff, as
Kubernetes restarts a crashed container (CrashLoopBackOff, with a laptop's shorter delays), and given up only
after it kept crashing soon after each start. One process's crash never stops the others."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# A process that ran this long before it died is not crash-looping: its backoff starts again from the first.
STABLE_AFTER_SECONDS = 60.0
# Crashes in a row, each soon after its start, before the supervisor stops restarting the process.
GIVE_UP_AFTER_CRASHES = 5


@dataclass
class Restarts:
    """One supervised process's life: how often it was restarted and whether it is waiting for the next."""

    count: int = 0
    crashes_in_a_row: int = 0
    started_at: float = field(default_factory=time.monotonic)
    due_at: float | None = None  # when the restart is due, while the process is down
    gave_up: bool = False

    def crashed(self, now: float) -> float | None:
        """Record that the process died at `now`: the seconds to wait before starting it again (doubling
        with each crash in a row, up to MAX_BACKOFF_SECONDS), or None when it is given up."""
        if now - self.started_at >= STABLE_AFTER_SECONDS:
            self.crashes_in_a_row = 0
        self.crashes_in_a_row += 1
        if self.crashes_in_a_row > GIVE_UP_AFTER_CRASHES:
            self.gave_up = True
            self.due_at = None
            return None
        delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (self.crashes_in_a_row - 1))
        self.due_at = now + delay
        return delay

    def due(self, now: float) -> bool:
        return self.due_at is not None and now >= self.due_at

    def restarted(self, now: float) -> None:
        self.count += 1
        self.started_at = now
        self.due_at = None


def exit_reason(code: int) -> str:
    """`code 1`, or `signal SIGKILL` for a process a signal ended (Popen's negative return codes)."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
