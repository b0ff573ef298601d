"""The transactional outbox, its relay to JetStream and durable idempotent consumers, against real
PostgreSQL and NATS (ARCHITECTURE rule 2: nothing lost, nothing applied twice)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_trace_id
from sqlalchemy import MetaData, select, text, update

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from deploy.local.servers import NatsServer, PostgresServer
from services.runtime.config import Settings
from services.runtime.db import Database, ensure_database
from services.runtime.events import DurableConsumer, EventBus, NotYet, Outbox, OutboxRelay, unpack
from services.runtime.metrics import CONSUMER_EVENTS
from services.runtime.service import cancel_all
from services.runtime.tables import RuntimeTables, define_runtime_tables
from services.runtime.tracing import current_trace_ids
from tests.support.platform import isolated_settings


@pytest.fixture
def settings(postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str) -> Settings:
    return isolated_settings(postgres_server, nats_server, name=unique_name)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[tuple[Database, RuntimeTables]]:
    await ensure_database(settings.database_url, settings.database_name("probe"))
    database = Database(settings.database_dsn("probe"))
    metadata = MetaData()
    tables = define_runtime_tables(metadata)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database, tables
    await database.close()


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[EventBus]:
    event_bus = await EventBus.connect(settings, name="test")
    yield event_bus
    await event_bus.js.delete_stream(settings.nats_stream)
    await event_bus.close()


def submitted(consultation_id: str) -> events_pb2.ConsultationSubmitted:
    return events_pb2.ConsultationSubmitted(
        consultation_id=consultation_id, client_id="u1", kind="general", subject="s"
    )


async def stream_messages(bus: EventBus) -> int:
    return int((await bus.js.stream_info(bus.stream)).state.messages)


async def test_an_event_is_published_only_if_its_transaction_commits(settings, db, bus) -> None:
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    relay = OutboxRelay(database, outbox, bus)
    async with database.transaction() as session:
        await outbox.add(
            session, "consultation.submitted", submitted("c1"), aggregate_id="c1", tenant_id="t1"
        )
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await outbox.add(
                session, "consultation.submitted", submitted("c2"), aggregate_id="c2", tenant_id="t1"
            )
            raise RuntimeError("the business change failed")

    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0
    assert await relay.pending() == 0
    assert await stream_messages(bus) == 1

    subscription = await bus.js.pull_subscribe(f"{settings.subject_root}.>", stream=bus.stream)
    (message,) = await subscription.fetch(1, timeout=5)
    assert message.subject == f"{settings.subject_root}.consultation.consultation.submitted"
    envelope = EventEnvelope.FromString(message.data)
    assert message.headers is not None and message.headers["Nats-Msg-Id"] == envelope.id
    assert envelope.type == "consultation.submitted" and envelope.tenant_id == "t1"
    payload = unpack(envelope, events_pb2.ConsultationSubmitted)
    assert isinstance(payload, events_pb2.ConsultationSubmitted) and payload.consultation_id == "c1"


async def test_a_relay_that_crashed_after_publishing_does_not_duplicate_the_event(settings, db, bus) -> None:
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    relay = OutboxRelay(database, outbox, bus)
    async with database.transaction() as session:
        await outbox.add(session, "consultation.submitted", submitted("c1"), aggregate_id="c1")
    assert await relay.relay_once() == 1
    # Simulate a crash between JetStream's ack and marking the row: the row is published again.
    async with database.transaction() as session:
        await session.execute(update(tables.outbox).values(published_at=None))
    assert await relay.relay_once() == 1
    assert await stream_messages(bus) == 1  # deduplicated by Nats-Msg-Id


async def test_concurrent_relays_publish_each_event_once(settings, db, bus) -> None:
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    for i in range(50):
        async with database.transaction() as session:
            await outbox.add(session, "consultation.submitted", submitted(f"c{i}"), aggregate_id=f"c{i}")
    relays = [OutboxRelay(database, outbox, bus, batch=7) for _ in range(3)]

    async def drain(relay: OutboxRelay) -> int:
        moved = 0
        while (n := await relay.relay_once()) > 0:
            moved += n
        return moved

    moved = await asyncio.gather(*(drain(r) for r in relays))
    assert sum(moved) >= 50
    assert await stream_messages(bus) == 50


async def test_a_row_another_transaction_holds_is_passed_by_said_when_stale_and_published_once_freed(
    settings, db, bus, caplog
) -> None:
    """A relay's SKIP LOCKED read passes by rows a transaction still holds (e.g. a crashed relay's, until
    PostgreSQL sees its client gone): the relay logs once the oldest is stale, and publishes it when freed."""
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    relay = OutboxRelay(database, outbox, bus, stale_seconds=0.0)
    for i in range(2):
        async with database.transaction() as session:
            await outbox.add(session, "consultation.submitted", submitted(f"c{i}"), aggregate_id=f"c{i}")
    holder = await database.listen("unused", lambda: None)  # a bare connection of its own
    await holder.execute("BEGIN")
    await holder.execute("SELECT seq FROM outbox ORDER BY seq LIMIT 1 FOR UPDATE")

    assert await relay.relay_once() == 1
    assert await relay.pending() == 1
    with caplog.at_level(logging.WARNING, logger="services.runtime.events"):
        await relay.refresh_backlog_gauges()
    assert "outbox events of consultation unpublished for" in caplog.text

    holder.terminate()  # the holder's client dies without a word: PostgreSQL ends its transaction
    for _ in range(50):
        if await relay.relay_once():
            break
        await asyncio.sleep(0.1)
    assert await relay.pending() == 0
    assert await stream_messages(bus) == 2


async def test_a_transaction_left_idle_is_ended_by_postgresql(db) -> None:
    database, _ = db
    async with database.transaction() as session:
        shown = (await session.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one()
    assert shown == "2min"


async def test_a_consumer_applies_each_event_once_even_when_redelivered(settings, db, bus) -> None:
    database, tables = db
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (consultation_id text)"))
    seen: list[str] = []

    async def handler(envelope: EventEnvelope, session) -> None:
        payload = unpack(envelope, events_pb2.ConsultationSubmitted)
        await session.execute(text("INSERT INTO effects VALUES (:id)"), {"id": payload.consultation_id})
        seen.append(payload.consultation_id)

    consumer = DurableConsumer("probe-fanout", bus, database, tables, {"consultation.>": handler})
    outbox = Outbox("consultation", settings, tables)
    async with database.transaction() as session:
        envelope = await outbox.add(session, "consultation.submitted", submitted("c1"), aggregate_id="c1")
    data, subject = envelope.SerializeToString(), "consultation.consultation.submitted"

    assert await consumer.handle(data, subject) == "processed"
    assert await consumer.handle(data, subject) == "duplicate"  # a redelivery
    async with database.transaction() as session:
        rows = (await session.execute(text("SELECT consultation_id FROM effects"))).all()
    assert [r[0] for r in rows] == ["c1"]
    assert seen == ["c1"]


async def test_a_failing_handler_leaves_the_event_unprocessed_for_redelivery(settings, db, bus) -> None:
    database, tables = db
    attempts = 0

    async def flaky(envelope: EventEnvelope, session) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("a dependency was down")

    consumer = DurableConsumer("probe-flaky", bus, database, tables, {"consultation.>": flaky})
    data = EventEnvelope(id="e-1", type="consultation.submitted").SerializeToString()
    subject = "consultation.consultation.submitted"
    with pytest.raises(ConnectionError):
        await consumer.handle(data, subject)
    assert await consumer.handle(data, subject) == "processed"
    async with database.transaction() as session:
        processed = (await session.execute(select(tables.processed_events.c.event_id))).scalars().all()
    assert processed == ["e-1"]


async def test_the_running_consumer_receives_relayed_events(settings, db, bus) -> None:
    database, tables = db
    received: list[str] = []
    done = asyncio.Event()

    async def handler(envelope: EventEnvelope, session) -> None:
        received.append(envelope.aggregate_id)
        if len(received) == 3:
            done.set()

    outbox = Outbox("consultation", settings, tables)
    consumer = DurableConsumer("probe-live", bus, database, tables, {"consultation.>": handler})
    tasks = [
        asyncio.create_task(consumer.run()),
        asyncio.create_task(OutboxRelay(database, outbox, bus).run()),
    ]
    try:
        for i in range(3):
            async with database.transaction() as session:
                await outbox.add(session, "consultation.submitted", submitted(f"c{i}"), aggregate_id=f"c{i}")
        await asyncio.wait_for(done.wait(), timeout=20)
    finally:
        await cancel_all(tasks, "test")
    assert received == ["c0", "c1", "c2"]


async def test_an_early_event_is_redelivered_and_said_at_info_not_as_a_failure(
    settings, db, bus, caplog: pytest.LogCaptureFixture
) -> None:
    """An event consumed before what it acts on (NotYet: a follow-up before the submission started its
    workflow) is the normal race between consumers: it comes again and is applied, and the log says so at
    INFO, without a traceback, and the metrics count it deferred, not failed."""
    database, tables = db
    attempts: list[str] = []
    applied = asyncio.Event()

    async def early_once(envelope: EventEnvelope, session) -> None:
        attempts.append(envelope.aggregate_id)
        if len(attempts) == 1:
            raise NotYet("workflow consultation-c0 has not started yet")
        applied.set()

    outbox = Outbox("consultation", settings, tables)
    consumer = DurableConsumer("probe-early", bus, database, tables, {"consultation.>": early_once})
    tasks = [
        asyncio.create_task(consumer.run()),
        asyncio.create_task(OutboxRelay(database, outbox, bus).run()),
    ]
    caplog.set_level(logging.INFO, logger="services.runtime.events")
    try:
        async with database.transaction() as session:
            await outbox.add(session, "consultation.submitted", submitted("c0"), aggregate_id="c0")
        await asyncio.wait_for(applied.wait(), timeout=20)
    finally:
        await cancel_all(tasks, "test")
    assert attempts == ["c0", "c0"]
    (early,) = [r for r in caplog.records if "probe-early" in r.getMessage()]
    assert early.levelno == logging.INFO and early.exc_info is None
    assert "redelivers" in early.getMessage() and "has not started yet" in early.getMessage()
    assert CONSUMER_EVENTS.labels("probe-early", "deferred")._value.get() == 1
    assert CONSUMER_EVENTS.labels("probe-early", "failed")._value.get() == 0


async def test_pipelined_publishing_keeps_commit_order_in_the_stream(settings, db, bus) -> None:
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    for start in range(0, 300, 50):
        async with database.transaction() as session:
            for i in range(start, start + 50):
                await outbox.add(session, "consultation.submitted", submitted(f"c{i}"), aggregate_id=f"c{i}")
    relay = OutboxRelay(database, outbox, bus, batch=120, window=64)
    while await relay.relay_once():
        pass
    subscription = await bus.js.pull_subscribe(f"{settings.subject_root}.>", stream=bus.stream)
    seen: list[str] = []
    while len(seen) < 300:
        for message in await subscription.fetch(100, timeout=5):
            seen.append(EventEnvelope.FromString(message.data).aggregate_id)
            await message.ack()
    assert seen == [f"c{i}" for i in range(300)]


async def test_a_commit_wakes_a_relay_in_another_process_without_waiting_for_a_poll(
    settings, db, bus
) -> None:
    """The relay sleeps until PostgreSQL delivers the outbox's NOTIFY at commit: here it would poll only
    once an hour, and its Outbox object is not the producer's (as in another replica), yet the event goes
    out. A rolled-back transaction's event never does."""
    database, tables = db
    producer = Outbox("consultation", settings, tables)
    relay = OutboxRelay(database, Outbox("consultation", settings, tables), bus, poll_seconds=3600)
    subscription = await bus.js.pull_subscribe(f"{settings.subject_root}.>", stream=bus.stream)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), timeout=20)
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                await producer.add(session, "consultation.submitted", submitted("gone"), aggregate_id="gone")
                raise RuntimeError("rolled back")
        async with database.transaction() as session:
            await producer.add(session, "consultation.submitted", submitted("c1"), aggregate_id="c1")
            await producer.add(session, "consultation.submitted", submitted("c2"), aggregate_id="c2")
        messages = await subscription.fetch(2, timeout=20)
        while await relay.pending():  # noqa: ASYNC110 (the relay marks them after JetStream's ack)
            await asyncio.sleep(0.05)
    finally:
        await cancel_all([task], "test")
    assert [EventEnvelope.FromString(m.data).aggregate_id for m in messages] == ["c1", "c2"]
    assert await stream_messages(bus) == 2


async def test_the_consumer_continues_the_trace_of_the_change_that_committed_the_event(
    settings, db, bus
) -> None:
    database, tables = db
    outbox = Outbox("consultation", settings, tables)
    traced: list[tuple[str, str] | None] = []

    async def handler(envelope: EventEnvelope, session) -> None:
        traced.append(current_trace_ids())

    consumer = DurableConsumer("probe-traced", bus, database, tables, {"consultation.>": handler})
    with TracerProvider().get_tracer("test").start_as_current_span("submit") as committing:
        async with database.transaction() as session:
            await outbox.add(session, "consultation.submitted", submitted("c1"), aggregate_id="c1")
    assert await OutboxRelay(database, outbox, bus).relay_once() == 1
    subscription = await bus.js.pull_subscribe(f"{settings.subject_root}.>", stream=bus.stream)
    (message,) = await subscription.fetch(1, timeout=5)

    assert await consumer.handle(message.data, "consultation.consultation.submitted") == "processed"
    ((trace_id, _),) = [ids for ids in traced if ids is not None]
    assert trace_id == format_trace_id(committing.get_span_context().trace_id)
