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
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import asyncpg
import psutil
from temporalio.client import Client

from bench.benchmarks import (
    catalog,
    classifier,
    consultation,
    firms,
    gateway,
    identity,
    open_sla,
    outbox,
    payment,
    portal,
    staff_reads,
    starts,
    timers,
)
from bench.harness import BENCH_QUEUE, BENCH_WORKER_CACHE, ROOT, Context, Figure
from deploy.local.ha import running_database_url
from deploy.local.launcher import StackProcess, stack_env
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer, find_binary, free_port
from services.runtime.config import Settings, load_settings
from services.runtime.db import asyncpg_dsn
from services.runtime.temporal import data_converter
from tests.support.otlp import OtlpReceiver

RESULTS = ROOT / "bench" / "results"


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
        # The platform's spans (services/runtime/tracing.py): recorded and exported when this names a collector.
        "traces": os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "off",
    }


def write_results(
    figures: list[Figure], quick: bool, env: dict[str, Any], results: Path = RESULTS, prefix: str = ""
) -> Path:
    """<results>/<prefix><date>-<commit>[-quick].{md,json}: the figures as a table and as JSON."""
    results.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    stem = f"{prefix}{datetime.now(UTC):%Y-%m-%d}-{commit or 'nocommit'}{'-quick' if quick else ''}"
    rows = [
        "| benchmark | metric | value | baseline | ratio | target | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
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
            {"environment": env, "figures": [asdict(f) | {"ratio": f.ratio} for f in figures]},
            indent=2,
            ensure_ascii=False,
        )
    )
    return results / f"{stem}.md"


def start_worker(
    address: str, log_path: Path, metrics_port: int, secret_key: str, timeout: float = 60.0
) -> psutil.Popen:
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
        "COUNSEL_SECRET_KEY": secret_key,
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
    "firms": {"stack"},
    "portal": {"stack"},
    "classifier": set(),
    "staff-reads": {"stack"},
    "identity": {"stack"},
}


async def run_all(
    quick: bool,
    only: list[str],
    results: Path = RESULTS,
    open_workflows: int | None = None,
    ha: bool = False,
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
    # One secret for the platform, the benchmark worker and the raw client: their payload codec keys (the
    # master key outside prod) agree, and the raw figures pay for the codec as the platform does.
    secret_key = secrets.token_urlsafe(48)
    temporal: Client | None = None
    try:
        for server in servers:
            server.start()
        if needs:
            ctx.temporal_server = cast(TemporalDevServer, servers[-1])
            temporal = await Client.connect(
                ctx.temporal.address,
                data_converter=data_converter(load_settings(env="test", secret_key=secret_key)),
            )
        if "stack" in needs:
            name = f"bench{uuid.uuid4().hex[:6]}"
            # --ha: the platform on its own replicated servers (`counsel up --ha`), not the run's single ones.
            env, gateway_port = stack_env(
                name=name,
                data_dir=tmp / "stack",
                database_url=None if ha else postgres.url,
                nats_url=None if ha else nats_server.url,
                temporal_address=ctx.temporal.address,
                secret_key=secret_key,
            )
            (tmp / "stack").mkdir()
            env["COUNSEL_LOG_LEVEL"] = "WARNING"  # the access log of every request would dominate the CPU
            # The load comes from one address and a few tokens: the rate limits stay on (their cost is part
            # of the gateway's) but are set far above what the benchmarks offer.
            env["COUNSEL_GATEWAY_RATE_PER_IP"] = env["COUNSEL_GATEWAY_RATE_PER_TOKEN"] = "1000000"
            env["COUNSEL_GATEWAY_BURST_PER_IP"] = env["COUNSEL_GATEWAY_BURST_PER_TOKEN"] = "1000000"
            env["COUNSEL_FIRM_RATE_PER_TOKEN"] = env["COUNSEL_FIRM_BURST_PER_TOKEN"] = "1000000"
            ctx.stack_process = StackProcess(
                f"http://127.0.0.1:{gateway_port}", env, tmp / "stack", tmp / "counsel-up.log", ha=ha
            )
            ctx.stack_process.start(timeout=300 if ha else 150)
            if ha:
                env["COUNSEL_DATABASE_URL"] = running_database_url(tmp / "stack")
            # The shared settings of the stack's environment (the benchmarks' own clients); what only one
            # process reads (the gateway's rate limits, the portal's port) stays with that process.
            shared = {
                k.removeprefix("COUNSEL_").lower(): v for k, v in env.items() if k.startswith("COUNSEL_")
            }
            ctx.stack_settings = load_settings(
                **{k: v for k, v in shared.items() if k in Settings.model_fields and k != "metrics_port"}
            )
        if "worker" in needs:
            metrics_port = free_port()
            ctx.worker_process = start_worker(
                ctx.temporal.address, tmp / "worker.log", metrics_port, secret_key
            )
            ctx.worker_metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"

        def with_temporal(
            bench: Callable[[Context, Client], Awaitable[None]],
        ) -> Callable[[], Awaitable[None]]:
            def call() -> Awaitable[None]:
                assert temporal is not None
                return bench(ctx, temporal)

            return call

        benchmarks: dict[str, Callable[[], Awaitable[None]]] = {
            "gateway": lambda: gateway.bench_gateway_overhead(ctx),
            "catalog": lambda: catalog.bench_catalog_read(ctx),
            "consultation": with_temporal(consultation.bench_consultation_latency),
            "starts": with_temporal(starts.bench_workflow_starts),
            "open": with_temporal(open_sla.bench_open_workflows),
            "timers": with_temporal(timers.bench_timer_burst),
            "outbox": lambda: outbox.bench_outbox_relay(ctx),
            "payment": lambda: payment.bench_payment_notifications(ctx),
            "firms": lambda: firms.bench_firm_endpoint(ctx),
            "portal": lambda: portal.bench_portal_render(ctx),
            "classifier": lambda: classifier.bench_classifier_latency(ctx),
            "staff-reads": lambda: staff_reads.bench_staff_reads(ctx),
            "identity": lambda: identity.bench_identity(ctx),
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
        env = await environment(ctx) | {"topology": "counsel up --ha" if ha else "single servers"}
        return write_results(ctx.figures, ctx.quick, env, results, prefix="ha-" if ha else "")
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
    quick: bool, only: list[str], results: Path, open_workflows: int | None, ha: bool
) -> Path:
    # SIGTERM cancels the run, so its `finally` stops every server and process it started.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_all(quick, only, results, open_workflows, ha)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds per benchmark (smoke test)")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        help="run only these: gateway catalog consultation starts open timers outbox payment firms portal "
        "classifier staff-reads identity",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where to write the .md and .json (bench/results)"
    )
    parser.add_argument(
        "--open-workflows", type=int, help="N of the open-workflows benchmark (default 10000), e.g. 100000"
    )
    parser.add_argument(
        "--ha",
        action="store_true",
        help="the platform on `counsel up --ha` (synchronous replication): what replication costs the benchmarks",
    )
    parser.add_argument(
        "--traces",
        action="store_true",
        help="every process records its spans and exports them to an OTLP receiver in this process: what "
        "tracing costs",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.traces:
            receiver = stack.enter_context(OtlpReceiver(keep=False))
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint  # inherited by every process
        path = asyncio.run(
            _run_until_terminated(args.quick, args.only, args.results_dir, args.open_workflows, args.ha)
        )
        if args.traces:
            print(f"spans exported: {receiver.received}")
    print(f"\nresults: {path}")
    print(path.read_text())


if __name__ == "__main__":
    main()
