"""Consultations (R-CON-1..3, R-INFO-4): submitted (spending a paid consultation order once), listed as each
caller may see them, moved on by their workflow's stage records, answered through messages, rated, closed;
the lawyer's queue and the agents' at-risk list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from counsel.consultation.v1 import events_pb2
from services.consultation import domain, major
from services.consultation.models import (
    STAFF_READS,
    TABLES,
    CallRecordRow,
    ConsultationMessageRow,
    ConsultationRow,
    ConsultationStageRow,
)
from services.consultation.store.base import (
    ConsultationView,
    add_stage,
    consultation_view,
    locked_consultation,
)
from services.consultation.store.sealed import (
    MESSAGE_BODY,
    QUESTION,
    RATING_COMMENT,
    case_subject,
    open_consultations,
    open_view,
)
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import Conflict, NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.metrics import AT_RISK_SHARE, UNTIERED, count_deadline, due_in
from services.runtime.records import (
    claim_idempotency_key,
    encode_cursor,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    time_keyset,
    to_timestamp,
    utcnow,
)

# Sorts consultations without a due time after every real one in the lawyer's queue.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CreatedConsultation:
    """The consultation a create returned, and whether this call created it (False: an Idempotency-Key
    replay)."""

    view: ConsultationView
    created: bool


@dataclass(frozen=True)
class Closed:
    """The consultation after a close, and whether this call closed it (False: it was closed already)."""

    view: ConsultationView
    closed_now: bool


class Consultations:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def create(
        self,
        principal: Principal,
        new: domain.NewConsultation,
        idempotency_key: str,
        reply_within: timedelta | None = domain.DEFAULT_REPLY_WITHIN,
        spends_order: bool = False,
    ) -> CreatedConsultation:
        """Store a consultation and its `consultation.submitted` event; `reply_within` (from the order's
        tier, see domain.reply_within) sets `reply_due_at`, None for no reply clock; `spends_order` (see
        domain.spends_order) uses its order up, Conflict (order_used) when another consultation did. A replay
        with the same idempotency key returns the first consultation, created=False."""
        try:
            created = await self._create(principal, new, idempotency_key, reply_within, spends_order)
        except IntegrityError as exc:
            if "uq_consultations_spent_order" not in str(exc):
                raise
            raise Conflict(
                "order_id has paid for a consultation already: one paid order serves one consultation",
                reason="order_used",
            ) from None
        return CreatedConsultation(await open_view(self.keys, created.view), created.created)

    async def _create(
        self,
        principal: Principal,
        new: domain.NewConsultation,
        idempotency_key: str,
        reply_within: timedelta | None,
        spends_order: bool,
    ) -> CreatedConsultation:
        consultation_id = new_id()
        cipher = await self.keys.cipher(owner_subject(principal.tenant_id, principal.user_id))
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
                    return CreatedConsultation(await consultation_view(session, existing), False)
            now = utcnow()
            reply_due_at = domain.reply_due_at(new.kind, now, reply_within)
            row = ConsultationRow(
                id=consultation_id,
                tenant_id=principal.tenant_id,
                client_id=principal.user_id,
                kind=new.kind,
                status="submitted",
                subject=new.subject,
                question=cipher.seal(QUESTION, new.question),
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
            return CreatedConsultation(await consultation_view(session, consultation_id), True)

    async def get(self, principal: Principal | None, consultation_id: str) -> ConsultationView:
        """The consultation with its stages, messages and calls; NotFound when the caller may not see it (a
        major matter's team sees it like its assigned lawyer). A staff member's read is written to the staff
        access log."""
        async with self.db.transaction() as session:
            view = await consultation_view(session, consultation_id)
            row = view.row
            if not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id) and not major.on_team(
                principal, view.major.team if view.major is not None else ()
            ):
                raise NotFound("no such consultation")  # never reveal another tenant's objects
            await STAFF_READS.record(session, principal, "consultation", row.id, row)
        return await open_view(self.keys, view)

    async def list(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[ConsultationRow], str]:
        """One page, newest first: a client's enterprise's, a firm's lawyers' (`firm_lawyers`), a lawyer's
        own, or every consultation for staff."""
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
        await open_consultations(self.keys, rows)
        return page_of(rows, limit)

    async def record_stage(
        self, consultation_id: str, stage: str, actor: str, due_at: datetime | None, idempotency_key: str
    ) -> ConsultationView:
        """Record a workflow stage once per idempotency key and move the status it implies."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            if await add_stage(session, consultation_id, stage, idempotency_key, actor=actor, due_at=due_at):
                status = domain.status_after_stage(row.status, stage)
                if status is not None:
                    row.status = status
                    row.updated_at = utcnow()
                    session.add(row)
            view = await consultation_view(session, consultation_id)
        return await open_view(self.keys, view)

    async def close(self, principal: Principal | None, consultation_id: str, reason: str) -> Closed:
        """Close the consultation (idempotent) with `consultation.closed`, which says whether it was served
        (its paid order completes) or not (the order is refunded)."""
        closed = await self._close(principal, consultation_id, reason)
        return Closed(await open_view(self.keys, closed.view), closed.closed_now)

    async def _close(self, principal: Principal | None, consultation_id: str, reason: str) -> Closed:
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            if not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such consultation")
            if row.status == "closed":
                return Closed(await consultation_view(session, consultation_id), False)
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
            return Closed(await consultation_view(session, consultation_id), True)

    async def post_message(
        self, principal: Principal | None, consultation_id: str, body: str
    ) -> ConsultationView:
        """Add a follow-up or a reply; the assigned lawyer's first reply answers the consultation."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            role = domain.message_author_role(principal, row.tenant_id, row.assigned_lawyer_id)
            body = domain.validate_message(row.status, body)
            assert principal is not None
            cipher = await self.keys.cipher(case_subject(row))
            now = utcnow()
            session.add(
                ConsultationMessageRow(
                    id=new_id(),
                    consultation_id=consultation_id,
                    author_id=principal.user_id,
                    author_role=role,
                    body=cipher.seal(MESSAGE_BODY, body),
                    created_at=now,
                )
            )
            first_reply = domain.is_first_reply(role, row.answered_at is not None)
            if first_reply and row.reply_due_at is not None and row.escalations == 0:
                # Replied before the workflow recorded a breach: this decides the promise, late or not.
                count_deadline(session, "reply_24h", UNTIERED, kept=now <= row.reply_due_at)
            if first_reply:
                row.answered_at = now
                row.status = domain.next_status(row.status, "answered")
                await add_stage(
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
            view = await consultation_view(session, consultation_id)
        return await open_view(self.keys, view)

    async def rate(
        self, principal: Principal | None, consultation_id: str, rating: int, comment: str
    ) -> ConsultationView:
        """The client's rating of an answered consultation, once (R-Q-1)."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            comment = domain.validate_rating(
                principal, row.tenant_id, row.status, row.rating, rating, comment
            )
            assert principal is not None
            cipher = await self.keys.cipher(case_subject(row))
            row.rating, row.updated_at = rating, utcnow()
            row.rating_comment = cipher.seal(RATING_COMMENT, comment)
            session.add(row)
            await add_stage(
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
            view = await consultation_view(session, consultation_id)
        return await open_view(self.keys, view)

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
            after, last_id = time_keyset(cursor)
            query = query.where((due > after) | ((due == after) & (col(ConsultationRow.id) > last_id)))
        query = query.order_by(due, col(ConsultationRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        await open_consultations(self.keys, rows)
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
            rows = list((await session.exec(query)).all())
        await open_consultations(self.keys, rows)
        return rows

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

    async def timers_due(self, now: datetime) -> dict[tuple[str, str], int]:
        """The reply clocks open_timers counts, by when the reply promised to the client falls due."""
        bucket = due_in(col(ConsultationRow.reply_due_at), now)
        async with self.db.transaction() as session:
            rows = await session.execute(self._reply_clocks(bucket, func.count()).group_by(bucket))
        return {("reply_24h", str(name)): int(count) for name, count in rows}

    async def _count_reply_clocks(self, *conditions: ColumnElement[bool]) -> int:
        """Open consultations with a reply promised and not given yet (and `conditions`)."""
        async with self.db.transaction() as session:
            count = await session.scalar(self._reply_clocks(func.count()).where(*conditions))
        return int(count or 0)

    @staticmethod
    def _reply_clocks(*columns: Any) -> Select[Any]:
        """SELECT `columns` over the open consultations with a reply promised and not given yet."""
        return (
            sa_select(*columns)
            .select_from(ConsultationRow)
            .where(col(ConsultationRow.reply_due_at).is_not(None))
            .where(col(ConsultationRow.answered_at).is_(None))
            .where(col(ConsultationRow.status) != "closed")
        )
