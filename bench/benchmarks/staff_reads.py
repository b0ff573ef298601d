"""12. Staff reads of case material: an agent reading clients' orders (GET /api/v1/orders/{id}), each read
appending a record to payment's hash-chained staff access log before it is answered, under the advisory
lock that keeps the chain gapless (docs/privacy.md) — the appends of concurrent reads are written in
groups, one lock and one commit per group. Baseline: the client's own reads of the same orders, which
write nothing."""

from __future__ import annotations

import itertools

import asyncpg
import httpx

from bench.harness import Context, Figure, consultation_orders, login, ms
from bench.http import LoadClient
from bench.loadgen import closed_loop, open_loop
from services.runtime.db import asyncpg_dsn

CONCURRENCY = 32


async def bench_staff_reads(ctx: Context) -> None:
    orders = int(ctx.scale(20, 100))
    base_url = ctx.stack.base_url
    client_token = await login(base_url)
    agent_token = await login(base_url, "agent@demo.counsel.test")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        ids = [order["id"] for order in await consultation_orders(client, client_token, orders)]
    paths = itertools.cycle([f"/api/v1/orders/{order_id}" for order_id in ids])
    records_before = await log_records(ctx)
    async with (
        LoadClient(base_url, {"authorization": f"Bearer {agent_token}"}) as staff,
        LoadClient(base_url, {"authorization": f"Bearer {client_token}"}) as own,
    ):

        async def staff_read() -> None:
            await staff.get(next(paths))

        async def own_read() -> None:
            await own.get(next(paths))

        staff_rate = await closed_loop(staff_read, CONCURRENCY, ctx.scale(3, 10))
        own_rate = await closed_loop(own_read, CONCURRENCY, ctx.scale(3, 10))
        at_half = await open_loop(staff_read, max(10.0, staff_rate * 0.5), ctx.scale(3, 10))
    appended = await log_records(ctx) - records_before
    ctx.add(
        Figure(
            "staff reads",
            f"GET /orders/{{id}} by an agent, {CONCURRENCY} callers back to back (each read appends to the log)",
            staff_rate,
            "req/s",
            own_rate,
            "the client's own reads (no record)",
            note=f"{appended:,} records appended",
        ),
        Figure("staff reads", "p99 at 50 % of that rate", ms(at_half.p(99)), "ms"),
    )


async def log_records(ctx: Context) -> int:
    conn = await asyncpg.connect(
        asyncpg_dsn(ctx.settings.database_url, ctx.settings.database_name("payment"))
    )
    try:
        return int(await conn.fetchval("SELECT count(*) FROM staff_access_log"))
    finally:
        await conn.close()
