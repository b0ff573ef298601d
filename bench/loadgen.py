"""An open-loop load generator: requests leave at a fixed arrival rate whether or not earlier ones have
answered, and each latency counts from the request's scheduled time, so queueing is never hidden."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Run:
    target_rate: float
    duration: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # calls that raised
    shed: int = 0  # calls not started: `max_in_flight` were outstanding
    elapsed: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def sustained(self, max_p99: float = 1.0) -> bool:
        """The system kept up: almost every request answered, none failed or shed, and the tail stayed
        bounded."""
        expected = self.target_rate * self.duration
        return (
            self.errors == 0
            and self.shed == 0
            and self.completed >= 0.97 * expected
            and self.p(99) <= max_p99
        )


async def open_loop(
    call: Callable[[], Awaitable[object]], rate: float, duration: float, max_in_flight: int = 2000
) -> Run:
    """Issue `call` at `rate` per second for `duration` seconds. A request that cannot start because
    `max_in_flight` are outstanding is shed, and counted (the generator never slows down to match)."""
    run = Run(rate, duration)
    interval = 1.0 / rate
    total = int(rate * duration)
    in_flight: set[asyncio.Task[None]] = set()
    start = time.perf_counter()

    async def one(scheduled: float) -> None:
        try:
            await call()
        except Exception:
            run.errors += 1
            return
        run.latencies.append(time.perf_counter() - scheduled)

    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_in_flight:
            run.shed += 1
            continue
        task = asyncio.create_task(one(scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    run.elapsed = time.perf_counter() - start
    return run


async def max_sustained(
    call: Callable[[], Awaitable[object]], rates: list[float], duration: float, max_p99: float = 1.0
) -> tuple[float, list[Run]]:
    """Step through `rates` (ascending) and return the highest one sustained, with every run."""
    runs: list[Run] = []
    best = 0.0
    for rate in rates:
        run = await open_loop(call, rate, duration)
        runs.append(run)
        if not run.sustained(max_p99):
            break
        best = rate
    return best, runs


async def closed_loop(call: Callable[[], Awaitable[object]], concurrency: int, duration: float) -> float:
    """Calls per second with `concurrency` callers back to back: a baseline's ceiling, not a latency figure."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)
