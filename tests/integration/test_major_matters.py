"""Major matters' store against real PostgreSQL with consultation's migrations (R-CON-4): escalating twice keeps
the first team and meeting; the reason and the conclusion are stored sealed with the client's data key and
read back in plaintext; every member's signature concludes it, with its stages and events; the client's
erasure redacts both texts while the team and signatures stay as the record of the service given."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text, update

from deploy.local.servers import PostgresServer
from services.consultation import major
from services.consultation.domain import NewConsultation
from services.consultation.erasure import erase_user
from services.consultation.models import DATA_KEYS, TABLES, ConsultationRow
from services.consultation.store import ConsultationStores
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT
from services.runtime.errors import Conflict
from services.runtime.events import Outbox
from services.runtime.keys import SEALED_PREFIX, DataKeys, master_key
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
LEAD = Principal("u-2", "", frozenset({"lawyer"}))
SECOND = Principal("u-9", "", frozenset({"lawyer"}))
TEAM = major.Team(("u-2", "u-9"), "lawyer-2")


@dataclass(frozen=True)
class Store:
    db: Database
    stores: ConsultationStores


@pytest.fixture
async def store(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[Store]:
    settings = isolated_settings(postgres_server, name=unique_name, secret_key=secrets.token_urlsafe(32))
    async with migrated_databases(settings, "consultation") as databases:
        db = databases["consultation"]
        keys = DataKeys(db, master_key(settings), DATA_KEYS)
        yield Store(db, ConsultationStores.build(db, Outbox("consultation", settings, TABLES), keys))


async def assigned_labour_consultation(store: Store) -> str:
    created = await store.stores.consultations.create(
        CLIENT, NewConsultation("general", "整体裁员", "两百人裁员方案", ""), ""
    )
    consultation_id = created.view.row.id
    async with store.db.transaction() as session:
        await session.execute(
            update(ConsultationRow)
            .where(ConsultationRow.id == consultation_id)  # type: ignore[arg-type]
            .values(status="assigned", legal_field="labour", assigned_lawyer_id="u-2")
        )
    return consultation_id


async def test_a_major_matter_is_formed_once_sealed_signed_and_erased(store: Store) -> None:
    matters = store.stores.major_matters
    consultation_id = await assigned_labour_consultation(store)
    marker = f"结论{secrets.token_hex(6)}"

    consultation, found = await matters.escalation_target(AGENT, consultation_id)
    assert found is None and consultation.legal_field == "labour"
    first = await matters.escalate(AGENT, consultation_id, TEAM, "booking-1", f"原因 {marker}")
    again = await matters.escalate(AGENT, consultation_id, major.Team(("u-2", "u-3"), "lawyer-2"), "b-2", "x")
    assert (again.team, again.booking_id, again.reason) == (["u-2", "u-9"], "booking-1", f"原因 {marker}")
    assert first.status == "team_formed"

    with pytest.raises(Conflict):
        await matters.sign_conclusion(LEAD, consultation_id)
    written = await matters.write_conclusion(LEAD, consultation_id, f"建议 {marker}")
    assert written.conclusion == f"建议 {marker}"
    await matters.sign_conclusion(LEAD, consultation_id)
    with pytest.raises(Conflict):
        await matters.write_conclusion(SECOND, consultation_id, "改写")
    concluded = await matters.sign_conclusion(SECOND, consultation_id)
    assert (
        concluded.status == "concluded" and concluded.signed_by == ["u-2", "u-9"] and concluded.concluded_at
    )

    view = await store.stores.consultations.get(CLIENT, consultation_id)
    assert view.major is not None and view.major.conclusion == f"建议 {marker}"
    assert [s.stage for s in view.stages if s.stage.startswith("major_")] == [
        "major_escalated",
        "major_concluded",
    ]
    async with store.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT reason, conclusion FROM consultation_major_matters"))).one()
        events = [
            subject
            for (subject,) in await conn.execute(
                select(TABLES.outbox.c.subject).order_by(TABLES.outbox.c.seq)
            )
        ]
    assert all(value.startswith(SEALED_PREFIX) and marker not in value for value in stored)
    assert [s.rsplit(".", 1)[1] for s in events if "major" in s] == ["major_escalated", "major_concluded"]

    async with store.db.transaction() as session:
        await erase_user(session, CLIENT.user_id)
    erased = await store.stores.consultations.get(CLIENT, consultation_id)
    assert erased.major is not None
    assert (erased.major.reason, erased.major.conclusion) == (ERASED_TEXT, ERASED_TEXT)
    assert erased.major.team == ["u-2", "u-9"] and erased.major.signed_by == ["u-2", "u-9"]
