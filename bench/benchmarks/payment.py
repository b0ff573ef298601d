"""8. Payment notifications: a burst of duplicated, shuffled sandbox callbacks through the gateway."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from bench.harness import (
    Context,
    Figure,
    consultation_orders,
    login,
    ms,
)
from bench.loadgen import percentile
from services.payment.providers.sandbox import (
    SIGNATURE_HEADER,
    SandboxProvider,
    notification_body,
    sandbox_key,
)
from services.runtime.db import asyncpg_dsn


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
        payments: list[tuple[str, str, int]] = []  # (order id, payment id, amount)
        for order in await consultation_orders(client, token, orders):
            payment = await client.post(
                f"/api/v1/orders/{order['id']}/payments",
                headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
                json={"method": "sandbox"},
            )
            payment.raise_for_status()
            payments.append((order["id"], payment.json()["payment_id"], order["amount"]["amount"]))
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
