"""The benchmarks' Temporal worker, in a process of its own:

    python -m bench.worker <temporal address> <task queue>

Its RSS is the worker's alone (the open-workflows figure), and the benchmark's load generator never competes
with it for one interpreter. It runs with the platform worker's own tuning (`worker_options`), so the
starts and timer figures measure what `counsel worker` would do. Prints "polling" once it polls."""

from __future__ import annotations

import asyncio
import signal
import sys

from temporalio.worker import Worker

from bench.workflows import BenchActivitiesWorkflow, BenchTimerWorkflow, noop
from services.runtime.config import load_settings
from services.runtime.temporal import connect_temporal, worker_options


async def serve(address: str, task_queue: str) -> None:
    settings = load_settings(
        env="test", temporal_address=address
    )  # and COUNSEL_TEMPORAL_METRICS_PORT: SDK metrics
    client = await connect_temporal(settings)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BenchTimerWorkflow, BenchActivitiesWorkflow],
        activities=[noop],
        **worker_options(settings),
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with worker:
        print("polling", flush=True)
        await stop.wait()


def main() -> None:
    asyncio.run(serve(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
