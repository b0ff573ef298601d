"""Document orders (R-DOC-1..3, R-INFO-4): created once per paid order with a lawyer matched by legal
field, acknowledged by an agent, cancelled by a supervisor, listed as each caller may see them (the staff's
stage queues soonest due first), and the deadlines they hold open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import STAFF_READS, DocumentOrderRow
from services.documents.store.base import OrderView, add_stage, locked_order, order_view, publish
from services.documents.store.roster import locked_lawyer, pick_lawyer, taken
from services.documents.store.sealed import opened_order, seal_requirements
from services.rules.reasons import reason_code
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.metrics import AT_RISK_SHARE, count_deadline, due_in
from services.runtime.records import (
    encode_cursor,
    new_id,
    newest_first,
    page_of,
    time_keyset,
    to_timestamp,
    utcnow,
)

# The due time that orders each stage's work queue.
QUEUE_DUE = {"awaiting_acknowledgement": "acknowledge_due_at", "drafting": "draft_due_at"}


@dataclass(frozen=True)
class NewOrder:
    order_id: str
    tenant_id: str
    client_id: str
    product_id: str
    complexity: str
    paid_at: datetime
    acknowledge_within: timedelta
    draft_within: timedelta
    revision_window: timedelta
    requirements: dict[str, str]
    # The field the lawyer is matched by (domain.legal_field_for) and where it came from.
    legal_field: str = "other"
    legal_field_source: str = ""


@dataclass(frozen=True)
class CreatedOrder:
    """The document order a create returned, and whether this call created it (False: it existed)."""

    view: OrderView
    created: bool


class DocumentOrders:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def create(self, new: NewOrder) -> CreatedOrder:
        """Store the order of a paid order (once per order_id), assign a lawyer who has passed its field (or
        nobody: it waits in the agents' queue with the reason, and its clocks run), record the first stage
        and `docorder.created` (which starts the workflow)."""
        try:
            return await self._create(new)
        except IntegrityError:  # a concurrent call with the same order_id won
            return CreatedOrder(await self._existing(new.order_id), False)

    async def _create(self, new: NewOrder) -> CreatedOrder:
        cipher = await self.keys.cipher(owner_subject(new.tenant_id, new.client_id))
        async with self.db.transaction() as session:
            existing = (
                await session.exec(select(DocumentOrderRow).where(DocumentOrderRow.order_id == new.order_id))
            ).first()
            if existing is not None:
                return CreatedOrder(await order_view(session, existing.id, self.keys), False)
            lawyer, why = await pick_lawyer(session, new.legal_field, exclude=[])
            why = why or domain.unassigned_reason(new.legal_field)
            now = utcnow()
            order_id = new_id()
            acknowledge_due_at = new.paid_at + new.acknowledge_within
            row = DocumentOrderRow(
                id=order_id,
                tenant_id=new.tenant_id,
                order_id=new.order_id,
                client_id=new.client_id,
                product_id=new.product_id,
                stage="awaiting_acknowledgement",
                complexity=new.complexity,
                assigned_lawyer_id=lawyer,
                assignment_reason=f"{why} (field from {new.legal_field_source or domain.DEFAULT_FIELD_SOURCE})",
                legal_field=new.legal_field,
                legal_field_source=new.legal_field_source,
                acknowledge_due_at=acknowledge_due_at,
                acknowledge_within_seconds=int(new.acknowledge_within.total_seconds()),
                draft_within_seconds=int(new.draft_within.total_seconds()),
                revision_window_seconds=int(new.revision_window.total_seconds()),
                paid_at=new.paid_at,
                requirements_json=seal_requirements(cipher, new.requirements),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            add_stage(session, order_id, "awaiting_acknowledgement", "system", acknowledge_due_at, "paid")
            await publish(
                session,
                self.outbox,
                row,
                "docorder.created",
                events_pb2.DocOrderCreated(
                    document_order_id=order_id,
                    order_id=new.order_id,
                    client_id=new.client_id,
                    complexity=new.complexity,
                    assigned_lawyer_id=lawyer,
                    paid_at=to_timestamp(new.paid_at),
                    acknowledge_due_at=to_timestamp(acknowledge_due_at),
                    acknowledge_within_seconds=row.acknowledge_within_seconds,
                    draft_within_seconds=row.draft_within_seconds,
                    revision_window_seconds=row.revision_window_seconds,
                ),
                "system",
            )
            return CreatedOrder(await order_view(session, order_id, self.keys), True)

    async def _existing(self, order_id: str) -> OrderView:
        async with self.db.transaction() as session:
            row = (
                await session.exec(select(DocumentOrderRow).where(DocumentOrderRow.order_id == order_id))
            ).one()
            return await order_view(session, row.id, self.keys)

    async def acknowledge(self, principal: Principal, document_order_id: str, note: str) -> OrderView:
        """An agent acknowledges the order within its 30 minutes: drafting starts, on the tier's clock. The
        note reaches the client through the event's notification, not the timeline."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            domain.check_acknowledge(row.stage, row.acknowledged_by, row.assigned_lawyer_id)
            now = utcnow()
            # Acknowledged before the workflow recorded a breach (which moves the stage on): this decides the
            # clock, late or not.
            on_time = row.acknowledge_due_at is None or now <= row.acknowledge_due_at
            count_deadline(session, "acknowledge_30m", row.complexity, kept=on_time)
            row.stage = domain.next_stage(row.stage, "drafting")
            row.acknowledged_by = principal.user_id
            row.draft_due_at = now + timedelta(seconds=row.draft_within_seconds)
            row.updated_at = now
            session.add(row)
            add_stage(session, row.id, "drafting", principal.user_id, row.draft_due_at, "acknowledged")
            await publish(
                session,
                self.outbox,
                row,
                "docorder.acknowledged",
                events_pb2.DocOrderAcknowledged(
                    document_order_id=row.id,
                    agent_id=principal.user_id,
                    draft_due_at=to_timestamp(row.draft_due_at),
                    acknowledged_at=to_timestamp(now),
                ),
                principal.user_id,
            )
            return await order_view(session, row.id, self.keys)

    async def assign(
        self, principal: Principal, document_order_id: str, lawyer_id: str, override_reason: str
    ) -> OrderView:
        """An agent assigns an order nobody was assigned (see domain.agent_assignment): the lawyer gets it
        with `docorder.assigned`; the due times stand (the clocks ran while it waited)."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            lawyer = await locked_lawyer(session, lawyer_id)
            decided = domain.agent_assignment(
                row.stage,
                row.assigned_lawyer_id,
                domain.matched_field(row.legal_field),
                lawyer_id,
                lawyer.fields if lawyer is not None else None,
                override_reason,
            )
            assert lawyer is not None  # agent_assignment refuses an unknown lawyer
            taken(session, lawyer)
            row.assigned_lawyer_id = lawyer_id
            row.assignment_reason = decided.reason
            row.updated_at = utcnow()
            session.add(row)
            await publish(
                session,
                self.outbox,
                row,
                "docorder.assigned",
                events_pb2.DocOrderAssigned(
                    document_order_id=row.id,
                    lawyer_id=lawyer_id,
                    agent_id=principal.user_id,
                    legal_field=row.legal_field,
                    override_reason=decided.override_reason,
                ),
                principal.user_id,
            )
            await session.flush()
            return await order_view(session, row.id, self.keys)

    async def cancel(self, principal: Principal | None, document_order_id: str, reason: str) -> OrderView:
        """Cancel an open order (a repeat is harmless) with `docorder.cancelled`, which stops its workflow and
        refunds the paid order it fulfils; Conflict once completed."""
        async with self.db.transaction() as session:
            row = await locked_order(session, principal, document_order_id)
            reason = domain.check_cancel(row.stage, reason)
            if row.stage == "cancelled":
                return await order_view(session, row.id, self.keys)
            actor = principal.user_id if principal else "system"
            stage_before = row.stage
            row.stage = domain.next_stage(row.stage, "cancelled")
            row.status_reason = reason_code(reason)
            row.updated_at = utcnow()
            session.add(row)
            add_stage(session, row.id, "cancelled", actor, None, reason)
            await publish(
                session,
                self.outbox,
                row,
                "docorder.cancelled",
                events_pb2.DocOrderCancelled(
                    document_order_id=row.id,
                    order_id=row.order_id,
                    client_id=row.client_id,
                    reason=reason,
                    cancelled_by=actor,
                    stage=stage_before,
                    assigned_lawyer_id=row.assigned_lawyer_id,
                ),
                actor,
            )
            await session.flush()
            return await order_view(session, row.id, self.keys)

    async def get(self, principal: Principal | None, document_order_id: str) -> OrderView:
        """The order with its stages, versions and breaches; NotFound when the caller may not see it. A
        staff member's read is written to the staff access log."""
        async with self.db.transaction() as session:
            view = await order_view(session, document_order_id, self.keys)
            row = view.row
            domain.require_visible(principal, row.tenant_id, row.assigned_lawyer_id)
            await STAFF_READS.record(session, principal, "document_order", row.id, row)
        return view

    async def list_orders(
        self, principal: Principal, stage: str, limit: int, cursor: str
    ) -> tuple[list[DocumentOrderRow], str]:
        """One page: a client's enterprise's orders, a firm's lawyers' (`firm_lawyers`), a lawyer's own, or
        every order for staff; newest first, or a stage's work queue soonest due first."""
        query = select(DocumentOrderRow)
        if principal.is_client:
            query = query.where(DocumentOrderRow.tenant_id == principal.tenant_id)
        elif principal.is_firm_system:
            query = query.where(col(DocumentOrderRow.assigned_lawyer_id).in_(principal.firm_lawyers))
        elif not principal.has_role(*domain.STAFF_WHO_SEE_ALL):
            query = query.where(DocumentOrderRow.assigned_lawyer_id == principal.user_id)
        if not stage:
            query = newest_first(
                query, col(DocumentOrderRow.created_at), col(DocumentOrderRow.id), cursor, limit
            )
            async with self.db.transaction() as session:
                rows = list((await session.exec(query)).all())
            return page_of([await opened_order(self.keys, row) for row in rows], limit)
        # A stage is a work queue (agents: awaiting_acknowledgement, lawyers: drafting, reviewers: in_review):
        # soonest due first, or longest waiting first where the stage has no due time.
        field = QUEUE_DUE.get(stage, "updated_at")
        due = func.coalesce(getattr(DocumentOrderRow, field), col(DocumentOrderRow.created_at))
        query = query.where(DocumentOrderRow.stage == stage)
        if cursor:
            after, last_id = time_keyset(cursor)
            query = query.where(or_(due > after, and_(due == after, col(DocumentOrderRow.id) > last_id)))
        query = query.order_by(due, col(DocumentOrderRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = [await opened_order(self.keys, row) for row in (await session.exec(query)).all()]
        if len(rows) <= limit:
            return rows, ""
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(getattr(last, field) or last.created_at, last.id)

    async def open_timers(self) -> dict[str, int]:
        """Deadlines running now, by the kind counsel_sla_timers_pending uses: the workflow waits on the
        acknowledgement timer while awaiting acknowledgement, on the delivery timer while first drafting (a
        revision has no clock), and on the revision window while delivered."""
        return await self._count_orders({kind: running for kind, (running, _) in _running_clocks().items()})

    async def timers_at_risk(self) -> dict[str, int]:
        """Of the clocks open_timers counts, those with less than AT_RISK_SHARE of their time left whose work
        has not begun: unacknowledged, or in first drafting with no draft in review (overdue included)."""
        now = utcnow()

        def little_left(due: Any, within_seconds: Any) -> Any:
            return due - within_seconds * timedelta(seconds=AT_RISK_SHARE) <= now

        kinds = {
            "acknowledge_30m": and_(
                col(DocumentOrderRow.stage) == "awaiting_acknowledgement",
                little_left(
                    col(DocumentOrderRow.acknowledge_due_at), col(DocumentOrderRow.acknowledge_within_seconds)
                ),
            ),
            "delivery": and_(
                col(DocumentOrderRow.stage) == "drafting",
                col(DocumentOrderRow.first_delivered_at).is_(None),
                little_left(col(DocumentOrderRow.draft_due_at), col(DocumentOrderRow.draft_within_seconds)),
            ),
        }
        return await self._count_orders(kinds)

    async def timers_due(self, now: datetime) -> dict[tuple[str, str], int]:
        """The clocks open_timers counts, by when each falls due."""
        due: dict[tuple[str, str], int] = {}
        async with self.db.transaction() as session:
            for kind, (running, due_at) in _running_clocks().items():
                bucket = due_in(due_at, now)
                rows = await session.execute(
                    sa_select(bucket, func.count()).where(running, due_at.is_not(None)).group_by(bucket)
                )
                due.update({(kind, str(name)): int(count) for name, count in rows})
        return due

    async def _count_orders(self, kinds: dict[str, Any]) -> dict[str, int]:
        """How many orders meet each kind's condition, in one scan."""
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    sa_select(*(func.count().filter(condition) for condition in kinds.values())).select_from(
                        DocumentOrderRow
                    )
                )
            ).one()
        return dict(zip(kinds, (int(n) for n in row), strict=True))


def _running_clocks() -> dict[str, tuple[ColumnElement[bool], Any]]:
    """kind → (which orders have that clock running, the column with its due time)."""
    first_drafting = and_(
        col(DocumentOrderRow.stage) == "drafting", col(DocumentOrderRow.first_delivered_at).is_(None)
    )
    return {
        "acknowledge_30m": (
            col(DocumentOrderRow.stage) == "awaiting_acknowledgement",
            col(DocumentOrderRow.acknowledge_due_at),
        ),
        "delivery": (first_drafting, col(DocumentOrderRow.draft_due_at)),
        "revision_window": (
            col(DocumentOrderRow.stage) == "delivered",
            col(DocumentOrderRow.revision_window_ends_at),
        ),
    }
