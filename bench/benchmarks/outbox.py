"""7. Outbox relay: events committed through the outbox and relayed to JetStream, beside raw publishes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

from sqlalchemy import MetaData, func, select

from bench.harness import (
    ROOT,
    Context,
    Figure,
    ms,
)
from bench.loadgen import percentile
from counsel.consultation.v1 import events_pb2
from services.runtime.config import load_settings
from services.runtime.db import Database, ensure_database
from services.runtime.events import EventBus, Outbox, OutboxRelay
from services.runtime.tables import define_runtime_tables


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
