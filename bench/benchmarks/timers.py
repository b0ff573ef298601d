"""6. Timer burst: many workflow timers due in the same second, how late they fire and how long they take
to drain."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from bench.harness import (
    BENCH_QUEUE,
    Context,
    Figure,
    cpu_seconds,
    ms,
    process_tree,
    results_of,
)
from bench.loadgen import closed_loop, percentile
from bench.workflows import BenchTimerWorkflow, TimerInput


async def bench_timer_burst(ctx: Context, temporal: Client) -> None:
    count = int(ctx.scale(300, 10_000))
    queue = BENCH_QUEUE

    async def probe() -> None:
        await temporal.start_workflow(
            BenchTimerWorkflow.run,
            TimerInput(wait=timedelta(0)),
            id=f"burst-probe-{uuid.uuid4().hex}",
            task_queue=queue,
        )

    # Every timer must be scheduled before the deadline, or the lateness measures the start backlog, not
    # the burst: the deadline leaves room for the start rate this machine shows now, with a margin.
    start_rate = await closed_loop(probe, 50, ctx.scale(1, 3))
    wake_at = datetime.now(UTC) + timedelta(seconds=10 + count / max(1.0, 0.6 * start_rate))
    semaphore = asyncio.Semaphore(50)
    handles = []

    async def schedule(i: int) -> None:
        async with semaphore:
            handles.append(
                await temporal.start_workflow(
                    BenchTimerWorkflow.run,
                    TimerInput(wake_at=wake_at),
                    id=f"burst-{queue}-{i}",
                    task_queue=queue,
                )
            )

    await asyncio.gather(*(schedule(i) for i in range(count)))
    scheduled_by = datetime.now(UTC)
    # Each workflow measures its own lateness; the results are read once every one has finished, so that
    # 10,000 result long-polls (each a history read) do not compete with the drain for the server.
    await asyncio.sleep(max(0.0, (wake_at - datetime.now(UTC)).total_seconds()))
    server_cpu, worker_cpu = cpu_seconds(process_tree(ctx.temporal)), cpu_seconds([ctx.worker])
    running = f"WorkflowId STARTS_WITH 'burst-{queue}-' AND ExecutionStatus = 'Running'"
    while (await temporal.count_workflows(running)).count:  # noqa: ASYNC110 (polling the server)
        await asyncio.sleep(1)
    server_cpu = (cpu_seconds(process_tree(ctx.temporal)) - server_cpu) / count
    worker_cpu = (cpu_seconds([ctx.worker]) - worker_cpu) / count
    cpus = os.cpu_count() or 1
    results = await results_of(handles)
    lateness = [r.lateness_seconds for r in results]
    ctx.add(
        Figure(
            "timer burst",
            f"{count} timers due in the same second: time to drain",
            max(lateness),
            "s",
            target="≤ 60 s",
            note=f"lateness p99 {ms(percentile(lateness, 99)):.0f} ms; all scheduled "
            f"{(wake_at - scheduled_by).total_seconds():.1f} s before the deadline; CPU per deadline: "
            f"Temporal server {ms(server_cpu):.1f} ms, worker {ms(worker_cpu):.1f} ms, so {cpus} cores "
            f"need ≥ {count * (server_cpu + worker_cpu) / cpus:.0f} s",
        )
    )
