"""1. Gateway overhead: the gateway app against a bare FastAPI echo, each in its own process (bench/apps.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time

import jwt
import psutil
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.harness import (
    ROOT,
    Context,
    Figure,
    cpu_seconds,
    ctx_rates,
    getter,
    ms,
)
from bench.http import HttpStatusError, LoadClient
from bench.loadgen import max_sustained, open_loop
from deploy.local.servers import free_port


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
                calls[kind] = getter(client, path)
            # CPU per request is measured in alternating rounds, so a slower spell of this shared machine
            # falls on both apps rather than on whichever ran during it.
            fixed_rate = ctx.scale(100, 300)
            cpu = dict.fromkeys(targets, 0.0)
            completed = dict.fromkeys(targets, 0)
            latencies: dict[str, list[float]] = {kind: [] for kind in targets}
            for _ in range(int(ctx.scale(1, 3))):
                for kind in targets:
                    server = [psutil.Process(processes[kind].pid)]
                    cpu_before = cpu_seconds(server)
                    run = await open_loop(calls[kind], fixed_rate, ctx.scale(3, 5))
                    cpu[kind] += cpu_seconds(server) - cpu_before
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
