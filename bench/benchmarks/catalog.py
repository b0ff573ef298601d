"""2. Catalog read path: product reads through the platform, cached and every request a cache miss."""

from __future__ import annotations

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.harness import (
    Context,
    Figure,
    ctx_rates,
    getter,
    ms,
)
from bench.http import LoadClient
from bench.loadgen import closed_loop, max_sustained, open_loop
from deploy.local.stack import operator_tls
from services.runtime.db import asyncpg_dsn


async def bench_catalog_read(ctx: Context) -> None:
    product_path = "/api/v1/products/doc-contract-drafting"
    async with LoadClient(ctx.stack.base_url) as client:
        call = getter(client, product_path)
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
