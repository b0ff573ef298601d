"""`make bench` / `make bench-quick`: measure the platform beside raw baselines measured in the same run.

Starts PostgreSQL, NATS and the Temporal dev server on free ports, the whole platform through
`counsel up`, runs each benchmark and writes bench/results/<date>-<commit>.{md,json}. Every benchmark
prints what it measured even when the platform falls short; nothing here fails a build."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform as host
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import asyncpg
import grpc
import httpx
import jwt
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import MetaData, func, select
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.http import HttpStatusError, LoadClient
from bench.loadgen import closed_loop, max_sustained, open_loop, percentile
from bench.workflows import BenchActivitiesWorkflow, BenchTimerWorkflow, TimerInput
from counsel.consultation.v1 import events_pb2
from deploy.local.launcher import StackProcess, stack_env
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer, find_binary, free_port
from deploy.local.stack import operator_tls
from services.payment.providers.sandbox import (
    SIGNATURE_HEADER,
    SandboxProvider,
    notification_body,
    sandbox_key,
)
from services.runtime.config import Settings, load_settings
from services.runtime.db import Database, asyncpg_dsn, ensure_database
from services.runtime.events import EventBus, Outbox, OutboxRelay
from services.runtime.tables import define_runtime_tables

ROOT = Path(__file__).resolve().parent.parent
# One worker serves every benchmark workflow (bench/worker.py, a process of its own): the dev server limits
# concurrent pollers per namespace, and workers opened and closed per benchmark leave long polls behind.
BENCH_QUEUE = "bench"
BENCH_WORKER_CACHE = 25_000
RESULTS = ROOT / "bench" / "results"


@dataclass
class Figure:
    benchmark: str
    metric: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class Context:
    """What the selected benchmarks need; the Temporal server, the worker and the platform are started
    only when one of them uses it (`needs`)."""

    quick: bool
    tmp: Path
    postgres: PostgresServer
    nats: NatsServer
    temporal_server: TemporalDevServer | None = None
    stack_process: StackProcess | None = None
    stack_settings: Settings | None = None  # the stack's settings (database prefix, stream, task queue)
    worker_process: psutil.Popen | None = None  # bench/worker.py, serving BENCH_QUEUE
    worker_metrics_url: str = ""  # the worker's SDK metrics (Prometheus text)
    open_workflows: int | None = None  # N of the open-workflows benchmark (default 10,000; quick 300)
    figures: list[Figure] = field(default_factory=list)

    @property
    def temporal(self) -> TemporalDevServer:
        assert self.temporal_server is not None, "this benchmark needs Temporal (see NEEDS)"
        return self.temporal_server

    @property
    def stack(self) -> StackProcess:
        assert self.stack_process is not None, "this benchmark needs the platform (see NEEDS)"
        return self.stack_process

    @property
    def settings(self) -> Settings:
        assert self.stack_settings is not None, "this benchmark needs the platform (see NEEDS)"
        return self.stack_settings

    @property
    def worker(self) -> psutil.Popen:
        assert self.worker_process is not None, "this benchmark needs the worker (see NEEDS)"
        return self.worker_process

    def scale(self, quick: float, full: float) -> float:
        return quick if self.quick else full

    def add(self, *figures: Figure) -> None:
        for figure in figures:
            self.figures.append(figure)
            value = "n/a" if figure.value is None else f"{figure.value:,.3f}"
            base = (
                f" (baseline {figure.baseline_name}: {figure.baseline:,.3f})"
                if figure.baseline is not None
                else ""
            )
            print(
                f"  {figure.benchmark} · {figure.metric}: {value} {figure.unit}{base} {figure.note}",
                flush=True,
            )


async def login(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/api/v1/auth/login",
            json={"method": "password", "identifier": "client@demo.counsel.test", "secret": "Demo-Passw0rd!"},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def ms(seconds: float) -> float:
    return seconds * 1000.0


# -- 1. gateway overhead ---------------------------------------------------------------------------------
async def bench_gateway_overhead(ctx: Context) -> None:
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="bench", alg="EdDSA", use="sig")
    jwks_path = ctx.tmp / "bench-jwks.json"
    jwks_path.write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "https://counsel.local/identity",
            "aud": "counsel-api",
            "sub": "u1",
            "tid": "t1",
            "roles": ["client"],
            "iat": now,
            "exp": now + 900,
        },
        key,
        algorithm="EdDSA",
        headers={"kid": "bench"},
    )
    targets = {
        "bare": ("/echo", {}),
        "gateway": ("/api/v1/bench/noop", {"authorization": f"Bearer {token}"}),
    }
    ports = {kind: free_port() for kind in targets}
    processes = {
        kind: subprocess.Popen(  # noqa: ASYNC220 (started once per benchmark, not on a hot path)
            [sys.executable, "-m", "bench.apps", kind, str(ports[kind]), str(jwks_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        for kind in targets
    }
    results: dict[str, dict[str, float]] = {}
    try:
        async with contextlib.AsyncExitStack() as stack:
            calls = {}
            for kind, (path, headers) in targets.items():
                client = await stack.enter_async_context(
                    LoadClient(f"http://127.0.0.1:{ports[kind]}", headers=headers)
                )
                for _ in range(100):
                    try:
                        await client.get(path)
                        break
                    except (OSError, HttpStatusError):
                        await asyncio.sleep(0.1)
                calls[kind] = _getter(client, path)
            # CPU per request is measured in alternating rounds, so a slower spell of this shared machine
            # falls on both apps rather than on whichever ran during it.
            fixed_rate = ctx.scale(100, 300)
            cpu = dict.fromkeys(targets, 0.0)
            completed = dict.fromkeys(targets, 0)
            latencies: dict[str, list[float]] = {kind: [] for kind in targets}
            for _ in range(int(ctx.scale(1, 3))):
                for kind in targets:
                    server = [psutil.Process(processes[kind].pid)]
                    cpu_before = _cpu_seconds(server)
                    run = await open_loop(calls[kind], fixed_rate, ctx.scale(3, 5))
                    cpu[kind] += _cpu_seconds(server) - cpu_before
                    completed[kind] += run.completed
                    latencies[kind] += run.latencies
            for kind in targets:
                best, _ = await max_sustained(
                    calls[kind], ctx_rates(ctx, [200, 400, 700, 1000, 1400, 2000, 2800]), ctx.scale(2, 8), 0.2
                )
                results[kind] = {
                    "p50": statistics.median(latencies[kind]),
                    "cpu": cpu[kind] / max(1, completed[kind]),
                    "max": best,
                }
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(10)
    bare, gateway = results["bare"], results["gateway"]
    ctx.add(
        Figure(
            "gateway overhead",
            "max sustained rate (p99 ≤ 200 ms)",
            gateway["max"],
            "req/s",
            bare["max"],
            "bare FastAPI echo",
        ),
        Figure(
            "gateway overhead",
            "CPU per request",
            ms(gateway["cpu"]),
            "ms",
            ms(bare["cpu"]),
            "bare FastAPI echo",
            "≤ 2× baseline",
        ),
        Figure(
            "gateway overhead",
            "median latency at fixed rate",
            ms(gateway["p50"]),
            "ms",
            ms(bare["p50"]),
            "bare FastAPI echo",
            note=f"added {ms(gateway['p50'] - bare['p50']):.2f} ms",
        ),
    )


def _getter(client: LoadClient, path: str) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await client.get(path)  # raises for 4xx/5xx

    return call


def ctx_rates(ctx: Context, rates: list[float]) -> list[float]:
    return rates[:3] if ctx.quick else rates


# -- 2. catalog read path ----------------------------------------------------------------------------------
async def bench_catalog_read(ctx: Context) -> None:
    product_path = "/api/v1/products/doc-contract-drafting"
    async with LoadClient(ctx.stack.base_url) as client:
        call = _getter(client, product_path)
        best, runs = await max_sustained(
            call, ctx_rates(ctx, [100, 200, 400, 700, 1000, 1400, 2000]), ctx.scale(3, 10), 0.25
        )
        at_70 = await open_loop(call, max(10.0, best * 0.7), ctx.scale(3, 15)) if best else None
        at_700 = await open_loop(call, 700, ctx.scale(2, 15))
        # Every request a cache miss (a query string of its own, which the route ignores): the full
        # gateway → gRPC → PostgreSQL path, as a signed-in read or a cold page takes it.
        misses = 0

        async def miss() -> None:
            nonlocal misses
            misses += 1
            await client.get(f"{product_path}?bench={misses}")

        miss_best, _ = await max_sustained(
            miss, ctx_rates(ctx, [50, 100, 200, 300, 400, 600, 800]), ctx.scale(3, 10), 0.25
        )
    pool = await asyncpg.create_pool(
        asyncpg_dsn(ctx.settings.database_url, ctx.settings.database_name("catalog")), min_size=8, max_size=8
    )
    assert pool is not None
    try:

        async def raw_query() -> None:
            async with pool.acquire() as conn:
                await conn.fetchrow("SELECT * FROM products WHERE id = $1", "doc-contract-drafting")

        raw_db = await closed_loop(raw_query, 16, ctx.scale(2, 10))
    finally:
        await pool.close()
    # The same connection the services use: mutual TLS, here as the stack's `operator` identity.
    assert ctx.stack_process is not None
    operator = operator_tls(ctx.stack_process.data_dir)
    credentials = grpc.ssl_channel_credentials(operator.ca, operator.key, operator.cert)
    async with grpc.aio.secure_channel(ctx.settings.catalog_addr, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        async def raw_grpc() -> None:
            await stub.Check(health_pb2.HealthCheckRequest())

        raw_rpc = await closed_loop(raw_grpc, 16, ctx.scale(2, 10))
    ctx.add(
        Figure(
            "catalog read",
            "max sustained GET /products/{id} (p99 ≤ 250 ms)",
            best,
            "req/s",
            raw_db,
            "raw asyncpg query",
            "≥ 1,000 req/s",
            note=f"raw gRPC health echo {raw_rpc:,.0f}/s; last run {runs[-1].achieved_rate:,.0f}/s",
        ),
        Figure("catalog read", "p99 at 70 % of max", ms(at_70.p(99)) if at_70 else None, "ms"),
        Figure(
            "catalog read",
            "max sustained, every request missing the gateway cache (p99 ≤ 250 ms)",
            miss_best,
            "req/s",
            raw_rpc,
            "raw gRPC health echo",
            note="each reaches the catalog service and PostgreSQL",
        ),
        Figure(
            "catalog read",
            "p50 / p95 / p99 at 700 req/s",
            ms(at_700.p(99)),
            "ms p99",
            target="≤ 50 ms",
            note=f"p50 {ms(at_700.p(50)):.1f} ms, p95 {ms(at_700.p(95)):.1f} ms, achieved {at_700.achieved_rate:,.0f}/s",
        ),
    )


# -- 3. consultation submit → first stage ------------------------------------------------------------------
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


# -- 4. workflow starts/s ------------------------------------------------------------------------------------
async def results_of(handles: list[Any], concurrency: int = 20) -> list[Any]:
    """Every workflow's result, with at most `concurrency` waits at a time: each wait is a long poll, and
    the dev server caps concurrent pollers per namespace."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(handle: Any) -> Any:
        async with semaphore:
            return await handle.result()

    return await asyncio.gather(*(one(h) for h in handles))


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


# -- 5. open SLA workflows -----------------------------------------------------------------------------------
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


def _process_tree(server: TemporalDevServer) -> list[psutil.Process]:
    """The dev server's processes (the CLI may run the server as a child)."""
    if server.pid is None:
        return []
    parent = psutil.Process(server.pid)
    return [parent, *parent.children(recursive=True)]


def _temporal_process(server: TemporalDevServer) -> psutil.Process | None:
    return max(_process_tree(server), key=lambda p: p.memory_info().rss, default=None)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


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


# -- 6. timer burst ------------------------------------------------------------------------------------------
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
    server_cpu, worker_cpu = _cpu_seconds(_process_tree(ctx.temporal)), _cpu_seconds([ctx.worker])
    running = f"WorkflowId STARTS_WITH 'burst-{queue}-' AND ExecutionStatus = 'Running'"
    while (await temporal.count_workflows(running)).count:  # noqa: ASYNC110 (polling the server)
        await asyncio.sleep(1)
    server_cpu = (_cpu_seconds(_process_tree(ctx.temporal)) - server_cpu) / count
    worker_cpu = (_cpu_seconds([ctx.worker]) - worker_cpu) / count
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


# -- 7. outbox relay -----------------------------------------------------------------------------------------
async def bench_outbox_relay(ctx: Context) -> None:
    name = f"b{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        env="test",
        database_url=ctx.postgres.url,
        database_prefix=name,
        nats_url=ctx.nats.url,
        nats_stream=name.upper(),
        subject_root=name,
    )
    await ensure_database(settings.database_url, settings.database_name("probe"))
    db = Database(settings.database_dsn("probe"), pool_size=4)
    metadata = MetaData()
    tables = define_runtime_tables(metadata)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    bus = await EventBus.connect(settings, name="bench")
    outbox = Outbox("consultation", settings, tables)
    payload = events_pb2.ConsultationSubmitted(
        consultation_id="c", client_id="u", kind="general", subject="s"
    )
    try:
        count = int(ctx.scale(1000, 20_000))
        for start in range(0, count, 500):
            async with db.transaction() as session:
                for i in range(start, min(count, start + 500)):
                    await outbox.add(session, "consultation.submitted", payload, aggregate_id=str(i))
        relay = OutboxRelay(db, outbox, bus, batch=500)
        started = time.perf_counter()
        while await relay.relay_once():
            pass
        drain_rate = count / (time.perf_counter() - started)
        # Steady state: a producer commits at a fixed rate while the relay runs; lag = commit → JetStream ack.
        rate = ctx.scale(200, 1000)
        async with db.transaction() as session:
            await session.execute(tables.outbox.delete())
        task = asyncio.create_task(relay.run())
        await asyncio.wait_for(relay.listening.wait(), 30)
        producer = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bench.producer", settings.database_url, name, name, str(rate), str(ctx.scale(3, 15))),
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        produced = json.loads((await producer.communicate())[0] or b"{}")
        while await relay.pending():  # noqa: ASYNC110 (polling the database, not an in-process condition)
            await asyncio.sleep(0.1)
        task.cancel()
        async with db.transaction() as session:
            lags = (
                (
                    await session.execute(
                        select(
                            func.extract("epoch", tables.outbox.c.published_at - tables.outbox.c.created_at)
                        )
                    )
                )
                .scalars()
                .all()
            )
        lag_p99 = percentile([float(x) for x in lags], 99)
        # Baselines: raw nats-py JetStream publishes, one at a time and 256 in flight.
        n = int(ctx.scale(1000, 20_000))
        started = time.perf_counter()
        for i in range(n):
            await bus.js.publish(f"{name}.raw.serial", b"x" * 120, headers={"Nats-Msg-Id": f"s{i}"})
        serial = n / (time.perf_counter() - started)
        semaphore = asyncio.Semaphore(256)

        async def publish(i: int) -> None:
            async with semaphore:
                await bus.js.publish(f"{name}.raw.async", b"x" * 120, headers={"Nats-Msg-Id": f"a{i}"})

        started = time.perf_counter()
        await asyncio.gather(*(publish(i) for i in range(n)))
        concurrent = n / (time.perf_counter() - started)
    finally:
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()
        await db.close()
    ctx.add(
        Figure(
            "outbox relay",
            "drain rate (commit order, acked)",
            drain_rate,
            "events/s",
            serial,
            "raw serial js.publish",
            "≥ 2,000/s",
            note=f"raw with 256 in flight: {concurrent:,.0f}/s",
        ),
        Figure(
            "outbox relay",
            f"relay lag p99 at {produced.get('rate', 0):,.0f} events/s (the producer's most, of {rate:,.0f} offered)",
            ms(lag_p99),
            "ms",
            target="≤ 250 ms at 1,000/s",
            note=f"one event per transaction, committed through Outbox.add by a producer in its own process "
            f"(it shares this machine's cores with PostgreSQL and the relay); of the offered commits "
            f"{produced.get('errors', '?')} failed and {produced.get('shed', '?')} were shed (2,000 in flight)",
        ),
    )


# -- 8. payment notifications -------------------------------------------------------------------------------
async def bench_payment_notifications(ctx: Context) -> None:
    """A burst of duplicated, shuffled sandbox callbacks (each payment notified under two notification ids,
    each sent several times, all concurrently) through the gateway: throughput, latency and an exactly-once
    check (one paid payment, one `paid` ledger entry and one `paid` stage per order). Baseline: the
    deduplication's floor, a raw asyncpg INSERT … ON CONFLICT DO NOTHING claim at the same concurrency."""
    orders = int(ctx.scale(10, 100))
    copies = 5  # per notification id; two ids per payment → 10 callbacks per payment
    concurrency = 64
    token = await login(ctx.stack.base_url)
    provider = SandboxProvider(sandbox_key(ctx.settings.secret_key), ctx.stack.base_url)
    async with httpx.AsyncClient(
        base_url=ctx.stack.base_url, limits=httpx.Limits(max_connections=concurrency), timeout=30
    ) as client:
        auth = {"authorization": f"Bearer {token}"}
        products = (await client.get("/api/v1/products", params={"category": "consultation"})).json()["items"]
        product = next(p for p in products if len(p["tiers"]) == 1)
        payments: list[tuple[str, str, int]] = []  # (order id, payment id, amount)
        for _ in range(orders):
            order = await client.post(
                "/api/v1/orders",
                headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
                json={"product_id": product["id"], "tier": product["tiers"][0]["id"], "requirements": {}},
            )
            order.raise_for_status()
            payment = await client.post(
                f"/api/v1/orders/{order.json()['id']}/payments",
                headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
                json={"method": "sandbox"},
            )
            payment.raise_for_status()
            payments.append(
                (order.json()["id"], payment.json()["payment_id"], order.json()["amount"]["amount"])
            )
        paid_at = datetime.now(UTC).isoformat()
        callbacks: list[bytes] = []
        for _, payment_id, amount in payments:
            for n in range(2):
                body = notification_body(
                    f"bench-{payment_id}-{n}",
                    payment_id,
                    f"SBX{payment_id[:12]}",
                    amount,
                    "CNY",
                    "SUCCESS",
                    paid_at,
                )
                callbacks.extend([body] * copies)
        random.shuffle(callbacks)
        latencies: list[float] = []
        failures = 0
        semaphore = asyncio.Semaphore(concurrency)

        async def deliver(body: bytes) -> None:
            nonlocal failures
            async with semaphore:
                begun = time.perf_counter()
                response = await client.post(
                    "/api/v1/payments/notify/sandbox",
                    content=body,
                    headers={SIGNATURE_HEADER: provider.sign(body), "content-type": "application/json"},
                )
                latencies.append(time.perf_counter() - begun)
                if response.status_code != 200:
                    failures += 1
                    if failures == 1:
                        print(f"  first refused callback: {response.status_code} {response.text}", flush=True)

        started = time.perf_counter()
        await asyncio.gather(*(deliver(body) for body in callbacks))
        throughput = len(callbacks) / (time.perf_counter() - started)
    order_ids = [order_id for order_id, _, _ in payments]
    payment_ids = [payment_id for _, payment_id, _ in payments]
    conn = await asyncpg.connect(
        asyncpg_dsn(ctx.settings.database_url, ctx.settings.database_name("payment"))
    )
    try:
        paid_payments = await conn.fetchval(
            "SELECT count(*) FROM payments WHERE id = ANY($1) AND status = 'paid'", payment_ids
        )
        paid_entries = await conn.fetchval(
            "SELECT count(*) FROM ledger_entries WHERE event = 'paid' AND order_id = ANY($1)", order_ids
        )
        paid_stages = await conn.fetchval(
            "SELECT count(*) FROM order_stages WHERE stage = 'paid' AND order_id = ANY($1)", order_ids
        )
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        asyncpg_dsn(ctx.settings.database_url, ctx.settings.database_name("payment")), min_size=8, max_size=8
    )
    assert pool is not None
    # Baseline: the claim alone, in a scratch table, the same callbacks at the same concurrency.
    table = f"bench_claims_{uuid.uuid4().hex[:8]}"
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"CREATE TABLE {table} (provider text, id text, PRIMARY KEY (provider, id))")
        raw_semaphore = asyncio.Semaphore(concurrency)

        async def claim(body: bytes) -> None:
            async with raw_semaphore, pool.acquire() as conn:
                await conn.execute(
                    f"INSERT INTO {table} VALUES ('sandbox', $1) ON CONFLICT DO NOTHING",
                    json.loads(body)["notify_id"],
                )

        started = time.perf_counter()
        await asyncio.gather(*(claim(body) for body in callbacks))
        raw_rate = len(callbacks) / (time.perf_counter() - started)
        async with pool.acquire() as conn:
            await conn.execute(f"DROP TABLE {table}")
    finally:
        await pool.close()
    exactly_once = paid_payments == paid_entries == paid_stages == orders
    ctx.add(
        Figure(
            "payment notifications",
            f"duplicated callback burst ({len(callbacks)} callbacks, {orders} payments, {concurrency} in flight)",
            throughput,
            "callbacks/s",
            raw_rate,
            "raw asyncpg claim (INSERT … ON CONFLICT)",
            note=f"p50 {ms(percentile(latencies, 50)):.0f} ms, p99 {ms(percentile(latencies, 99)):.0f} ms; "
            f"{failures} non-200",
        ),
        Figure(
            "payment notifications",
            "exactly once: paid payments / paid ledger entries / paid stages per order",
            1.0 if exactly_once else 0.0,
            "ok" if exactly_once else "VIOLATED",
            target="1 each",
            note=f"{paid_payments} / {paid_entries} / {paid_stages} for {orders} orders",
        ),
    )


def _version_of(binary: str) -> str:
    return subprocess.run([find_binary(binary), "--version"], capture_output=True, text=True).stdout.strip()


async def environment(ctx: Context) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(ctx.postgres.url))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return {
        "cpus": os.cpu_count(),
        "machine": host.machine(),
        "python": host.python_version(),
        "grpcio": version("grpcio"),
        "temporalio": version("temporalio"),
        "postgresql": pg_version,
        "nats": await asyncio.to_thread(_version_of, "nats-server"),
        "temporal": await asyncio.to_thread(_version_of, "temporal"),
        "quick": ctx.quick,
    }


def write_results(ctx: Context, env: dict[str, Any], results: Path = RESULTS) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    stem = f"{datetime.now(UTC):%Y-%m-%d}-{commit or 'nocommit'}{'-quick' if ctx.quick else ''}"
    rows = [
        "| benchmark | metric | value | baseline | ratio | target | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in ctx.figures:
        value = "n/a" if f.value is None else f"{f.value:,.3f} {f.unit}"
        baseline = "" if f.baseline is None else f"{f.baseline:,.3f} ({f.baseline_name})"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}×"
        rows.append(
            f"| {f.benchmark} | {f.metric} | {value} | {baseline} | {ratio} | {f.target} | {f.note} |"
        )
    env_lines = [f"- {k}: {v}" for k, v in env.items()]
    (results / f"{stem}.md").write_text(
        "# Benchmark results\n\n" + "\n".join(env_lines) + "\n\n" + "\n".join(rows) + "\n"
    )
    (results / f"{stem}.json").write_text(
        json.dumps(
            {"environment": env, "figures": [asdict(f) | {"ratio": f.ratio} for f in ctx.figures]},
            indent=2,
            ensure_ascii=False,
        )
    )
    return results / f"{stem}.md"


def start_worker(address: str, log_path: Path, metrics_port: int, timeout: float = 60.0) -> psutil.Popen:
    """bench/worker.py in its own process, once it polls, with the SDK's Prometheus metrics on
    `metrics_port`. Its cache holds BENCH_WORKER_CACHE workflows (the open-workflows figure is memory per
    *cached* workflow); the rest of its tuning is the platform's.

    Both its output streams go to `log_path`: the SDK's core writes its own warnings to stdout, and a pipe
    nobody reads fills after 64 KiB and blocks the core's thread on the write — the worker then stops
    polling for good (the stall of the first 100,000-workflow runs)."""
    env = {
        **os.environ,
        "COUNSEL_TEMPORAL_MAX_CACHED_WORKFLOWS": str(BENCH_WORKER_CACHE),
        "COUNSEL_TEMPORAL_METRICS_PORT": str(metrics_port),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        process = psutil.Popen(
            [sys.executable, "-m", "bench.worker", address, BENCH_QUEUE],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"polling\n" in log_path.read_bytes():
            return process
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the benchmark worker did not start:\n{log_path.read_text(errors='replace')[-2000:]}")


# What each benchmark needs beyond PostgreSQL and NATS (always started: about a second each).
NEEDS: dict[str, set[str]] = {
    "gateway": set(),
    "catalog": {"stack"},
    "consultation": {"stack", "worker"},
    "starts": {"stack", "worker"},
    "open": {"worker"},
    "timers": {"worker"},
    "outbox": set(),
    "payment": {"stack"},
}


async def run_all(
    quick: bool, only: list[str], results: Path = RESULTS, open_workflows: int | None = None
) -> Path:
    selected = [key for key in NEEDS if not only or key in only]
    needs = set().union(*(NEEDS[key] for key in selected))
    tmp = Path(tempfile.mkdtemp(prefix="counsel-bench-"))
    postgres = PostgresServer(tmp / "postgres", free_port())
    nats_server = NatsServer(tmp / "nats", free_port())
    servers: list[PostgresServer | NatsServer | TemporalDevServer] = [postgres, nats_server]
    if needs:  # the platform and the worker both run on Temporal
        servers.append(TemporalDevServer(tmp / "temporal", free_port()))
    ctx = Context(quick, tmp, postgres, nats_server, open_workflows=open_workflows)
    temporal: Client | None = None
    try:
        for server in servers:
            server.start()
        if needs:
            ctx.temporal_server = cast(TemporalDevServer, servers[-1])
            temporal = await Client.connect(ctx.temporal.address, data_converter=pydantic_data_converter)
        if "stack" in needs:
            name = f"bench{uuid.uuid4().hex[:6]}"
            env, gateway_port = stack_env(
                name=name,
                data_dir=tmp / "stack",
                database_url=postgres.url,
                nats_url=nats_server.url,
                temporal_address=ctx.temporal.address,
                secret_key=secrets.token_urlsafe(48),
            )
            (tmp / "stack").mkdir()
            env["COUNSEL_LOG_LEVEL"] = "WARNING"  # the access log of every request would dominate the CPU
            # The load comes from one address and a few tokens: the rate limits stay on (their cost is part
            # of the gateway's) but are set far above what the benchmarks offer.
            env["COUNSEL_GATEWAY_RATE_PER_IP"] = env["COUNSEL_GATEWAY_RATE_PER_TOKEN"] = "1000000"
            env["COUNSEL_GATEWAY_BURST_PER_IP"] = env["COUNSEL_GATEWAY_BURST_PER_TOKEN"] = "1000000"
            ctx.stack_process = StackProcess(
                f"http://127.0.0.1:{gateway_port}", env, tmp / "stack", tmp / "counsel-up.log"
            )
            ctx.stack_process.start()
            ctx.stack_settings = load_settings(
                **{
                    k.removeprefix("COUNSEL_").lower(): v
                    for k, v in env.items()
                    if k.startswith("COUNSEL_") and k not in ("COUNSEL_METRICS_PORT",)
                }
            )
        if "worker" in needs:
            metrics_port = free_port()
            ctx.worker_process = start_worker(ctx.temporal.address, tmp / "worker.log", metrics_port)
            ctx.worker_metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

        def with_temporal(
            bench: Callable[[Context, Client], Awaitable[None]],
        ) -> Callable[[], Awaitable[None]]:
            def call() -> Awaitable[None]:
                assert temporal is not None
                return bench(ctx, temporal)

            return call

        benchmarks: dict[str, Callable[[], Awaitable[None]]] = {
            "gateway": lambda: bench_gateway_overhead(ctx),
            "catalog": lambda: bench_catalog_read(ctx),
            "consultation": with_temporal(bench_consultation_latency),
            "starts": with_temporal(bench_workflow_starts),
            "open": with_temporal(bench_open_workflows),
            "timers": with_temporal(bench_timer_burst),
            "outbox": lambda: bench_outbox_relay(ctx),
            "payment": lambda: bench_payment_notifications(ctx),
        }
        for key in selected:
            print(f"\n== {key}", flush=True)
            try:
                await benchmarks[key]()
            except Exception as exc:  # a benchmark reports, it never stops the others
                traceback.print_exc()
                if ctx.stack_process is not None:
                    print(f"platform log (tail):\n{ctx.stack_process.log_tail(40)}", flush=True)
                ctx.add(Figure(key, "failed", None, "", note=f"{type(exc).__name__}: {exc}"))
        return write_results(ctx, await environment(ctx), results)
    finally:
        if ctx.worker_process is not None:
            ctx.worker_process.terminate()
            with contextlib.suppress(psutil.Error):
                ctx.worker_process.wait(15)
        if ctx.stack_process is not None and ctx.stack_process.running():
            ctx.stack_process.stop()
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def _run_until_terminated(
    quick: bool, only: list[str], results: Path, open_workflows: int | None
) -> Path:
    # SIGTERM cancels the run, so its `finally` stops every server and process it started.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_all(quick, only, results, open_workflows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds per benchmark (smoke test)")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="run only these: gateway catalog consultation starts open timers outbox payment",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where to write the .md and .json (bench/results)"
    )
    parser.add_argument(
        "--open-workflows", type=int, help="N of the open-workflows benchmark (default 10000), e.g. 100000"
    )
    args = parser.parse_args()
    path = asyncio.run(_run_until_terminated(args.quick, args.only, args.results_dir, args.open_workflows))
    print(f"\nresults: {path}")
    print(path.read_text())


if __name__ == "__main__":
    main()
