"""The open-loop load generator's arithmetic: the benchmarks' numbers are only as honest as this."""

from __future__ import annotations

import asyncio
import math

from bench.loadgen import Run, open_loop, percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


def test_a_run_is_sustained_only_without_errors_shortfall_or_a_long_tail() -> None:
    healthy = Run(target_rate=10, duration=1, latencies=[0.01] * 10, elapsed=1)
    assert healthy.sustained(max_p99=0.1)
    assert not Run(10, 1, latencies=[0.01] * 9, errors=1, elapsed=1).sustained()
    assert not Run(10, 1, latencies=[0.01] * 5, elapsed=1).sustained()
    assert not Run(10, 1, latencies=[0.01] * 9 + [2.0], elapsed=1).sustained(max_p99=1.0)


async def test_latency_counts_from_the_scheduled_time_so_queueing_is_not_hidden() -> None:
    lock = asyncio.Lock()

    async def serialised() -> None:  # a server that handles one request at a time, 20 ms each
        async with lock:
            await asyncio.sleep(0.02)

    run = await open_loop(serialised, rate=100, duration=0.3)  # arrivals every 10 ms: twice its capacity
    assert run.completed == 30 and run.errors == 0
    # The last request waited behind the backlog: far more than its own 20 ms of service.
    assert run.p(100) > 0.2
    assert not run.sustained(max_p99=0.1)
