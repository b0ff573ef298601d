"""Staff reads of a client's case material are written to the owning service's append-only, hash-chained
access log; a client's own reads are not; the client sees who read their case; signed anchors of the head
make a rewritten tail detectable, and `counsel audit verify` names the first broken record (issue 20,
R-PRIV-1). Against real PostgreSQL with the consultation service's migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deploy.audit import audited_services, verify_all
from deploy.local.servers import PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, STAFF_READS, TABLES
from services.consultation.store import ConsultationStores
from services.runtime.access_log import verify
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
COLLEAGUE = Principal("client-admin-1", "tenant-1", frozenset({"client_admin"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
SECRET = "access-log-test-secret-key-0123456789"


@pytest.fixture
def settings(postgres_server: PostgresServer, unique_name: str) -> Settings:
    return isolated_settings(postgres_server, name=unique_name, secret_key=SECRET)


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
    stores: ConsultationStores, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await read_by_client_and_staff(stores)
    db = stores.consultations.db
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM staff_access_log"))
    assert await verify_all(settings) == 0
    assert capsys.readouterr().out.splitlines() == [
        "consultation: staff access log intact: 2 records, 0 anchors",
        "documents: staff access log intact: 0 records, 0 anchors",
        "booking: staff access log intact: 0 records, 0 anchors",
        "payment: staff access log intact: 0 records, 0 anchors",
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
