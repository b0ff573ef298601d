"""What every benchmark shares with the harness (bench/run.py): the run's `Context` (servers, platform,
worker, scale) and the `Figure`s it reports, and the measuring helpers more than one benchmark uses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.http import LoadClient
from deploy.local.launcher import StackProcess
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer
from services.runtime.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# One worker serves every benchmark workflow (bench/worker.py, a process of its own): the dev server limits
# concurrent pollers per namespace, and workers opened and closed per benchmark leave long polls behind.
BENCH_QUEUE = "bench"
BENCH_WORKER_CACHE = 25_000


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


async def login(base_url: str, identifier: str = "client@demo.counsel.test") -> str:
    """The access token of a demo account (the demo client unless `identifier` names another)."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/api/v1/auth/login",
            json={"method": "password", "identifier": identifier, "secret": "Demo-Passw0rd!"},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


async def consultation_orders(client: httpx.AsyncClient, token: str, count: int) -> list[dict[str, Any]]:
    """`count` new orders (awaiting payment) of a one-tier consultation product, by `token`'s client."""
    auth = {"authorization": f"Bearer {token}"}
    products = (await client.get("/api/v1/products", params={"category": "consultation"})).json()["items"]
    product = next(p for p in products if len(p["tiers"]) == 1)
    orders = []
    for _ in range(count):
        order = await client.post(
            "/api/v1/orders",
            headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
            json={"product_id": product["id"], "tier": product["tiers"][0]["id"], "requirements": {}},
        )
        order.raise_for_status()
        orders.append(order.json())
    return orders


def ms(seconds: float) -> float:
    return seconds * 1000.0


def getter(client: LoadClient, path: str) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await client.get(path)  # raises for 4xx/5xx

    return call


def ctx_rates(ctx: Context, rates: list[float]) -> list[float]:
    return rates[:3] if ctx.quick else rates


async def results_of(handles: list[Any], concurrency: int = 20) -> list[Any]:
    """Every workflow's result, with at most `concurrency` waits at a time: each wait is a long poll, and
    the dev server caps concurrent pollers per namespace."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(handle: Any) -> Any:
        async with semaphore:
            return await handle.result()

    return await asyncio.gather(*(one(h) for h in handles))


def process_tree(server: TemporalDevServer) -> list[psutil.Process]:
    """The dev server's processes (the CLI may run the server as a child)."""
    if server.pid is None:
        return []
    parent = psutil.Process(server.pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)
