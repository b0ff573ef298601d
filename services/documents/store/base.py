"""The base every documents store shares (R-DOC-1..6): the document order row, which every change locks
first (checking the caller may see it), its stage records, its events and its view, and its completion,
which both the client's acceptance and the workflow's closed window reach."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import (
    DocumentBreachRow,
    DocumentOrderRow,
    DocumentStageRow,
    DocumentVersionRow,
)
from services.documents.store.sealed import opened_order, opened_version, order_subject
from services.runtime.context import Principal
from services.runtime.db import get_or_404
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.metrics import count_deadline
from services.runtime.records import new_id, utcnow


@dataclass
class OrderView:
    """A document order with its stages, versions and breaches, oldest first."""

    row: DocumentOrderRow
    stages: list[DocumentStageRow]
    versions: list[DocumentVersionRow]
    breaches: list[DocumentBreachRow]


async def locked_order(
    session: AsyncSession, principal: Principal | None, document_order_id: str
) -> DocumentOrderRow:
    """The order, row-locked until the transaction ends; NotFound when there is none or the caller may not
    see it."""
    row = await get_or_404(session, DocumentOrderRow, document_order_id, "document order", for_update=True)
    domain.require_visible(principal, row.tenant_id, row.assigned_lawyer_id)
    return row


async def order_view(session: AsyncSession, document_order_id: str, keys: DataKeys) -> OrderView:
    """The order's view in plaintext: copies of its rows with their sealed fields opened (store/sealed.py)."""
    row = await get_or_404(session, DocumentOrderRow, document_order_id, "document order")
    stages = (
        await session.exec(
            select(DocumentStageRow)
            .where(DocumentStageRow.document_order_id == document_order_id)
            .order_by(col(DocumentStageRow.entered_at), col(DocumentStageRow.id))
        )
    ).all()
    versions = (
        await session.exec(
            select(DocumentVersionRow)
            .where(DocumentVersionRow.document_order_id == document_order_id)
            .order_by(col(DocumentVersionRow.number))
        )
    ).all()
    breaches = (
        await session.exec(
            select(DocumentBreachRow)
            .where(DocumentBreachRow.document_order_id == document_order_id)
            .order_by(col(DocumentBreachRow.recorded_at))
        )
    ).all()
    cipher = await keys.cipher(order_subject(row))
    return OrderView(
        await opened_order(keys, row),
        list(stages),
        [opened_version(cipher, version) for version in versions],
        list(breaches),
    )


def add_stage(
    session: AsyncSession,
    document_order_id: str,
    stage: str,
    actor: str,
    due_at: datetime | None,
    reason: str,
    key: str = "",
) -> None:
    """Record that the order entered `stage` (once per `key`; a fresh key unless given)."""
    session.add(
        DocumentStageRow(
            document_order_id=document_order_id,
            stage=stage,
            actor=actor,
            reason=reason,
            entered_at=utcnow(),
            due_at=due_at,
            idempotency_key=key or new_id(),
        )
    )


async def insert_stage(
    session: AsyncSession,
    document_order_id: str,
    stage: str,
    actor: str,
    due_at: datetime | None,
    reason: str,
    key: str,
) -> bool:
    """Record a stage once per `key`; False when it was already recorded (a workflow's retry)."""
    table = DocumentStageRow.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(
        pg_insert(table)
        .values(
            document_order_id=document_order_id,
            stage=stage,
            actor=actor,
            reason=reason,
            entered_at=utcnow(),
            due_at=due_at,
            idempotency_key=key,
        )
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    return inserted.first() is not None


async def publish(
    session: AsyncSession,
    outbox: Outbox,
    row: DocumentOrderRow,
    event_type: str,
    payload: Message,
    actor: str,
) -> None:
    """The order's event `event_type`, in the caller's transaction."""
    await outbox.add(
        session,
        event_type,
        payload,
        aggregate_id=row.id,
        tenant_id=row.tenant_id,
        actor_id=actor,
        lawyer_id=row.assigned_lawyer_id,
    )


async def complete(
    session: AsyncSession, outbox: Outbox, row: DocumentOrderRow, actor: str, reason: str, key: str = ""
) -> None:
    """Complete the locked order `row` in the caller's transaction with `docorder.completed`, naming its
    final approved version (which completes the paid order it fulfils)."""
    row.stage = domain.next_stage(row.stage, "completed")
    row.completed_reason = reason
    # The client's clock: accepted within the window, or the window ran out.
    count_deadline(session, "revision_window", row.complexity, kept=reason == "accepted")
    row.updated_at = utcnow()
    session.add(row)
    add_stage(session, row.id, "completed", actor, None, reason, key=key)
    final = await session.scalar(
        select(func.max(DocumentVersionRow.number)).where(
            DocumentVersionRow.document_order_id == row.id, DocumentVersionRow.status == "approved"
        )
    )
    await publish(
        session,
        outbox,
        row,
        "docorder.completed",
        events_pb2.DocOrderCompleted(
            document_order_id=row.id, order_id=row.order_id, final_version_number=int(final or 0)
        ),
        actor,
    )
    await session.flush()


async def breach_count(session: AsyncSession, document_order_id: str, kind: str) -> int:
    """How many breaches of `kind` the order's workflow has recorded."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(DocumentBreachRow)
            .where(DocumentBreachRow.document_order_id == document_order_id, DocumentBreachRow.kind == kind)
        )
        or 0
    )
