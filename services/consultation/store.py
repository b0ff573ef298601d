"""Consultation persistence: one transaction per change, its outbox event included."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import (
    TABLES,
    CallRecordRow,
    ComplaintRow,
    ConsultationMessageRow,
    ConsultationRow,
    ConsultationStageRow,
    LawyerProjectionRow,
)
from services.consultation.telephony import TelephonyProvider
from services.legal_fields import LEGAL_FIELDS
from services.legal_fields.classifier import Prediction
from services.runtime import assignment
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound, Unauthenticated
from services.runtime.events import Outbox, unpack
from services.runtime.metrics import AT_RISK_SHARE, SLA_BREACHES, UNTIERED, count_deadline
from services.runtime.records import (
    claim_idempotency_key,
    cursor_time,
    decode_cursor,
    encode_cursor,
    from_timestamp,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    to_timestamp,
    utcnow,
)

# The catalog's lawyer events that keep the lawyer projection current (R-CON-2 assignment).
LAWYER_SUBJECTS = ["catalog.lawyer.changed"]
# Sorts consultations without a due time after every real one in the lawyer's queue.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


@dataclass
class ConsultationView:
    row: ConsultationRow
    stages: list[ConsultationStageRow]
    messages: list[ConsultationMessageRow]
    calls: list[CallRecordRow]


class ConsultationStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create(
        self,
        principal: Principal,
        new: domain.NewConsultation,
        idempotency_key: str,
        reply_within: timedelta | None = domain.DEFAULT_REPLY_WITHIN,
        spends_order: bool = False,
    ) -> tuple[ConsultationView, bool]:
        """Store a consultation and its `consultation.submitted` event; `reply_within` (from the order's
        tier, see domain.reply_within) sets `reply_due_at`, None for no reply clock; `spends_order` (see
        domain.spends_order) uses its order up, Conflict when another consultation did. Returns (view,
        created); a replay with the same idempotency key returns the first consultation, created=False."""
        try:
            return await self._create(principal, new, idempotency_key, reply_within, spends_order)
        except IntegrityError as exc:
            if "uq_consultations_spent_order" not in str(exc):
                raise
            raise Conflict(
                "order_id has paid for a consultation already: one paid order serves one consultation",
                reason="order_used",
            ) from None

    async def _create(
        self,
        principal: Principal,
        new: domain.NewConsultation,
        idempotency_key: str,
        reply_within: timedelta | None,
        spends_order: bool,
    ) -> tuple[ConsultationView, bool]:
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
            reply_due_at = now + reply_within if new.kind == "professional" and reply_within else None
            row = ConsultationRow(
                id=consultation_id,
                tenant_id=principal.tenant_id,
                client_id=principal.user_id,
                kind=new.kind,
                status="submitted",
                subject=new.subject,
                question=new.question,
                order_id=new.order_id,
                spends_order=spends_order,
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
        elif principal.is_firm_system:
            query = query.where(col(ConsultationRow.assigned_lawyer_id).in_(principal.firm_lawyers))
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
            calls = await session.scalar(
                select(func.count()).where(col(CallRecordRow.consultation_id) == consultation_id)
            )
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
                    consultation_id=consultation_id,
                    client_id=row.client_id,
                    reason=reason,
                    order_id=row.order_id,
                    served=domain.served(row.answered_at is not None, calls or 0),
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
                actor_id=actor,
            )
            return await self._view(session, consultation_id), True

    async def _add_stage(
        self,
        session: AsyncSession,
        consultation_id: str,
        stage: str,
        idempotency_key: str,
        *,
        actor: str = "system",
        due_at: datetime | None = None,
        detail: str = "",
    ) -> bool:
        """Insert a stage once per idempotency key; False when it was already recorded (a retry)."""
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
                detail=detail,
            )
            .on_conflict_do_nothing()
            .returning(stages.c.id)
        )
        return inserted.first() is not None

    async def classify(
        self, consultation_id: str, idempotency_key: str, classify: Callable[[str], Prediction]
    ) -> ConsultationRow:
        """Decide the question's legal field once (R-CON-2); a retry returns the first decision."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            if row.legal_field:
                return row
            prediction = classify(row.question)
            row.legal_field = prediction.field
            row.classification_confidence = prediction.confidence
            row.needs_manual_classification = prediction.needs_manual
            row.updated_at = utcnow()
            session.add(row)
            detail = (
                f"not confident ({prediction.confidence:.0%}): an agent classifies it by hand"
                if prediction.needs_manual
                else f"{prediction.field} ({prediction.confidence:.0%})"
            )
            await self._add_stage(session, consultation_id, "classified", idempotency_key, detail=detail)
            await self.outbox.add(
                session,
                "consultation.classified",
                events_pb2.ConsultationClassified(
                    consultation_id=consultation_id,
                    legal_field=prediction.field,
                    needs_manual_classification=prediction.needs_manual,
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
            )
            return row

    async def reclassify(
        self, principal: Principal | None, consultation_id: str, legal_field: str
    ) -> ConsultationView:
        """An agent's classification by hand. An unanswered consultation whose lawyer does not practise the
        new field moves to one who does; reply_due_at and current_due_at do not change."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            domain.validate_reclassification(principal, row.status, legal_field, LEGAL_FIELDS)
            assert principal is not None
            previous = row.legal_field or "-"
            row.legal_field = legal_field
            row.needs_manual_classification = False
            row.updated_at = utcnow()
            session.add(row)
            key = new_id()
            await self._add_stage(
                session,
                consultation_id,
                "classified",
                f"reclassified:{key}",
                actor=principal.user_id,
                detail=f"by an agent: {legal_field} (was {previous})",
            )
            await self.outbox.add(
                session,
                "consultation.classified",
                events_pb2.ConsultationClassified(consultation_id=consultation_id, legal_field=legal_field),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
                actor_id=principal.user_id,
            )
            if row.status == "submitted" or (
                row.status == "assigned"
                and not await self._practises(session, row.assigned_lawyer_id, legal_field)
            ):
                await self._assign(
                    session, row, [], row.current_due_at, f"reassigned:{key}", "reclassified by an agent"
                )
            await session.flush()
            return await self._view(session, consultation_id)

    async def _practises(self, session: AsyncSession, lawyer_id: str, legal_field: str) -> bool:
        if not lawyer_id:
            return False
        found = await session.get(LawyerProjectionRow, lawyer_id)
        return found is not None and legal_field in found.fields

    async def _pick_lawyer(
        self, session: AsyncSession, legal_field: str, exclude: Sequence[str]
    ) -> tuple[LawyerProjectionRow, str] | None:
        lawyers = list(
            (
                await session.exec(
                    select(LawyerProjectionRow)
                    .where(col(LawyerProjectionRow.active).is_(True))
                    .where(col(LawyerProjectionRow.fields).contains([legal_field]))
                    .order_by(col(LawyerProjectionRow.lawyer_id))
                    # Lock the candidates: two concurrent assignments cannot both take the last free place.
                    .with_for_update()
                )
            ).all()
        )
        if not lawyers:
            return None
        load_rows = (
            await session.execute(
                select(col(ConsultationRow.assigned_lawyer_id), func.count())
                .where(col(ConsultationRow.assigned_lawyer_id).in_([lw.lawyer_id for lw in lawyers]))
                .where(col(ConsultationRow.status) == "assigned")
                .group_by(col(ConsultationRow.assigned_lawyer_id))
            )
        ).all()
        load = {lawyer_id: count for lawyer_id, count in load_rows}
        by_id = {lw.lawyer_id: lw for lw in lawyers}
        choice = assignment.choose_lawyer(
            (
                assignment.LawyerCandidate(
                    lw.lawyer_id,
                    lw.fields,
                    lw.active,
                    lw.service_hours,
                    load.get(lw.lawyer_id, 0),
                    lw.max_open,
                    lw.last_assigned_at,
                )
                for lw in lawyers
            ),
            legal_field,
            utcnow(),
            exclude,
        )
        if choice is None:
            return None
        candidate, reason = choice
        lawyer = by_id[candidate.lawyer_id]
        lawyer.last_assigned_at = utcnow()
        session.add(lawyer)
        return lawyer, reason

    async def _assign(
        self,
        session: AsyncSession,
        row: ConsultationRow,
        exclude: Sequence[str],
        due_at: datetime | None,
        idempotency_key: str,
        why: str,
    ) -> tuple[str, str]:
        picked = await self._pick_lawyer(session, row.legal_field or "other", exclude)
        if picked is None:
            reason = f"no eligible {row.legal_field or 'other'} lawyer: left to a supervisor"
            row.assigned_lawyer_id = ""
            row.assignment_reason = reason
            row.current_due_at = due_at
            session.add(row)
            await self._add_stage(
                session, row.id, "awaiting_lawyer", idempotency_key, due_at=due_at, detail=reason
            )
            return "", reason
        lawyer, reason = picked
        reason = f"{why}: {reason}"
        row.assigned_lawyer_id = lawyer.lawyer_id
        row.assignment_reason = reason
        row.current_due_at = due_at
        if row.status != "assigned":
            row.status = domain.next_status(row.status, "assigned")
        row.updated_at = utcnow()
        session.add(row)
        await self._add_stage(
            session,
            row.id,
            "assigned",
            idempotency_key,
            actor=lawyer.lawyer_id,
            due_at=due_at,
            detail=f"assigned to {lawyer.display_name or lawyer.lawyer_id}; {reason}",
        )
        await self.outbox.add(
            session,
            "consultation.assigned",
            events_pb2.ConsultationAssigned(
                consultation_id=row.id, lawyer_id=lawyer.lawyer_id, reason=reason
            ),
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            lawyer_id=row.assigned_lawyer_id,
        )
        return lawyer.lawyer_id, reason

    async def assign(
        self, consultation_id: str, exclude: Sequence[str], due_at: datetime | None, idempotency_key: str
    ) -> tuple[str, str]:
        """Assign an eligible lawyer (see assignment.choose_lawyer); a retry returns the first assignment.
        Returns (lawyer_id, reason); lawyer_id is "" when nobody is eligible."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            if await self._stage_exists(session, consultation_id, idempotency_key):
                return row.assigned_lawyer_id, row.assignment_reason
            if row.status in ("answered", "closed"):
                return row.assigned_lawyer_id, row.assignment_reason
            return await self._assign(session, row, exclude, due_at, idempotency_key, "matched")

    async def escalate(
        self,
        consultation_id: str,
        from_lawyer_id: str,
        missed_due_at: datetime | None,
        exclude: Sequence[str],
        next_due_at: datetime | None,
        idempotency_key: str,
    ) -> tuple[bool, str, str]:
        """A reply deadline passed (R-CON-2): record the breach, alert the supervisor (event), count it and
        reassign. The consultation's reply_due_at (the original promise) does not move. Returns
        (already_answered, to_lawyer_id, reason); a reply recorded before the breach wins the race."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            if row.answered_at is not None or row.status == "closed":
                return True, row.assigned_lawyer_id, row.assignment_reason
            breach_key = f"breach:{idempotency_key}"
            if await self._stage_exists(session, consultation_id, breach_key):
                return False, row.assigned_lawyer_id, row.assignment_reason
            # The row knows who holds it now (an agent's reclassification may have moved it).
            from_lawyer_id = row.assigned_lawyer_id or from_lawyer_id
            exclude = [*exclude, from_lawyer_id] if from_lawyer_id else list(exclude)
            original = row.reply_due_at
            if (
                row.escalations == 0
            ):  # the promise is missed once; later breaches are of the escalations' clocks
                count_deadline(session, "reply_24h", UNTIERED, kept=False)
            row.escalations += 1
            await self._add_stage(
                session,
                consultation_id,
                "escalated",
                breach_key,
                due_at=original,
                detail=(
                    f"reply deadline {_iso(missed_due_at or original)} missed by "
                    f"{from_lawyer_id or 'nobody assigned'}; breach {row.escalations}; "
                    f"original due {_iso(original)}"
                ),
            )
            to_lawyer, reason = await self._assign(
                session, row, exclude, next_due_at, f"reassign:{idempotency_key}", "reassigned after a breach"
            )
            await self.outbox.add(
                session,
                "consultation.escalated",
                events_pb2.ConsultationEscalated(
                    consultation_id=consultation_id,
                    from_lawyer_id=from_lawyer_id,
                    to_lawyer_id=to_lawyer,
                    original_due_at=to_timestamp(original),
                    missed_due_at=to_timestamp(missed_due_at or original),
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
            )
        # Counted once the breach is committed, so a rolled-back attempt and its retry count once.
        SLA_BREACHES.labels("reply_24h").inc()
        return False, to_lawyer, reason

    async def post_message(
        self, principal: Principal | None, consultation_id: str, body: str
    ) -> ConsultationView:
        """Add a follow-up or a reply; the assigned lawyer's first reply answers the consultation."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            role = domain.message_author_role(principal, row.tenant_id, row.assigned_lawyer_id)
            body = domain.validate_message(row.status, body)
            assert principal is not None
            now = utcnow()
            message_id = new_id()
            session.add(
                ConsultationMessageRow(
                    id=message_id,
                    consultation_id=consultation_id,
                    author_id=principal.user_id,
                    author_role=role,
                    body=body,
                    created_at=now,
                )
            )
            first_reply = role == "lawyer" and row.answered_at is None
            if first_reply and row.reply_due_at is not None and row.escalations == 0:
                # Replied before the workflow recorded a breach: this decides the promise, late or not.
                count_deadline(session, "reply_24h", UNTIERED, kept=now <= row.reply_due_at)
            if first_reply:
                row.answered_at = now
                row.status = domain.next_status(row.status, "answered")
                await self._add_stage(
                    session,
                    consultation_id,
                    "answered",
                    f"answered:{consultation_id}",
                    actor=principal.user_id,
                    due_at=row.current_due_at,
                    detail="the assigned lawyer replied",
                )
            row.updated_at = now
            session.add(row)
            await session.flush()
            await self.outbox.add(
                session,
                "consultation.replied",
                events_pb2.ConsultationReplied(
                    consultation_id=consultation_id,
                    author_id=principal.user_id,
                    author_role=role,
                    first_lawyer_reply=first_reply,
                    client_id=row.client_id,
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
                actor_id=principal.user_id,
            )
            return await self._view(session, consultation_id)

    async def lawyer_queue(
        self, lawyer_id: str, limit: int, cursor: str
    ) -> tuple[Sequence[ConsultationRow], str]:
        """The lawyer's assigned, unanswered consultations, earliest due first (no due time last)."""
        due = func.coalesce(col(ConsultationRow.current_due_at), FAR_FUTURE)
        query = (
            select(ConsultationRow)
            .where(ConsultationRow.assigned_lawyer_id == lawyer_id)
            .where(ConsultationRow.status == "assigned")
        )
        if cursor:
            values = decode_cursor(cursor)
            try:
                after, last_id = cursor_time(values[0]), str(values[1])
            except (IndexError, TypeError, ValueError) as exc:
                raise InvalidArgument.for_field("cursor", "is not a cursor this API issued") from exc
            query = query.where((due > after) | ((due == after) & (col(ConsultationRow.id) > last_id)))
        query = query.order_by(due, col(ConsultationRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        if len(rows) <= limit:
            return rows, ""
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.current_due_at or FAR_FUTURE, last.id)

    async def at_risk(self, window: timedelta, limit: int) -> Sequence[ConsultationRow]:
        """Unanswered consultations with a reply clock due within `window` from now (overdue included)."""
        query = (
            select(ConsultationRow)
            .where(col(ConsultationRow.status).in_(("submitted", "assigned")))
            .where(col(ConsultationRow.current_due_at).is_not(None))
            .where(col(ConsultationRow.current_due_at) <= utcnow() + window)
            .order_by(col(ConsultationRow.current_due_at), col(ConsultationRow.id))
            .limit(limit)
        )
        async with self.db.transaction() as session:
            return list((await session.exec(query)).all())

    async def rate(
        self, principal: Principal | None, consultation_id: str, rating: int, comment: str
    ) -> ConsultationView:
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            comment = domain.validate_rating(
                principal, row.tenant_id, row.status, row.rating, rating, comment
            )
            assert principal is not None
            row.rating, row.rating_comment, row.updated_at = rating, comment, utcnow()
            session.add(row)
            await self._add_stage(
                session, consultation_id, "rated", f"rated:{consultation_id}", actor=principal.user_id
            )
            await self.outbox.add(
                session,
                "consultation.rated",
                events_pb2.ConsultationRated(
                    consultation_id=consultation_id, lawyer_id=row.assigned_lawyer_id, rating=rating
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
                actor_id=principal.user_id,
            )
            return await self._view(session, consultation_id)

    async def raise_complaint(
        self, principal: Principal | None, consultation_id: str, body: str
    ) -> ComplaintRow:
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            body = domain.validate_complaint(principal, row.tenant_id, body)
            assert principal is not None
            now = utcnow()
            complaint = ComplaintRow(
                id=new_id(),
                consultation_id=consultation_id,
                tenant_id=row.tenant_id,
                client_id=principal.user_id,
                status="open",
                body=body,
                created_at=now,
                updated_at=now,
            )
            session.add(complaint)
            await session.flush()
            await self._add_stage(
                session,
                consultation_id,
                "complaint_raised",
                f"complaint:{complaint.id}",
                actor=principal.user_id,
            )
            await self._complaint_event(session, "complaint.raised", complaint, principal.user_id)
            return complaint

    async def list_complaints(
        self, principal: Principal | None, status: str, limit: int, cursor: str
    ) -> tuple[Sequence[ComplaintRow], str]:
        if principal is None:
            raise Unauthenticated("sign in to see complaints")
        query = select(ComplaintRow)
        if principal.is_client:
            query = query.where(ComplaintRow.tenant_id == principal.tenant_id)
        else:
            domain.require_complaint_handler(principal)
        if status:
            if status not in domain.COMPLAINT_STATUSES:
                raise InvalidArgument.for_field(
                    "status", f"must be one of {', '.join(domain.COMPLAINT_STATUSES)}"
                )
            query = query.where(ComplaintRow.status == status)
        query = newest_first(query, col(ComplaintRow.created_at), col(ComplaintRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    async def update_complaint(
        self, principal: Principal | None, complaint_id: str, status: str, resolution: str
    ) -> ComplaintRow:
        agent = domain.require_complaint_handler(principal)
        async with self.db.transaction() as session:
            complaint = (
                await session.exec(
                    select(ComplaintRow).where(ComplaintRow.id == complaint_id).with_for_update()
                )
            ).first()
            if complaint is None:
                raise NotFound("no such complaint")
            complaint.status = domain.next_complaint_status(complaint.status, status, resolution)
            complaint.handled_by = agent.user_id
            if status == "resolved":
                complaint.resolution = resolution.strip()
            complaint.updated_at = utcnow()
            session.add(complaint)
            await self._add_stage(
                session,
                complaint.consultation_id,
                f"complaint_{status}",
                f"complaint:{complaint.id}:{status}",
                actor=agent.user_id,
            )
            await self._complaint_event(session, f"complaint.{status}", complaint, agent.user_id)
            return complaint

    async def _complaint_event(
        self, session: AsyncSession, event_type: str, complaint: ComplaintRow, actor_id: str
    ) -> None:
        await self.outbox.add(
            session,
            event_type,
            events_pb2.ComplaintChanged(
                complaint_id=complaint.id, consultation_id=complaint.consultation_id, status=complaint.status
            ),
            aggregate_id=complaint.id,
            tenant_id=complaint.tenant_id,
            actor_id=actor_id,
        )

    async def start_call(
        self, principal: Principal | None, consultation_id: str, lawyer_id: str, telephony: TelephonyProvider
    ) -> CallRecordRow:
        """An agent bridges the phone consultation to a lawyer through the provider; the record is kept."""
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            if not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such consultation")
            found = await session.get(LawyerProjectionRow, lawyer_id) if lawyer_id else None
            agent = domain.validate_start_call(
                principal, row.kind, row.status, found.active if found else None
            )
            call_id = new_id()
            provider_call_id = await telephony.bridge(call_id, agent.user_id, lawyer_id)
            call = CallRecordRow(
                id=call_id,
                consultation_id=consultation_id,
                agent_id=agent.user_id,
                lawyer_id=lawyer_id,
                status="connected",
                started_at=utcnow(),
                provider=telephony.name,
                provider_call_id=provider_call_id,
            )
            session.add(call)
            await session.flush()
            await self._add_stage(
                session,
                consultation_id,
                "call_connected",
                f"call:{call_id}:connected",
                actor=agent.user_id,
                detail=f"bridged to lawyer {lawyer_id} via {telephony.name}",
            )
            await self._call_event(session, "call.connected", call, row.tenant_id, agent.user_id)
            return call

    async def end_call(
        self,
        principal: Principal | None,
        consultation_id: str,
        call_id: str,
        outcome: str,
        telephony: TelephonyProvider,
    ) -> CallRecordRow:
        async with self.db.transaction() as session:
            row = await self._locked(session, consultation_id)
            call = (
                await session.exec(
                    select(CallRecordRow)
                    .where(CallRecordRow.id == call_id)
                    .where(CallRecordRow.consultation_id == consultation_id)
                    .with_for_update()
                )
            ).first()
            if call is None or not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such call")
            agent, outcome = domain.validate_end_call(principal, call.status, outcome)
            call.recording_ref = await telephony.hang_up(call.provider_call_id)
            call.ended_at = utcnow()
            call.duration_seconds = max(0, round((call.ended_at - call.started_at).total_seconds()))
            call.outcome = outcome
            call.status = "ended"
            session.add(call)
            await self._add_stage(
                session,
                consultation_id,
                "call_ended",
                f"call:{call_id}:ended",
                actor=agent.user_id,
                detail=f"{call.duration_seconds} s with lawyer {call.lawyer_id}",
            )
            await self._call_event(session, "call.ended", call, row.tenant_id, agent.user_id)
            return call

    async def _call_event(
        self, session: AsyncSession, event_type: str, call: CallRecordRow, tenant_id: str, actor_id: str
    ) -> None:
        await self.outbox.add(
            session,
            event_type,
            events_pb2.CallChanged(
                call_id=call.id,
                consultation_id=call.consultation_id,
                lawyer_id=call.lawyer_id,
                status=call.status,
            ),
            aggregate_id=call.consultation_id,
            tenant_id=tenant_id,
            actor_id=actor_id,
            lawyer_id=call.lawyer_id,
        )

    async def open_timers(self) -> dict[str, int]:
        """Deadlines running now for counsel_sla_timers_pending: a reply promised (reply_due_at) and not
        given yet on an open consultation, which its workflow races with a Temporal timer."""
        return {"reply_24h": await self._count_reply_clocks()}

    async def timers_at_risk(self) -> dict[str, int]:
        """Of the reply clocks open_timers counts, those with less than AT_RISK_SHARE of the reply window left
        (measured on the current lawyer's due time, overdue included) and no reply yet."""
        window_seconds = func.extract(
            "epoch", col(ConsultationRow.reply_due_at) - col(ConsultationRow.created_at)
        )
        window = func.make_interval(0, 0, 0, 0, 0, 0, window_seconds * AT_RISK_SHARE)
        return {
            "reply_24h": await self._count_reply_clocks(
                col(ConsultationRow.current_due_at) - window <= utcnow()
            )
        }

    async def _count_reply_clocks(self, *conditions: ColumnElement[bool]) -> int:
        """Open consultations with a reply promised and not given yet (and `conditions`)."""
        async with self.db.transaction() as session:
            count = await session.scalar(
                sa_select(func.count())
                .select_from(ConsultationRow)
                .where(col(ConsultationRow.reply_due_at).is_not(None))
                .where(col(ConsultationRow.answered_at).is_(None))
                .where(col(ConsultationRow.status) != "closed")
                .where(*conditions)
            )
        return int(count or 0)

    async def apply_lawyer_changed(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        """Durable-consumer handler of the catalog's `lawyer.changed`: the projection row of the lawyer's
        identity account takes the profile's fields, activation and service hours, so activating,
        deactivating or editing a lawyer in the catalog changes who can be assigned. A change older than
        the one the row holds is ignored (redelivery out of order); capacity (max_open) stays local."""
        changed = unpack(envelope, catalog_events.LawyerChanged)
        assert isinstance(changed, catalog_events.LawyerChanged)
        if not changed.user_id:
            return  # no identity account: nobody to assign work to
        when = from_timestamp(changed.updated_at if changed.HasField("updated_at") else envelope.occurred_at)
        table = LawyerProjectionRow.__table__  # type: ignore[attr-defined]
        values = {
            "display_name": changed.name,
            "fields": list(changed.fields),
            "active": changed.active,
            "service_hours": assignment.service_hours_from_catalog(
                (w.weekday, w.start, w.end) for w in changed.service_hours
            ),
            "updated_at": when,
        }
        await session.execute(
            pg_insert(table)
            .values(lawyer_id=changed.user_id, max_open=20, **values)
            .on_conflict_do_update(
                index_elements=[table.c.lawyer_id], set_=values, where=table.c.updated_at <= when
            )
        )

    async def upsert_lawyer(self, lawyer: LawyerProjectionRow, *, only_if_absent: bool = False) -> None:
        """Insert or update one lawyer of the projection; `only_if_absent` (the demo seed) never overwrites
        what the catalog's events put there."""
        table = LawyerProjectionRow.__table__  # type: ignore[attr-defined]
        values = lawyer.model_dump()
        if only_if_absent:
            async with self.db.transaction() as session:
                await session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
            return
        async with self.db.transaction() as session:
            await session.execute(
                pg_insert(table)
                .values(**values)
                .on_conflict_do_update(
                    index_elements=[table.c.lawyer_id],
                    set_={k: v for k, v in values.items() if k not in ("lawyer_id", "last_assigned_at")},
                )
            )

    async def _stage_exists(self, session: AsyncSession, consultation_id: str, idempotency_key: str) -> bool:
        found = (
            await session.exec(
                select(ConsultationStageRow.id)
                .where(ConsultationStageRow.consultation_id == consultation_id)
                .where(ConsultationStageRow.idempotency_key == idempotency_key)
            )
        ).first()
        return found is not None

    async def _locked(self, session: AsyncSession, consultation_id: str) -> ConsultationRow:
        return await get_or_404(session, ConsultationRow, consultation_id, "consultation", for_update=True)

    async def _view(self, session: AsyncSession, consultation_id: str) -> ConsultationView:
        row = await get_or_404(session, ConsultationRow, consultation_id, "consultation")
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
        calls = (
            await session.exec(
                select(CallRecordRow)
                .where(CallRecordRow.consultation_id == consultation_id)
                .order_by(col(CallRecordRow.started_at), col(CallRecordRow.id))
            )
        ).all()
        return ConsultationView(row, list(stages), list(messages), list(calls))
