"""Consultation's case material at rest (R-PRIV-1, docs/privacy.md), against real PostgreSQL with the
service's migrations: questions, messages, complaints and chat messages are stored sealed with the owner's
data key and read back in plaintext through the stores; rows written before sealing are sealed at start;
after a CHECKPOINT a marker phrase typed into a question, a follow-up, a complaint and a chat message is in
none of the cluster's files (data and WAL), while the subject — kept in clear — is, which shows the scan
sees what is written."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, TABLES
from services.consultation.store import ConsultationStores
from services.consultation.store.sealed import seal_clear_rows
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.db import Database, asyncpg_dsn
from services.runtime.events import Outbox
from services.runtime.keys import SEALED_PREFIX, DataKeys, master_key
from services.runtime.records import new_id, utcnow
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))


@dataclass(frozen=True)
class Sealed:
    db: Database
    keys: DataKeys
    stores: ConsultationStores


@pytest.fixture
async def sealed(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[Sealed]:
    settings: Settings = isolated_settings(
        postgres_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, "consultation") as databases:
        db = databases["consultation"]
        keys = DataKeys(db, master_key(settings), DATA_KEYS)
        yield Sealed(db, keys, ConsultationStores.build(db, Outbox("consultation", settings, TABLES), keys))


async def stored_texts(db: Database) -> list[str]:
    """Every value of a sealed column, as the database holds it."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT question FROM consultations UNION ALL SELECT body FROM consultation_messages "
                "UNION ALL SELECT body FROM consultation_complaints UNION ALL SELECT body FROM chat_messages"
            )
        )
        return [value for (value,) in rows]


async def test_case_material_is_stored_sealed_and_read_in_plaintext(
    sealed: Sealed, postgres_server: PostgresServer
) -> None:
    db, stores = sealed.db, sealed.stores
    marker = f"标记{secrets.token_hex(8)}"
    in_clear = f"subject-{secrets.token_hex(8)}"
    created = await stores.consultations.create(
        CLIENT, NewConsultation("general", in_clear, f"{marker} 的劳动合同问题", ""), ""
    )
    consultation_id = created.view.row.id
    assert created.view.row.question == f"{marker} 的劳动合同问题"
    followed = await stores.consultations.post_message(CLIENT, consultation_id, f"补充：{marker}")
    assert [m.body for m in followed.messages] == [f"补充：{marker}"]
    complaint = await stores.complaints.raise_complaint(
        CLIENT, "consultation", consultation_id, f"投诉 {marker}"
    )
    assert complaint.body == f"投诉 {marker}"
    posted = await stores.conversations.post(CLIENT, "", f"聊天 {marker}", "", False, None)
    assert posted.messages[0].body == f"聊天 {marker}"

    listed, _ = await stores.consultations.list(CLIENT, "", 10, "")
    assert [row.question for row in listed] == [f"{marker} 的劳动合同问题"]
    assert (await stores.consultations.get(CLIENT, consultation_id)).messages[0].body == f"补充：{marker}"
    (complaints, _) = await stores.complaints.list_complaints(CLIENT, "", 10, "")
    assert [c.body for c in complaints] == [f"投诉 {marker}"]
    page = await stores.conversations.messages(CLIENT, "", 0, 10)
    assert page.messages[0].body == f"聊天 {marker}"

    at_rest = await stored_texts(db)
    assert len(at_rest) >= 4 and all(value.startswith(SEALED_PREFIX) for value in at_rest)  # + bot notices

    admin = await asyncpg.connect(asyncpg_dsn(postgres_server.dsn("postgres")))
    try:
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()
    assert not files_holding(postgres_server.pgdata, marker.encode())
    assert files_holding(postgres_server.pgdata, in_clear.encode())  # the scan sees what is written


async def test_rows_written_before_sealing_are_sealed_at_start(sealed: Sealed) -> None:
    db, keys = sealed.db, sealed.keys
    consultation_id, now = new_id(), utcnow()
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO consultations (id, tenant_id, client_id, kind, status, subject, question, "
                "order_id, legal_field, assigned_lawyer_id, closed_reason, needs_manual_classification, "
                "classification_confidence, escalations, assignment_reason, rating, rating_comment, "
                "created_at, updated_at) VALUES (:id, 'tenant-1', 'client-1', 'general', 'submitted', "
                "'工资', '旧的问题', '', '', '', '', false, 0, 0, '', 0, '', :now, :now)"
            ),
            {"id": consultation_id, "now": now},
        )
        await conn.execute(
            text(
                "INSERT INTO consultation_messages (id, consultation_id, author_id, author_role, body, "
                "created_at) VALUES (:id, :consultation_id, 'client-1', 'client', '旧的补充', :now)"
            ),
            {"id": new_id(), "consultation_id": consultation_id, "now": now},
        )

    assert await seal_clear_rows(db, keys) == 2
    assert await seal_clear_rows(db, keys) == 0  # a second start finds nothing
    assert all(value.startswith(SEALED_PREFIX) for value in await stored_texts(db))
    view = await sealed.stores.consultations.get(CLIENT, consultation_id)
    assert (view.row.question, [m.body for m in view.messages]) == ("旧的问题", ["旧的补充"])


def files_holding(root: Path, needle: bytes) -> list[Path]:
    """The files under `root` whose bytes contain `needle`."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and needle in path.read_bytes():
                found.append(path)
        except OSError:  # a file PostgreSQL removed meanwhile (a recycled WAL segment, a temp file)
            continue
    return found
