"""Classification and assignment (R-CON-2): a question's legal field decided once (or by an agent's hand),
an eligible lawyer of that field chosen by the shared ranking rules, and a missed reply deadline recorded,
counted and reassigned."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import ConsultationRow, LawyerProjectionRow
from services.consultation.store.base import (
    ConsultationView,
    add_stage,
    consultation_view,
    locked_consultation,
    stage_recorded,
)
from services.consultation.store.sealed import QUESTION, case_subject, open_view
from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELDS
from services.legal_fields.classifier import Prediction
from services.rules import assignment
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.metrics import SLA_BREACHES, UNTIERED, count_deadline
from services.runtime.records import new_id, to_timestamp, utcnow


class Assignments:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def classify(
        self, consultation_id: str, idempotency_key: str, classify: Callable[[str], Prediction]
    ) -> ConsultationRow:
        """Decide the question's legal field once (R-CON-2); a retry returns the first decision."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            if row.legal_field:
                return row
            cipher = await self.keys.cipher(case_subject(row))
            decided = domain.classification(classify(opened(cipher, QUESTION, row.question)))
            row.legal_field = decided.legal_field
            row.classification_confidence = decided.confidence
            row.needs_manual_classification = decided.needs_manual
            row.updated_at = utcnow()
            session.add(row)
            await add_stage(session, consultation_id, "classified", idempotency_key, detail=decided.detail)
            await self.outbox.add(
                session,
                "consultation.classified",
                events_pb2.ConsultationClassified(
                    consultation_id=consultation_id,
                    legal_field=decided.legal_field,
                    needs_manual_classification=decided.needs_manual,
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
                client_id=row.client_id,
            )
            return row

    async def reclassify(
        self, principal: Principal | None, consultation_id: str, legal_field: str
    ) -> ConsultationView:
        """An agent's classification by hand. An unanswered consultation whose lawyer does not practise the
        new field moves to one who does; reply_due_at and current_due_at do not change."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            domain.validate_reclassification(principal, row.status, legal_field, LEGAL_FIELDS)
            assert principal is not None
            previous = row.legal_field or "-"
            row.legal_field = legal_field
            row.needs_manual_classification = False
            row.updated_at = utcnow()
            session.add(row)
            key = new_id()
            await add_stage(
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
                client_id=row.client_id,
            )
            # Only an assigned consultation's lawyer is looked up (a submitted one is assigned regardless).
            practises = row.status == "assigned" and await _practises(
                session, row.assigned_lawyer_id, legal_field
            )
            if domain.reassigns_after_reclassification(row.status, practises):
                await self._assign(
                    session, row, [], row.current_due_at, f"reassigned:{key}", "reclassified by an agent"
                )
            await session.flush()
            view = await consultation_view(session, consultation_id)
        return await open_view(self.keys, view)

    async def assign(
        self, consultation_id: str, exclude: Sequence[str], due_at: datetime | None, idempotency_key: str
    ) -> domain.Assignment:
        """Assign an eligible lawyer (see assignment.choose_lawyer); a retry, or a consultation already
        answered or closed, returns the current assignment. `lawyer_id` is "" when nobody is eligible."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            recorded = await stage_recorded(session, consultation_id, idempotency_key)
            if not domain.assignment_due(row.status, recorded):
                return domain.Assignment(row.assigned_lawyer_id, row.assignment_reason)
            return await self._assign(session, row, exclude, due_at, idempotency_key, "matched")

    async def escalate(
        self,
        consultation_id: str,
        from_lawyer_id: str,
        missed_due_at: datetime | None,
        exclude: Sequence[str],
        next_due_at: datetime | None,
        idempotency_key: str,
    ) -> domain.Escalation:
        """A reply deadline passed (R-CON-2): record the breach, alert the supervisor (event), count it and
        reassign. The consultation's reply_due_at (the original promise) does not move; a reply recorded
        before the breach wins the race."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            if row.answered_at is not None or row.status == "closed":
                return domain.Escalation(True, row.assigned_lawyer_id, row.assignment_reason)
            breach_key = f"breach:{idempotency_key}"
            if await stage_recorded(session, consultation_id, breach_key):
                return domain.Escalation(False, row.assigned_lawyer_id, row.assignment_reason)
            original = row.reply_due_at
            if (
                row.escalations == 0
            ):  # the promise is missed once; later breaches are of the escalations' clocks
                count_deadline(session, "reply_24h", UNTIERED, kept=False)
            row.escalations += 1
            breach = domain.breach(
                row.assigned_lawyer_id, from_lawyer_id, exclude, missed_due_at, original, row.escalations
            )
            await add_stage(
                session, consultation_id, "escalated", breach_key, due_at=original, detail=breach.detail
            )
            reassigned = await self._assign(
                session,
                row,
                breach.exclude,
                next_due_at,
                f"reassign:{idempotency_key}",
                "reassigned after a breach",
            )
            await self.outbox.add(
                session,
                "consultation.escalated",
                events_pb2.ConsultationEscalated(
                    consultation_id=consultation_id,
                    from_lawyer_id=breach.from_lawyer_id,
                    to_lawyer_id=reassigned.lawyer_id,
                    original_due_at=to_timestamp(original),
                    missed_due_at=to_timestamp(missed_due_at or original),
                ),
                aggregate_id=consultation_id,
                tenant_id=row.tenant_id,
                lawyer_id=row.assigned_lawyer_id,
            )
        # Counted once the breach is committed, so a rolled-back attempt and its retry count once.
        SLA_BREACHES.labels("reply_24h").inc()
        return domain.Escalation(False, reassigned.lawyer_id, reassigned.reason)

    async def _assign(
        self,
        session: AsyncSession,
        row: ConsultationRow,
        exclude: Sequence[str],
        due_at: datetime | None,
        idempotency_key: str,
        why: str,
    ) -> domain.Assignment:
        """Assign the locked consultation `row` in the caller's transaction: to the best eligible lawyer of
        its field with `consultation.assigned`, or to nobody (a supervisor decides) with the stage
        `awaiting_lawyer`."""
        field = row.legal_field or FALLBACK_FIELD
        lawyer = await _pick_lawyer(session, field, exclude)
        decided = domain.assignment(
            row.legal_field, (lawyer[0].lawyer_id, lawyer[1]) if lawyer else None, why
        )
        row.assigned_lawyer_id = decided.lawyer_id
        row.assignment_reason = decided.reason
        row.current_due_at = due_at
        if lawyer is None:
            session.add(row)
            await add_stage(
                session, row.id, "awaiting_lawyer", idempotency_key, due_at=due_at, detail=decided.reason
            )
            return decided
        chosen = lawyer[0]
        if row.status != "assigned":
            row.status = domain.next_status(row.status, "assigned")
        row.updated_at = utcnow()
        session.add(row)
        await add_stage(
            session,
            row.id,
            "assigned",
            idempotency_key,
            actor=chosen.lawyer_id,
            due_at=due_at,
            detail=f"assigned to {chosen.display_name or chosen.lawyer_id}; {decided.reason}",
        )
        await self.outbox.add(
            session,
            "consultation.assigned",
            events_pb2.ConsultationAssigned(
                consultation_id=row.id, lawyer_id=chosen.lawyer_id, reason=decided.reason
            ),
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            lawyer_id=row.assigned_lawyer_id,
        )
        return decided


async def _practises(session: AsyncSession, lawyer_id: str, legal_field: str) -> bool:
    if not lawyer_id:
        return False
    found = await session.get(LawyerProjectionRow, lawyer_id)
    return found is not None and legal_field in found.fields


async def _pick_lawyer(
    session: AsyncSession, legal_field: str, exclude: Sequence[str]
) -> tuple[LawyerProjectionRow, str] | None:
    """The best eligible lawyer of `legal_field` and the ranking's reason, marked as just assigned; None
    when nobody is eligible."""
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
