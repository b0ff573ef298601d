"""3. Consultation submit → first stage, through the platform and its workflow."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
from temporalio.client import Client

from bench.harness import (
    BENCH_QUEUE,
    Context,
    Figure,
    login,
    ms,
)
from bench.loadgen import open_loop, percentile
from bench.workflows import BenchActivitiesWorkflow
from services.runtime.db import asyncpg_dsn


async def bench_consultation_latency(ctx: Context, temporal: Client) -> None:
    token = await login(ctx.stack.base_url)
    marker = f"bench-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(
        base_url=ctx.stack.base_url, headers={"authorization": f"Bearer {token}"}
    ) as client:

        async def submit() -> None:
            response = await client.post(
                "/api/v1/consultations",
                json={"kind": "general", "subject": marker, "question": "试用期可以约定多久？"},
            )
            response.raise_for_status()

        run = await open_loop(submit, 5, ctx.scale(4, 30))
    # The assignment decision: a lawyer assigned, or none eligible and the case left to a supervisor.
    query = """SELECT s.stage, EXTRACT(EPOCH FROM s.entered_at - c.created_at) AS seconds
               FROM consultations c JOIN consultation_stages s ON s.consultation_id = c.id
               WHERE c.subject = $1 AND s.stage IN ('assigned', 'awaiting_lawyer')"""
    conn = await asyncpg.connect(
        asyncpg_dsn(ctx.settings.database_url, ctx.settings.database_name("consultation"))
    )
    try:
        deadline = time.monotonic() + 30
        rows = await conn.fetch(query, marker)
        while len(rows) < run.completed and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            rows = await conn.fetch(query, marker)
    finally:
        await conn.close()
    latencies = [float(r["seconds"]) for r in rows]
    unassigned = sum(1 for r in rows if r["stage"] == "awaiting_lawyer")
    # Baseline: a no-op workflow with as many activities as the path to the decision (record the received
    # stage, classify, assign) on the same Temporal server and worker settings.
    queue = BENCH_QUEUE

    async def start_noop() -> float:
        return await temporal.execute_workflow(
            BenchActivitiesWorkflow.run, 3, id=f"noop-{uuid.uuid4().hex}", task_queue=queue
        )

    baseline = [await start_noop() for _ in range(int(ctx.scale(10, 60)))]
    ctx.add(
        Figure(
            "submit → assigned",
            "p99 (5/s)",
            ms(percentile(latencies, 99)),
            "ms",
            ms(percentile(baseline, 99)),
            "no-op workflow, 3 activities",
            "≤ 1.5 s",
            note=f"p50 {ms(percentile(latencies, 50)):.0f} ms, p95 {ms(percentile(latencies, 95)):.0f} ms; "
            f"{len(latencies)}/{run.completed} decided ({unassigned} left to a supervisor: no eligible lawyer)",
        ),
    )
