"""What the workflow records (R-DOC-2, R-DOC-5): the stages it decides (the closed revision window
completes the order) and the deadlines missed, each once per key, counted and published so agents, the
supervisor and the client hear of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import DocumentBreachRow
from services.documents.store.base import (
    OrderView,
    add_stage,
    breach_count,
    complete,
    insert_stage,
    locked_order,
    order_view,
    publish,
)
from services.documents.store.roster import pick_lawyer
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.metrics import SLA_BREACHES, count_deadline
from services.runtime.records import to_timestamp, utcnow

# Breach kinds as counted in counsel_sla_breaches_total (the names deploy/prometheus/alerts.yaml alerts on).
BREACH_METRIC_KIND = {"acknowledgement": "acknowledge_30m", "delivery": "delivery"}


class Deadlines:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def record_stage(
        self, document_order_id: str, stage: str, actor: str, due_at: datetime | None, reason: str, key: str
    ) -> OrderView:
        """Record a stage the workflow decided (once per key). Only `completed` moves the order today."""
        async with self.db.transaction() as session:
            row = await locked_order(session, None, document_order_id)
            if stage == "completed":
                if row.stage != "completed":
                    await complete(session, self.outbox, row, actor, reason or "window_closed", key)
            elif stage in domain.STAGES:
                if await insert_stage(session, row.id, stage, actor, due_at, reason, key):
                    row.stage = domain.next_stage(row.stage, stage)
                    session.add(row)
            else:
                raise InvalidArgument.for_field("stage", f"must be one of {', '.join(domain.STAGES)}")
            return await order_view(session, row.id, self.keys)

    async def record_breach(
        self, document_order_id: str, kind: str, due_at: datetime, new_due_at: datetime | None, key: str
    ) -> OrderView:
        """Record a missed deadline once per key: counted, published (agents and supervisor are alerted, the
        client told the new expected time), with its effect on the order (see domain.breach_effect)."""
        domain.validate_breach_kind(kind)
        async with self.db.transaction() as session:
            row = await locked_order(session, None, document_order_id)
            breaches = DocumentBreachRow.__table__  # type: ignore[attr-defined]
            inserted = await session.execute(
                pg_insert(breaches)
                .values(
                    document_order_id=row.id,
                    kind=kind,
                    due_at=due_at,
                    new_due_at=new_due_at,
                    recorded_at=utcnow(),
                    idempotency_key=key,
                )
                .on_conflict_do_nothing()
                .returning(breaches.c.id)
            )
            if inserted.first() is None:
                return await order_view(session, row.id, self.keys)
            SLA_BREACHES.labels(BREACH_METRIC_KIND[kind]).inc()
            breaches = await breach_count(session, row.id, kind)
            if domain.breach_decides_clock(kind, row.stage, row.first_delivered_at is not None, breaches):
                count_deadline(session, BREACH_METRIC_KIND[kind], row.complexity, kept=False)
            effect = domain.breach_effect(kind, row.stage)
            missed_by = domain.lawyer_who_missed(kind, row.assigned_lawyer_id)
            if effect.next_stage is not None:
                row.stage = effect.next_stage
            if effect.reschedules_draft:
                row.draft_due_at = new_due_at
            if effect.reassigns:
                other, why = await pick_lawyer(
                    session, domain.matched_field(row.legal_field), exclude=[row.assigned_lawyer_id]
                )
                if other:
                    row.assigned_lawyer_id = other
                    row.assignment_reason = f"reassigned_after_breach: {why}"
            if effect.drafting_reason:
                add_stage(session, row.id, "drafting", "system", new_due_at, effect.drafting_reason)
            row.updated_at = utcnow()
            session.add(row)
            await publish(
                session,
                self.outbox,
                row,
                "docorder.sla_breached",
                events_pb2.DocOrderSlaBreached(
                    document_order_id=row.id,
                    kind=kind,
                    due_at=to_timestamp(due_at),
                    new_due_at=to_timestamp(new_due_at),
                    client_id=row.client_id,
                    assigned_lawyer_id=row.assigned_lawyer_id,
                    missed_by_lawyer_id=missed_by,
                ),
                "system",
            )
            await session.flush()
            return await order_view(session, row.id, self.keys)
