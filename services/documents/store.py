"""Document-order persistence: one transaction per change, its stage row and outbox event included."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.documents.v1 import events_pb2
from services.documents import domain
from services.documents.models import (
    DocumentBreachRow,
    DocumentOrderRow,
    DocumentRevisionRow,
    DocumentStageRow,
    DocumentVersionRow,
    LawyerRosterRow,
)
from services.runtime.assignment import LawyerCandidate, choose_lawyer
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.metrics import AT_RISK_SHARE, SLA_BREACHES, count_deadline
from services.runtime.records import (
    cursor_time,
    decode_cursor,
    encode_cursor,
    new_id,
    newest_first,
    page_of,
    to_timestamp,
    utcnow,
)

# Breach kinds as counted in counsel_sla_breaches_total (the names deploy/prometheus/alerts.yaml alerts on).
BREACH_METRIC_KIND = {"acknowledgement": "acknowledge_30m", "delivery": "delivery"}
# The due time that orders each stage's work queue.
QUEUE_DUE = {"awaiting_acknowledgement": "acknowledge_due_at", "drafting": "draft_due_at"}

# Stages in which a document order is on its lawyer's desk: they count towards the lawyer's open load.
OPEN_STAGES = ("awaiting_acknowledgement", "drafting", "in_review", "revising")


@dataclass
class OrderView:
    row: DocumentOrderRow
    stages: list[DocumentStageRow]
    versions: list[DocumentVersionRow]
    breaches: list[DocumentBreachRow]


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


class DocumentsStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    # --- creation --------------------------------------------------------------------------------------

    async def create(self, new: NewOrder) -> tuple[OrderView, bool]:
        """Store the order of a paid order (once per order_id), assign a lawyer, record the first stage and
        `docorder.created` (which starts the workflow). Returns (view, created)."""
        try:
            return await self._create(new)
        except IntegrityError:  # a concurrent call with the same order_id won
            return await self._existing(new.order_id), False

    async def _create(self, new: NewOrder) -> tuple[OrderView, bool]:
        async with self.db.transaction() as session:
            existing = (
                await session.exec(select(DocumentOrderRow).where(DocumentOrderRow.order_id == new.order_id))
            ).first()
            if existing is not None:
                return await self._view(session, existing.id), False
            lawyer, why = await self._pick_lawyer(session, new.legal_field, exclude=[])
            if not lawyer:
                raise Conflict("no lawyer is available to draft documents", reason="no_lawyer_available")
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
                assignment_reason=f"{why} (field from {new.legal_field_source or 'default'})",
                legal_field=new.legal_field,
                legal_field_source=new.legal_field_source,
                acknowledge_due_at=acknowledge_due_at,
                acknowledge_within_seconds=int(new.acknowledge_within.total_seconds()),
                draft_within_seconds=int(new.draft_within.total_seconds()),
                revision_window_seconds=int(new.revision_window.total_seconds()),
                paid_at=new.paid_at,
                requirements_json=json.dumps(new.requirements, ensure_ascii=False),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            self._stage(session, order_id, "awaiting_acknowledgement", "system", acknowledge_due_at, "paid")
            await self._event(
                session,
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
            return await self._view(session, order_id), True

    async def _existing(self, order_id: str) -> OrderView:
        async with self.db.transaction() as session:
            row = (
                await session.exec(select(DocumentOrderRow).where(DocumentOrderRow.order_id == order_id))
            ).one()
            return await self._view(session, row.id)

    # --- commands of people ------------------------------------------------------------------------------

    async def acknowledge(self, principal: Principal, document_order_id: str, note: str) -> OrderView:
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            domain.check_acknowledge(row.stage, row.acknowledged_by)
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
            self._stage(
                session, row.id, "drafting", principal.user_id, row.draft_due_at, "acknowledged", note
            )
            await self._event(
                session,
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
            return await self._view(session, row.id)

    async def add_version(
        self,
        principal: Principal,
        document_order_id: str,
        upload: domain.Upload,
        put_file: Callable[[str, bytes], Awaitable[None]],
    ) -> OrderView:
        """Store the file, then its version (in review); the file is written before the commit so that a
        committed version always has its bytes."""
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            domain.check_upload(row.stage, principal, row.assigned_lawyer_id)
            number = (
                await session.scalar(
                    select(func.coalesce(func.max(DocumentVersionRow.number), 0)).where(
                        DocumentVersionRow.document_order_id == row.id
                    )
                )
                or 0
            ) + 1
            object_name = f"{row.id}/v{number}-{new_id()}"
            await put_file(object_name, upload.content)
            now = utcnow()
            session.add(
                DocumentVersionRow(
                    id=new_id(),
                    document_order_id=row.id,
                    number=number,
                    author_id=principal.user_id,
                    note=upload.note,
                    file_name=upload.file_name,
                    size_bytes=len(upload.content),
                    media_type=upload.media_type,
                    sha256=upload.sha256,
                    object_name=object_name,
                    status="in_review",
                    created_at=now,
                )
            )
            row.stage = domain.next_stage(row.stage, "in_review")
            row.updated_at = now
            session.add(row)
            self._stage(session, row.id, "in_review", principal.user_id, None, f"version {number} uploaded")
            await self._event(
                session,
                row,
                "docorder.drafted",
                events_pb2.DocOrderDrafted(
                    document_order_id=row.id,
                    version_number=number,
                    author_id=principal.user_id,
                    uploaded_at=to_timestamp(now),
                ),
                principal.user_id,
            )
            await session.flush()
            return await self._view(session, row.id)

    async def review(
        self, principal: Principal, document_order_id: str, decision: str, comment: str
    ) -> OrderView:
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            version = (
                await session.exec(
                    select(DocumentVersionRow)
                    .where(
                        DocumentVersionRow.document_order_id == row.id,
                        DocumentVersionRow.status == "in_review",
                    )
                    .order_by(col(DocumentVersionRow.number).desc())
                )
            ).first()
            domain.check_review(row.stage, principal, version.author_id if version else "", decision, comment)
            assert version is not None  # in_review always has its version
            now = utcnow()
            version.reviewer_id = principal.user_id
            version.review_comment = comment.strip()
            version.reviewed_at = now
            if decision == "approve":
                version.status = "approved"
                version.reviewer_licence_number = await self._licence(session, principal.user_id)
                if row.first_delivered_at is None:
                    # The delivery clock is kept, unless the workflow recorded its breach first (which decided it).
                    if not await self._breach_count(session, row.id, "delivery"):
                        count_deadline(session, "delivery", row.complexity, kept=True)
                    # The window starts at the first delivery and never restarts (API.md).
                    row.first_delivered_at = now
                    row.revision_window_ends_at = now + timedelta(seconds=row.revision_window_seconds)
                row.stage = domain.next_stage(row.stage, "delivered")
                self._stage(
                    session, row.id, "delivered", principal.user_id, row.revision_window_ends_at, "approved"
                )
                await self._event(
                    session,
                    row,
                    "docorder.approved",
                    events_pb2.DocOrderApproved(
                        document_order_id=row.id,
                        version_number=version.number,
                        reviewer_id=principal.user_id,
                        approved_at=to_timestamp(now),
                        sha256=version.sha256,
                        reviewer_licence_number=version.reviewer_licence_number,
                    ),
                    principal.user_id,
                )
                await self._event(
                    session,
                    row,
                    "docorder.delivered",
                    events_pb2.DocOrderDelivered(
                        document_order_id=row.id,
                        version_number=version.number,
                        client_id=row.client_id,
                        revision_window_ends_at=to_timestamp(row.revision_window_ends_at),
                    ),
                    principal.user_id,
                )
            else:
                version.status = "rejected"
                back = "revising" if row.first_delivered_at is not None else "drafting"
                row.stage = domain.next_stage(row.stage, back)
                due = row.draft_due_at if back == "drafting" else None  # the remaining time, not a new clock
                self._stage(session, row.id, back, principal.user_id, due, "rejected")
                await self._event(
                    session,
                    row,
                    "docorder.rejected",
                    events_pb2.DocOrderRejected(
                        document_order_id=row.id, version_number=version.number, reviewer_id=principal.user_id
                    ),
                    principal.user_id,
                )
            row.updated_at = now
            session.add(version)
            session.add(row)
            await session.flush()
            return await self._view(session, row.id)

    async def request_revision(
        self,
        principal: Principal,
        document_order_id: str,
        instructions: str,
        ask_workflow: Callable[[datetime | None], Awaitable[None]],
    ) -> OrderView:
        """Record a revision request once the workflow accepted it (its validator is the final word on the
        window; a refusal raises Conflict and nothing is written)."""
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            domain.check_client_owns(principal, row.tenant_id)
            instructions = domain.check_revision(
                row.stage, row.revision_window_ends_at, utcnow(), instructions
            )
            await ask_workflow(row.revision_window_ends_at)
            now = utcnow()
            row.revisions_requested += 1
            session.add(
                DocumentRevisionRow(
                    document_order_id=row.id,
                    number=row.revisions_requested,
                    requested_by=principal.user_id,
                    instructions=instructions,
                    requested_at=now,
                )
            )
            if row.stage == "delivered":
                row.stage = domain.next_stage(row.stage, "revising")
                self._stage(session, row.id, "revising", principal.user_id, None, "revision requested")
            row.updated_at = now
            session.add(row)
            await self._event(
                session,
                row,
                "docorder.revision_requested",
                events_pb2.DocOrderRevisionRequested(
                    document_order_id=row.id, requested_by=principal.user_id, note=instructions
                ),
                principal.user_id,
            )
            await session.flush()
            return await self._view(session, row.id)

    async def accept(self, principal: Principal, document_order_id: str) -> OrderView:
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            domain.check_client_owns(principal, row.tenant_id)
            domain.check_accept(row.stage)
            await self._event(
                session,
                row,
                "docorder.accepted",
                events_pb2.DocOrderAccepted(document_order_id=row.id, client_id=principal.user_id),
                principal.user_id,
            )
            await self._complete(session, row, principal.user_id, "accepted")
            return await self._view(session, row.id)

    async def cancel(self, principal: Principal | None, document_order_id: str, reason: str) -> OrderView:
        """Cancel an open order (a repeat is harmless) with `docorder.cancelled`, which stops its workflow and
        refunds the paid order it fulfils; Conflict once completed."""
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, document_order_id)
            reason = domain.check_cancel(row.stage, reason)
            if row.stage == "cancelled":
                return await self._view(session, row.id)
            actor = principal.user_id if principal else "system"
            stage_before = row.stage
            row.stage = domain.next_stage(row.stage, "cancelled")
            row.updated_at = utcnow()
            session.add(row)
            self._stage(session, row.id, "cancelled", actor, None, reason)
            await self._event(
                session,
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
            return await self._view(session, row.id)

    # --- records from the workflow -----------------------------------------------------------------------

    async def record_stage(
        self, document_order_id: str, stage: str, actor: str, due_at: datetime | None, reason: str, key: str
    ) -> OrderView:
        """Record a stage the workflow decided (once per key). Only `completed` moves the order today."""
        async with self.db.transaction() as session:
            row = await self._locked(session, None, document_order_id)
            if stage == "completed":
                if row.stage != "completed":
                    await self._complete(session, row, actor, reason or "window_closed", key)
            elif stage in domain.STAGES:
                if await self._insert_stage(session, row.id, stage, actor, due_at, reason, key):
                    row.stage = domain.next_stage(row.stage, stage)
                    session.add(row)
            else:
                raise InvalidArgument.for_field("stage", f"must be one of {', '.join(domain.STAGES)}")
            return await self._view(session, row.id)

    async def record_breach(
        self, document_order_id: str, kind: str, due_at: datetime, new_due_at: datetime | None, key: str
    ) -> OrderView:
        """Record a missed deadline once per key: counted, published (agents and supervisor are alerted, the
        client told the new expected time); an unacknowledged order moves on to drafting, a late draft is
        reassigned to another lawyer when there is one."""
        if kind not in ("acknowledgement", "delivery"):
            raise InvalidArgument.for_field("kind", "must be acknowledgement or delivery")
        async with self.db.transaction() as session:
            row = await self._locked(session, None, document_order_id)
            inserted = await session.execute(
                pg_insert(DocumentBreachRow.__table__)  # type: ignore[attr-defined]
                .values(
                    document_order_id=row.id,
                    kind=kind,
                    due_at=due_at,
                    new_due_at=new_due_at,
                    recorded_at=utcnow(),
                    idempotency_key=key,
                )
                .on_conflict_do_nothing()
                .returning(DocumentBreachRow.__table__.c.id)  # type: ignore[attr-defined]
            )
            if inserted.first() is None:
                return await self._view(session, row.id)
            SLA_BREACHES.labels(BREACH_METRIC_KIND[kind]).inc()
            breaches = await self._breach_count(session, row.id, kind)
            if domain.breach_decides_clock(kind, row.stage, row.first_delivered_at is not None, breaches):
                count_deadline(session, BREACH_METRIC_KIND[kind], row.complexity, kept=False)
            if kind == "acknowledgement" and row.stage == "awaiting_acknowledgement":
                row.stage = domain.next_stage(row.stage, "drafting")
                row.draft_due_at = new_due_at
                self._stage(session, row.id, "drafting", "system", new_due_at, "acknowledgement_breached")
            elif kind == "delivery":
                row.draft_due_at = new_due_at
                other, why = await self._pick_lawyer(
                    session, row.legal_field or domain.FALLBACK_FIELD, exclude=[row.assigned_lawyer_id]
                )
                if other:
                    row.assigned_lawyer_id = other
                    row.assignment_reason = f"reassigned_after_breach: {why}"
                if row.stage == "drafting":
                    self._stage(session, row.id, "drafting", "system", new_due_at, "reassigned_after_breach")
            row.updated_at = utcnow()
            session.add(row)
            await self._event(
                session,
                row,
                "docorder.sla_breached",
                events_pb2.DocOrderSlaBreached(
                    document_order_id=row.id,
                    kind=kind,
                    due_at=to_timestamp(due_at),
                    new_due_at=to_timestamp(new_due_at),
                    client_id=row.client_id,
                    assigned_lawyer_id=row.assigned_lawyer_id,
                ),
                "system",
            )
            await session.flush()
            return await self._view(session, row.id)

    # --- reads -------------------------------------------------------------------------------------------

    async def get(self, principal: Principal | None, document_order_id: str) -> OrderView:
        async with self.db.transaction() as session:
            view = await self._view(session, document_order_id)
        domain.require_visible(principal, view.row.tenant_id, view.row.assigned_lawyer_id)
        return view

    async def version(
        self, principal: Principal | None, document_order_id: str, number: int
    ) -> DocumentVersionRow:
        view = await self.get(principal, document_order_id)
        for version in view.versions:
            if version.number == number and domain.may_see_version(principal, version.status):
                return version
        raise NotFound("no such version")

    async def list_orders(
        self, principal: Principal, stage: str, limit: int, cursor: str
    ) -> tuple[list[DocumentOrderRow], str]:
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
            return page_of(rows, limit)
        # A stage is a work queue (agents: awaiting_acknowledgement, lawyers: drafting, reviewers: in_review):
        # soonest due first, or longest waiting first where the stage has no due time.
        field = QUEUE_DUE.get(stage, "updated_at")
        due = func.coalesce(getattr(DocumentOrderRow, field), col(DocumentOrderRow.created_at))
        query = query.where(DocumentOrderRow.stage == stage)
        if cursor:
            values = decode_cursor(cursor)
            try:
                after, last_id = cursor_time(values[0]), str(values[1])
            except (IndexError, TypeError, ValueError) as exc:
                raise InvalidArgument.for_field("cursor", "is not a cursor this API issued") from exc
            query = query.where(or_(due > after, and_(due == after, col(DocumentOrderRow.id) > last_id)))
        query = query.order_by(due, col(DocumentOrderRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        if len(rows) <= limit:
            return rows, ""
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(getattr(last, field) or last.created_at, last.id)

    # --- metrics ----------------------------------------------------------------------------------------------

    async def open_timers(self) -> dict[str, int]:
        """Deadlines running now, by the kind counsel_sla_timers_pending uses: the workflow waits on the
        acknowledgement timer while awaiting acknowledgement, on the delivery timer while first drafting (a
        revision has no clock), and on the revision window while delivered."""
        first_drafting = and_(
            col(DocumentOrderRow.stage) == "drafting", col(DocumentOrderRow.first_delivered_at).is_(None)
        )
        kinds = {
            "acknowledge_30m": col(DocumentOrderRow.stage) == "awaiting_acknowledgement",
            "delivery": first_drafting,
            "revision_window": col(DocumentOrderRow.stage) == "delivered",
        }
        return await self._count_orders(kinds)

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

    # --- staff roster --------------------------------------------------------------------------------------

    async def upsert_staff(
        self,
        user_id: str,
        role: str,
        licence_number: str,
        fields: Sequence[str] = (),
        service_hours: Sequence[dict[str, Any]] = (),
    ) -> None:
        """A member of staff (seed and tests): role, licence and, for lawyers, legal fields and hours."""
        profile = {"fields": list(fields), "service_hours": list(service_hours)}
        async with self.db.transaction() as session:
            await session.execute(
                pg_insert(LawyerRosterRow.__table__)  # type: ignore[attr-defined]
                .values(user_id=user_id, role=role, licence_number=licence_number, assignments=0, **profile)
                .on_conflict_do_update(
                    index_elements=["user_id"],
                    set_={"role": role, "licence_number": licence_number, **profile},
                )
            )

    async def lawyer_changed(
        self,
        session: AsyncSession,
        user_id: str,
        fields: Sequence[str],
        *,
        active: bool,
        service_hours: list[dict[str, Any]],
    ) -> None:
        """The catalog changed a lawyer profile (`lawyer.changed`, in the consumer's transaction): the roster
        row takes its fields, activation and service hours; an existing row keeps its licence number (a
        reviewer's, recorded at approval) and its assignment count."""
        changed = {"fields": list(fields), "active": active, "service_hours": service_hours}
        await session.execute(
            pg_insert(LawyerRosterRow.__table__)  # type: ignore[attr-defined]
            .values(user_id=user_id, role="lawyer", licence_number="", assignments=0, **changed)
            .on_conflict_do_update(index_elements=["user_id"], set_=changed)
        )

    # --- helpers -------------------------------------------------------------------------------------------

    async def _pick_lawyer(
        self, session: AsyncSession, legal_field: str, exclude: list[str]
    ) -> tuple[str, str]:
        """(lawyer, reason) by the rules consultation uses (services/runtime/assignment.py): active, practises
        the field, not overloaded by open document orders, on duty first, fair ties. Nobody eligible in the
        field → the same rules over every field (a paid order must get a lawyer; the reason says so).
        ("", "") when nobody at all is eligible. The candidates are locked: two concurrent assignments
        cannot both take a lawyer's last free place."""
        lawyers = list(
            (
                await session.exec(
                    select(LawyerRosterRow)
                    .where(LawyerRosterRow.role == "lawyer")
                    .where(col(LawyerRosterRow.active).is_(True))
                    .order_by(col(LawyerRosterRow.user_id))
                    .with_for_update()
                )
            ).all()
        )
        if not lawyers:
            return "", ""
        load_rows = (
            await session.execute(
                select(col(DocumentOrderRow.assigned_lawyer_id), func.count())
                .where(col(DocumentOrderRow.assigned_lawyer_id).in_([lw.user_id for lw in lawyers]))
                .where(col(DocumentOrderRow.stage).in_(OPEN_STAGES))
                .group_by(col(DocumentOrderRow.assigned_lawyer_id))
            )
        ).all()
        load = {lawyer_id: count for lawyer_id, count in load_rows}
        candidates = [
            LawyerCandidate(
                lw.user_id,
                lw.fields,
                lw.active,
                lw.service_hours,
                load.get(lw.user_id, 0),
                lw.max_open,
                lw.last_assigned_at,
            )
            for lw in lawyers
        ]
        now = utcnow()
        choice = choose_lawyer(candidates, legal_field, now, exclude) or choose_lawyer(
            candidates, legal_field, now, exclude, any_field=True
        )
        if choice is None:
            return "", ""
        chosen, reason = choice
        row = next(lw for lw in lawyers if lw.user_id == chosen.lawyer_id)
        row.assignments += 1
        row.last_assigned_at = now
        session.add(row)
        return row.user_id, reason

    async def _licence(self, session: AsyncSession, user_id: str) -> str:
        staff = await session.get(LawyerRosterRow, user_id)
        return staff.licence_number if staff else ""

    async def _complete(
        self, session: AsyncSession, row: DocumentOrderRow, actor: str, reason: str, key: str = ""
    ) -> None:
        row.stage = domain.next_stage(row.stage, "completed")
        row.completed_reason = reason
        # The client's clock: accepted within the window, or the window ran out.
        count_deadline(session, "revision_window", row.complexity, kept=reason == "accepted")
        row.updated_at = utcnow()
        session.add(row)
        self._stage(session, row.id, "completed", actor, None, reason, key=key)
        final = await session.scalar(
            select(func.max(DocumentVersionRow.number)).where(
                DocumentVersionRow.document_order_id == row.id, DocumentVersionRow.status == "approved"
            )
        )
        await self._event(
            session,
            row,
            "docorder.completed",
            events_pb2.DocOrderCompleted(
                document_order_id=row.id, order_id=row.order_id, final_version_number=int(final or 0)
            ),
            actor,
        )
        await session.flush()

    def _stage(
        self,
        session: AsyncSession,
        document_order_id: str,
        stage: str,
        actor: str,
        due_at: datetime | None,
        reason: str,
        note: str = "",
        key: str = "",
    ) -> None:
        del note  # the note goes to the client through the event's notification, not the timeline
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

    async def _insert_stage(
        self,
        session: AsyncSession,
        document_order_id: str,
        stage: str,
        actor: str,
        due_at: datetime | None,
        reason: str,
        key: str,
    ) -> bool:
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

    async def _event(
        self, session: AsyncSession, row: DocumentOrderRow, event_type: str, payload: object, actor: str
    ) -> None:
        await self.outbox.add(
            session,
            event_type,
            payload,  # type: ignore[arg-type]
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            actor_id=actor,
            lawyer_id=row.assigned_lawyer_id,
        )

    async def _breach_count(self, session: AsyncSession, document_order_id: str, kind: str) -> int:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(DocumentBreachRow)
                .where(
                    DocumentBreachRow.document_order_id == document_order_id, DocumentBreachRow.kind == kind
                )
            )
            or 0
        )

    async def _locked(
        self, session: AsyncSession, principal: Principal | None, document_order_id: str
    ) -> DocumentOrderRow:
        row = await get_or_404(
            session, DocumentOrderRow, document_order_id, "document order", for_update=True
        )
        domain.require_visible(principal, row.tenant_id, row.assigned_lawyer_id)
        return row

    async def _view(self, session: AsyncSession, document_order_id: str) -> OrderView:
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
        return OrderView(row, list(stages), list(versions), list(breaches))
