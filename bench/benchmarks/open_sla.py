"""5. Open SLA workflows: N workflows each waiting on its timer, and what they cost the server and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.harness import (
    BENCH_QUEUE,
    BENCH_WORKER_CACHE,
    Context,
    Figure,
    ms,
    process_tree,
)
from bench.loadgen import percentile
from bench.workflows import BenchTimerWorkflow, TimerInput
from deploy.local.servers import TemporalDevServer


async def bench_open_workflows(ctx: Context, temporal: Client) -> None:
    count = ctx.open_workflows or int(ctx.scale(300, 10_000))
    cached = min(count, BENCH_WORKER_CACHE)  # the worker's cache keeps these
    queue = BENCH_QUEUE
    worker = ctx.worker
    server = _temporal_process(ctx.temporal)
    db_file = ctx.tmp / "temporal" / "temporal.db"

    async def probe() -> float:
        """Start → result of a workflow with nothing to wait for: the latency of new work."""
        begun = time.perf_counter()
        handle = await temporal.start_workflow(
            BenchTimerWorkflow.run,
            TimerInput(wait=timedelta(0)),
            id=f"probe-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        await handle.result()
        return time.perf_counter() - begun

    before = (worker.memory_info().rss, server.memory_info().rss if server else 0, _disk(db_file))
    deadlocks_before = _deadlock_failures(ctx)
    probe_before = [await probe() for _ in range(10)]
    semaphore = asyncio.Semaphore(50)

    async def open_one(i: int) -> None:
        async with semaphore:
            await temporal.start_workflow(
                BenchTimerWorkflow.run,
                TimerInput(wait=timedelta(hours=24)),
                id=f"open-{queue}-{i}",
                task_queue=queue,
            )

    opened = 0

    async def report_progress() -> None:
        """A line on stderr every 30 s: a run of 100,000 takes ~20 min, and a worker that stops taking work
        shows here why."""
        while True:
            await asyncio.sleep(30)
            print(
                f"open workflows: {opened:,}/{count:,} started, {await workflow_backlog(temporal, queue):,} "
                f"first tasks waiting; worker RSS {worker.memory_info().rss / 2**20:,.0f} MiB; "
                f"{await worker_gauges(ctx)}",
                file=sys.stderr,
                flush=True,
            )

    async def open_counted(i: int) -> None:
        nonlocal opened
        await open_one(i)
        opened += 1

    progress = asyncio.create_task(report_progress())
    try:
        started = time.perf_counter()
        await asyncio.gather(*(open_counted(i) for i in range(count)))
        start_seconds = time.perf_counter() - started
        # New work queues behind the first tasks of the N workflows the worker has not yet taken; the
        # probes measure new work once the worker has caught up (and time how long that took).
        drain_seconds: float | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(300.0, count / 10)):
                drain_seconds = await wait_for_workflow_backlog(temporal, queue)
        after = (worker.memory_info().rss, server.memory_info().rss if server else 0, _disk(db_file))
        probe_after = []
        for _ in range(10):
            try:
                probe_after.append(await asyncio.wait_for(probe(), 300))
            except TimeoutError:
                break
    finally:
        progress.cancel()
    stalled = (
        ""
        if len(probe_after) == 10
        else f"; NEW WORK DID NOT FINISH IN 5 MIN (worker: {await worker_gauges(ctx)})"
    )
    deadlocks = _deadlock_failures(ctx) - deadlocks_before
    caught_up = (
        f"the worker caught up {drain_seconds:.0f} s after the last start"
        if drain_seconds is not None
        else "the worker had NOT caught up with the first tasks"
    )
    ctx.add(
        Figure(
            "open SLA workflows",
            f"worker RSS per cached workflow (N={count}, {cached} cached)",
            (after[0] - before[0]) / cached / 1024,
            "KiB",
            target="≤ 100 KiB",
            note=f"started in {start_seconds:.1f} s ({count / start_seconds:,.0f}/s), {caught_up}; "
            f"{(after[0] - before[0]) / count / 1024:.1f} KiB per open workflow; {deadlocks} workflow "
            "tasks failed the SDK's 2 s deadlock check",
        ),
        Figure(
            "open SLA workflows",
            "Temporal server RSS per open workflow",
            (after[1] - before[1]) / count / 1024,
            "KiB",
        ),
        Figure(
            "open SLA workflows",
            "Temporal SQLite disk per open workflow",
            (after[2] - before[2]) / count / 1024,
            "KiB",
        ),
        Figure(
            "open SLA workflows",
            "new work: start → result p50 with N open",
            ms(percentile(probe_after, 50)) if probe_after else None,
            "ms",
            ms(percentile(probe_before, 50)),
            "before opening N",
            note=f"{len(probe_after)}/10 probes finished{stalled}",
        ),
    )


def _temporal_process(server: TemporalDevServer) -> psutil.Process | None:
    return max(process_tree(server), key=lambda p: p.memory_info().rss, default=None)


def _deadlock_failures(ctx: Context) -> int:
    """Workflow tasks the shared bench worker has failed so far because an activation did not yield within
    2 s (the SDK's deadlock check); a full garbage collection of a large heap is such a pause."""
    return (ctx.tmp / "worker.log").read_text(errors="replace").count("TMPRL1101")


def _disk(db_file: Path) -> int:
    return sum(p.stat().st_size for p in db_file.parent.glob(db_file.name + "*") if p.exists())


async def workflow_backlog(temporal: Client, queue: str) -> int:
    """Workflow tasks waiting on `queue` for a poller (the server's approximate count)."""
    response = await temporal.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=temporal.namespace,
            task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            report_stats=True,
        )
    )
    return int(response.stats.approximate_backlog_count)


async def wait_for_workflow_backlog(temporal: Client, queue: str) -> float:
    """Seconds until no workflow task waits on `queue`."""
    begun = time.perf_counter()
    while await workflow_backlog(temporal, queue):  # noqa: ASYNC110 (polling the server)
        await asyncio.sleep(2)
    return time.perf_counter() - begun


# The worker's SDK gauges that show why it would stop taking work: a full cache, no free task slots, no
# pollers.
_WORKER_GAUGES = (
    "temporal_sticky_cache_size",
    "temporal_worker_task_slots_available",
    "temporal_num_pollers",
)


async def worker_gauges(ctx: Context) -> str:
    """The worker's cache size, free task slots and pollers, as one line ("" when unreadable)."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(ctx.worker_metrics_url)).text
    except httpx.HTTPError:
        return ""
    shown = []
    for line in text.splitlines():
        if line.startswith(_WORKER_GAUGES):
            name, _, value = line.rpartition(" ")
            labels = dict(re.findall(r'(\w+)="([^"]*)"', name))
            kind = labels.get("worker_type") or labels.get("poller_type") or ""
            shown.append(f"{name.split('{')[0].removeprefix('temporal_')}[{kind}]={float(value):g}")
    return ", ".join(shown)
