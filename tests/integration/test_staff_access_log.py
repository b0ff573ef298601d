"""Staff reads of a client's case material are written to the owning service's append-only, hash-chained
access log; a client's own reads are not; the client sees who read their case; signed anchors of the head
make a rewritten tail detectable, and `counsel audit verify` names the first broken record (issue 20,
R-PRIV-1). Against real PostgreSQL with the consultation service's migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deploy.audit import audited_services, verify_all
from deploy.local.servers import NatsServer, PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, STAFF_READS, TABLES
from services.consultation.store import ConsultationStores
from services.runtime.access_log import anchor_and_publish, verify
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.events import EventBus, Outbox, OutboxRelay
from services.runtime.keys import DataKeys, master_key
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
COLLEAGUE = Principal("client-admin-1", "tenant-1", frozenset({"client_admin"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
SECRET = "access-log-test-secret-key-0123456789"


@pytest.fixture
def settings(postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str) -> Settings:
    return isolated_settings(postgres_server, nats_server, name=unique_name, secret_key=SECRET)


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[EventBus]:
    """The event stream the anchors are published to (and `counsel audit verify` reads them from)."""
    bus = await EventBus.connect(settings, name="audit-test")
    yield bus
    await bus.js.delete_stream(settings.nats_stream)
    await bus.close()


@pytest.fixture
async def stores(settings: Settings) -> AsyncIterator[ConsultationStores]:
    async with migrated_databases(settings, *audited_services()) as databases:
        db = databases["consultation"]
        keys = DataKeys(db, master_key(settings), DATA_KEYS)
        yield ConsultationStores.build(db, Outbox("consultation", settings, TABLES), keys)


async def read_by_client_and_staff(stores: ConsultationStores) -> str:
    new = NewConsultation("general", "工资", "公司拖欠工资怎么办？", "")
    consultation_id = (await stores.consultations.create(CLIENT, new, "")).view.row.id
    for principal in (CLIENT, COLLEAGUE, AGENT, SUPERVISOR, CLIENT):
        await stores.consultations.get(principal, consultation_id)
    return consultation_id


async def test_staff_reads_are_logged_for_the_client_and_their_own_reads_are_not(
    stores: ConsultationStores,
) -> None:
    consultation_id = await read_by_client_and_staff(stores)
    async with stores.consultations.db.transaction() as session:
        seen = await STAFF_READS.of_owner(session, CLIENT.user_id, limit=10)
        report = await verify(session, STAFF_READS.tables, SECRET)
    assert [(r.actor_id, list(r.actor_roles)) for r in seen] == [
        ("supervisor-1", ["supervisor"]),
        ("agent-1", ["agent"]),
    ]
    assert {(r.service, r.resource, r.resource_id, r.case_id) for r in seen} == {
        ("consultation", "consultation", consultation_id, consultation_id)
    }
    assert report.intact and report.records == 2


async def test_the_log_refuses_changes_and_an_altered_record_is_named(
    stores: ConsultationStores, settings: Settings, bus: EventBus, capsys: pytest.CaptureFixture[str]
) -> None:
    await read_by_client_and_staff(stores)
    db = stores.consultations.db
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM staff_access_log"))
    assert await verify_all(settings) == 0
    assert capsys.readouterr().out.splitlines() == [
        "consultation: staff access log intact: 2 records, 0 anchors, 0 published",
        "documents: staff access log intact: 0 records, 0 anchors, 0 published",
        "booking: staff access log intact: 0 records, 0 anchors, 0 published",
        "payment: staff access log intact: 0 records, 0 anchors, 0 published",
    ]

    # Someone with the owner's rights switches the guard off and rewrites who read the case.
    async with db.transaction() as session:
        await session.execute(
            text("ALTER TABLE staff_access_log DISABLE TRIGGER staff_access_log_append_only")
        )
        await session.execute(text("UPDATE staff_access_log SET actor_id = 'nobody' WHERE seq = 1"))
    assert await verify_all(settings) == 1
    assert "consultation: staff access log BROKEN: record 1 was altered" in capsys.readouterr().out


async def test_a_rewritten_tail_no_longer_matches_its_signed_anchor(stores: ConsultationStores) -> None:
    await read_by_client_and_staff(stores)
    db = stores.consultations.db
    async with db.transaction() as session:
        anchor = await STAFF_READS.anchor(session, SECRET)
        assert anchor is not None and anchor.head_seq == 2
        assert await STAFF_READS.anchor(session, SECRET) is None  # the head is anchored already
    async with db.transaction() as session:
        assert (await verify(session, STAFF_READS.tables, SECRET)).anchors == 1
        # Dropping the last record leaves a chain that is consistent in itself: only the anchor tells.
        await session.execute(
            text("ALTER TABLE staff_access_log DISABLE TRIGGER staff_access_log_append_only")
        )
        await session.execute(text("DELETE FROM staff_access_log WHERE seq = 2"))
        report = await verify(session, STAFF_READS.tables, SECRET)
    assert report.problem == "record 2 no longer matches its signed anchor (tail rewritten)"
    async with db.transaction() as session:
        forged = await verify(session, STAFF_READS.tables, "another-secret-key-0123456789abcdef")
    assert forged.problem.startswith("anchor of record 2: bad signature")


async def anchored_and_published(stores: ConsultationStores, settings: Settings, bus: EventBus) -> None:
    """The head anchored and its anchor published, as `keep_anchoring` and the outbox relay do."""
    db, outbox = stores.consultations.db, Outbox("consultation", settings, TABLES)
    await anchor_and_publish(db, outbox, STAFF_READS, SECRET)
    await OutboxRelay(db, outbox, bus).relay_once()  # with the consultation's own events


def consultation_line(capsys: pytest.CaptureFixture[str]) -> str:
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("consultation:"))


async def tampered(stores: ConsultationStores, *statements: str) -> None:
    """Someone with the owner's rights switches the guards off and runs `statements`."""
    async with stores.consultations.db.transaction() as session:
        for table in ("staff_access_log", "staff_access_anchors"):
            await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        for statement in statements:
            await session.execute(text(statement))


async def test_an_anchor_row_deleted_or_altered_is_caught_by_the_published_anchors(
    stores: ConsultationStores, settings: Settings, bus: EventBus, capsys: pytest.CaptureFixture[str]
) -> None:
    await read_by_client_and_staff(stores)
    await anchored_and_published(stores, settings, bus)
    assert await verify_all(settings) == 0
    assert (
        consultation_line(capsys)
        == "consultation: staff access log intact: 2 records, 1 anchors, 1 published"
    )

    # The anchor row goes: the chain and the table agree with each other, the published copy does not.
    async with stores.consultations.db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM staff_access_anchors"))).one()
    await tampered(stores, "DELETE FROM staff_access_anchors")
    assert await verify_all(settings) == 1
    assert consultation_line(capsys) == (
        "consultation: staff access log BROKEN: "
        "anchor of record 2 was published but is missing from the database (deleted)"
    )
    await tampered(
        stores,
        "INSERT INTO staff_access_anchors VALUES "
        f"({row.head_seq}, '{row.head_hash}', now(), 'secret-key/v0', '{row.signature}')",
    )
    assert await verify_all(settings) == 1
    assert consultation_line(capsys) == (
        "consultation: staff access log BROKEN: anchor of record 2 differs from the one published (altered)"
    )


async def test_a_tail_rewritten_with_its_anchor_rows_is_caught_by_the_published_anchors(
    stores: ConsultationStores, settings: Settings, bus: EventBus, capsys: pytest.CaptureFixture[str]
) -> None:
    await read_by_client_and_staff(stores)
    await anchored_and_published(stores, settings, bus)
    # Records 2 and its anchor row removed: what is left is consistent in itself, and with the table.
    await tampered(stores, "DELETE FROM staff_access_anchors", "DELETE FROM staff_access_log WHERE seq = 2")
    async with stores.consultations.db.transaction() as session:
        assert (await verify(session, STAFF_READS.tables, SECRET)).intact
    assert await verify_all(settings) == 1
    assert consultation_line(capsys) == (
        "consultation: staff access log BROKEN: "
        "record 2 was anchored and published, but the chain ends at record 1 (tail rewritten)"
    )


async def test_concurrent_staff_reads_are_appended_in_groups_without_a_gap(
    stores: ConsultationStores,
) -> None:
    """The reads of one process append in groups (one lock, one commit per group); the chain stays gapless
    and intact, and each read returns only once its record is committed."""
    consultation_id = await read_by_client_and_staff(stores)
    readers = [Principal(f"agent-{n}", "", frozenset({"agent"})) for n in range(24)]

    async def read_and_find_its_record(reader: Principal) -> bool:
        await stores.consultations.get(reader, consultation_id)
        async with stores.consultations.db.engine.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM staff_access_log WHERE actor_id = :actor"), {"actor": reader.user_id}
            )
            return found.first() is not None

    assert all(await asyncio.gather(*(read_and_find_its_record(reader) for reader in readers)))
    async with stores.consultations.db.transaction() as session:
        report = await verify(session, STAFF_READS.tables, SECRET)
    assert report.intact and report.records == 2 + len(readers)
