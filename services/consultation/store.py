"""Consultation persistence: one transaction per change, its outbox event included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import (
    TABLES,
    ConsultationMessageRow,
    ConsultationRow,
    ConsultationStageRow,
)
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    to_timestamp,
    utcnow,
)

# Until the catalog hands tier numbers to the order (payment issue), a professional question's reply
# clock is the standard's 24 hours (§6.2.1.2).
DEFAULT_REPLY_WITHIN = timedelta(hours=24)


@dataclass
class ConsultationView:
    row: ConsultationRow
    stages: list[ConsultationStageRow]
    messages: list[ConsultationMessageRow]


class ConsultationStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create(
        self, principal: Principal, new: domain.NewConsultation, idempotency_key: str
    ) -> tuple[ConsultationView, bool]:
        """Store a consultation and its `consultation.submitted` event. Returns (view, created); a
        replay with the same idempotency key returns the first consultation and created=False."""
        consultation_id = new_id()
        async with self.db.transaction() as session:
            if idempotency_key:
                fingerprint = request_fingerprint(new.kind, new.subject, new.question, new.order_id)
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"consultation:{principal.user_id}",
                    idempotency_key,
                    fingerprint,
                    consultation_id,
                )
                if existing is not None:
                    return await self._view(session, existing), False
            now = utcnow()
            reply_due_at = now + DEFAULT_REPLY_WITHIN if new.kind == "professional" else None
            row = ConsultationRow(
                id=consultation_id,
                tenant_id=principal.tenant_id,
                client_id=principal.user_id,
                kind=new.kind,
                status="submitted",
                subject=new.subject,
                question=new.question,
                order_id=new.order_id,
                reply_due_at=reply_due_at,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.add(
                ConsultationStageRow(
                    consultation_id=consultation_id,
                    stage="submitted",
                    actor=principal.user_id,
                    entered_at=now,
                    due_at=reply_due_at,
                    idempotency_key=f"submitted:{consultation_id}",
                )
            )
            await session.flush()
            await self.outbox.add(
                session,
                "consultation.submitted",
                events_pb2.ConsultationSubmitted(
                    consultation_id=consultation_id,
                    client_id=principal.user_id,
                    kind=new.kind,
                    subject=new.subject,
                    reply_due_at=to_timestamp(reply_due_at),
                    order_id=new.order_id,
                ),
                aggregate_id=consultation_id,
                tenant_id=principal.tenant_id,
                actor_id=principal.user_id,
            )
            return await self._view(session, consultation_id), True

    async def get(self, principal: Principal | None, consultation_id: str) -> ConsultationView:
        async with self.db.transaction() as session:
            view = await self._view(session, consultation_id)
        if not domain.can_see(principal, view.row.tenant_id, view.row.assigned_lawyer_id):
            raise NotFound("no such consultation")  # never reveal another tenant's objects
        return view

    async def list(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[ConsultationRow], str]:
        query = select(ConsultationRow)
        if principal.is_client:
            query = query.where(ConsultationRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*domain.STAFF_WHO_SEE_ALL):
            query = query.where(ConsultationRow.assigned_lawyer_id == principal.user_id)
        if status:
            query = query.where(ConsultationRow.status == status)
        query = newest_first(query, col(ConsultationRow.created_at), col(ConsultationRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    async def record_stage(
        self, consultation_id: str, stage: str, actor: str, due_at: datetime | None, idempotency_key: str
    ) -> ConsultationView:
        """Record a workflow stage once per idempotency key and move the status it implies."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            stages = ConsultationStageRow.__table__  # type: ignore[attr-defined]
            inserted = await session.execute(
                pg_insert(stages)
                .values(
                    consultation_id=consultation_id,
                    stage=stage,
                    actor=actor,
                    entered_at=utcnow(),
                    due_at=due_at,
                    idempotency_key=idempotency_key,
                )
                .on_conflict_do_nothing()
                .returning(stages.c.id)
            )
            status = domain.status_for_stage(stage)
            if inserted.first() is not None and status and status != row.status:
                row.status = domain.next_status(row.status, status)
                row.updated_at = utcnow()
                session.add(row)
            return await self._view(session, consultation_id)

    async def close(
        self, principal: Principal | None, consultation_id: str, reason: str
    ) -> tuple[ConsultationView, bool]:
        """Close the consultation (idempotent). Returns (view, closed_now)."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            if not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such consultation")
            if row.status == "closed":
                return await self._view(session, consultation_id), False
            now = utcnow()
            row.status = domain.next_status(row.status, "closed")
            row.closed_reason = reason
            row.updated_at = now
            session.add(row)
            actor = principal.user_id if principal else "system"
            session.add(
                ConsultationStageRow(
                    consultation_id=consultation_id,
                    stage="closed",
                    actor=actor,
                    entered_at=now,
                    idempotency_key=f"closed:{consultation_id}",
                )
            )
            await session.flush()
            await self.outbox.add(
                session,
                "consultation.closed",
                events_pb2.ConsultationClosed(
                    consultation_id=consultation_id, client_id=row.client_id, reason=reason
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                actor_id=actor,
            )
            return await self._view(session, consultation_id), True

    async def _locked(self, session: AsyncSession, consultation_id: str) -> ConsultationRow:
        row = (
            await session.exec(
                select(ConsultationRow).where(ConsultationRow.id == consultation_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("no such consultation")
        return row

    async def _view(self, session: AsyncSession, consultation_id: str) -> ConsultationView:
        row = await session.get(ConsultationRow, consultation_id)
        if row is None:
            raise NotFound("no such consultation")
        stages = (
            await session.exec(
                select(ConsultationStageRow)
                .where(ConsultationStageRow.consultation_id == consultation_id)
                .order_by(col(ConsultationStageRow.entered_at), col(ConsultationStageRow.id))
            )
        ).all()
        messages = (
            await session.exec(
                select(ConsultationMessageRow)
                .where(ConsultationMessageRow.consultation_id == consultation_id)
                .order_by(col(ConsultationMessageRow.created_at))
            )
        ).all()
        return ConsultationView(row, list(stages), list(messages))
