"""4. Workflow starts per second, beside a raw start loop."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import Client

from bench.harness import (
    BENCH_QUEUE,
    Context,
    Figure,
    ctx_rates,
    login,
    ms,
    results_of,
)
from bench.http import LoadClient
from bench.loadgen import closed_loop, max_sustained, open_loop, percentile
from bench.workflows import BenchTimerWorkflow, TimerInput


async def bench_workflow_starts(ctx: Context, temporal: Client) -> None:
    queue = BENCH_QUEUE
    handles = []

    async def start() -> None:
        handles.append(
            await temporal.start_workflow(
                BenchTimerWorkflow.run,
                TimerInput(wait=timedelta(0)),
                id=f"start-{uuid.uuid4().hex}",
                task_queue=queue,
            )
        )

    rate = await closed_loop(start, 50, ctx.scale(3, 60))
    delays = [ms(r.first_task_delay_seconds) for r in await results_of(handles)]
    # The target's own question: at a steady 50 starts/s (open loop), how long does a new workflow wait
    # for its first task? At the closed loop's maximum, a backlog is what "maximum" means.
    handles = []
    steady = await open_loop(start, 50, ctx.scale(5, 60))
    steady_delays = [ms(r.first_task_delay_seconds) for r in await results_of(handles)]
    ctx.add(
        Figure(
            "workflow starts",
            "raw client start loop (50 concurrent)",
            rate,
            "starts/s",
            target="≥ 50/s",
            note=f"first workflow task schedule-to-start at this maximum: p50 {percentile(delays, 50):.0f} ms, "
            f"p99 {percentile(delays, 99):.0f} ms",
        ),
        Figure(
            "workflow starts",
            "first workflow task schedule-to-start p99 at 50 starts/s",
            percentile(steady_delays, 99),
            "ms",
            target="≤ 200 ms",
            note=f"p50 {percentile(steady_delays, 50):.0f} ms; {steady.achieved_rate:.0f} starts/s achieved, "
            f"{steady.errors} errors, {steady.shed} shed",
        ),
    )
    token = await login(ctx.stack.base_url)
    async with LoadClient(ctx.stack.base_url, headers={"authorization": f"Bearer {token}"}) as client:

        async def submit() -> None:
            await client.post("/api/v1/consultations", {"kind": "general", "subject": "s", "question": "q"})

        best, _ = await max_sustained(submit, ctx_rates(ctx, [10, 25, 50, 100, 150]), ctx.scale(3, 20), 1.0)
    ctx.add(
        Figure(
            "workflow starts",
            "platform: sustained consultation submissions (each starts a workflow)",
            best,
            "per s",
            rate,
            "raw start loop",
        )
    )
