"""Complaints about a client's services (R-CS-3, §6.1.4.4): a consultation, document order, booking or order.
Raised by the client, worked by agents to a resolution that the client accepts or reopens, each step
published (the ComplaintWorkflow keeps the response clock from these events, services/consultation/
workflow_link.py) and, for a consultation, on its history too. The response clock's outcome is counted in
counsel_sla_deadlines{kind="complaint_response"} once per clock: at the resolution, or at the breach."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import TABLES, ComplaintRow
from services.consultation.store.base import add_stage, locked_consultation
from services.consultation.store.sealed import (
    COMPLAINT_BODY,
    COMPLAINT_REOPEN_REASON,
    COMPLAINT_RESOLUTION,
    case_subject,
    open_complaints,
)
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import InvalidArgument, NotFound, Unauthenticated
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.metrics import SLA_BREACHES, UNTIERED, count_deadline
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    to_timestamp,
    utcnow,
)


class Complaints:
    """The complaint's body, resolution and reopen reason are sealed with the client's data key
    (store/sealed.py); every method returns its rows opened."""

    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def raise_complaint(
        self,
        principal: Principal | None,
        subject_type: str,
        subject_id: str,
        body: str,
        idempotency_key: str = "",
    ) -> ComplaintRow:
        """A new open complaint with its response clock, or the first one raised with `idempotency_key`.
        A consultation must be the client's enterprise's (NotFound); other subjects the caller checked."""
        client, new = domain.validate_complaint(principal, subject_type, subject_id, body)
        complaint_id = new_id()
        async with self.db.transaction() as session:
            if new.subject_type == "consultation":
                consultation = await locked_consultation(session, new.subject_id)
                if consultation.tenant_id != client.tenant_id:
                    raise NotFound("no such consultation")
            existing = None
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"complaint:{client.user_id}",
                    idempotency_key,
                    request_fingerprint(new.subject_type, new.subject_id, new.body),
                    complaint_id,
                )
            if existing is not None:
                complaint = await get_or_404(session, ComplaintRow, existing, "complaint")
            else:
                complaint = await self._add(session, client, new, complaint_id)
        # Opened once its transaction has ended: an opened value is never flushed back.
        return await self._opened(complaint)

    async def _add(
        self, session: AsyncSession, client: Principal, new: domain.NewComplaint, complaint_id: str
    ) -> ComplaintRow:
        """The complaint's row, sealed, and its `complaint.raised`, in the caller's transaction."""
        cipher = await self.keys.cipher(owner_subject(client.tenant_id, client.user_id))
        now = utcnow()
        complaint = ComplaintRow(
            id=complaint_id,
            subject_type=new.subject_type,
            subject_id=new.subject_id,
            consultation_id=new.subject_id if new.subject_type == "consultation" else None,
            tenant_id=client.tenant_id,
            client_id=client.user_id,
            status="open",
            body=cipher.seal(COMPLAINT_BODY, new.body),
            due_at=now + domain.COMPLAINT_RESPONSE_WITHIN,
            created_at=now,
            updated_at=now,
        )
        session.add(complaint)
        await session.flush()
        await self._record(session, complaint, "raised", client.user_id)
        return complaint

    async def get_complaint(self, principal: Principal | None, complaint_id: str) -> ComplaintRow:
        async with self.db.transaction() as session:
            complaint = await get_or_404(session, ComplaintRow, complaint_id, "complaint")
        domain.require_complaint_reader(principal, complaint.tenant_id)
        return await self._opened(complaint)

    async def list_complaints(
        self, principal: Principal | None, status: str, limit: int, cursor: str
    ) -> tuple[Sequence[ComplaintRow], str]:
        """One page, newest first: a client's enterprise's complaints, or every one for agents."""
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
        await open_complaints(self.keys, rows)
        return page_of(rows, limit)

    async def update_complaint(
        self, principal: Principal | None, complaint_id: str, status: str, resolution: str
    ) -> ComplaintRow:
        """An agent takes a complaint on or resolves it; resolving stops the response clock."""
        agent = domain.require_complaint_handler(principal)
        async with self.db.transaction() as session:
            complaint = await _locked(session, complaint_id)
            move = domain.agent_complaint_move(complaint.status, status, resolution)
            now = utcnow()
            if move.status == "resolved":
                if complaint.escalated_at is None and complaint.due_at is not None:
                    count_deadline(
                        session,
                        domain.COMPLAINT_CLOCK,
                        UNTIERED,
                        kept=domain.complaint_clock_kept(now, complaint.due_at),
                    )
                cipher = await self.keys.cipher(case_subject(complaint))
                complaint.resolution = cipher.seal(COMPLAINT_RESOLUTION, move.resolution)
                complaint.due_at = None
            complaint.status = move.status
            complaint.handled_by = agent.user_id
            complaint.updated_at = now
            session.add(complaint)
            await self._record(session, complaint, move.status, agent.user_id)
        return await self._opened(complaint)

    async def reopen_complaint(
        self, principal: Principal | None, complaint_id: str, reason: str
    ) -> ComplaintRow:
        """The client reopens a resolution with a reason; a new response clock starts."""
        async with self.db.transaction() as session:
            complaint = await _locked(session, complaint_id)
            client = domain.require_complaint_client(principal, complaint.tenant_id)
            complaint.status = domain.next_complaint_status(complaint.status, "reopened")
            cipher = await self.keys.cipher(case_subject(complaint))
            complaint.reopen_reason = cipher.seal(
                COMPLAINT_REOPEN_REASON, domain.validate_reopen_reason(reason)
            )
            now = utcnow()
            complaint.due_at = now + domain.COMPLAINT_RESPONSE_WITHIN
            complaint.escalated_at = None
            complaint.updated_at = now
            session.add(complaint)
            await self._record(session, complaint, "reopened", client.user_id)
        return await self._opened(complaint)

    async def accept_complaint(self, principal: Principal | None, complaint_id: str) -> ComplaintRow:
        """The client accepts the resolution: closed."""
        async with self.db.transaction() as session:
            complaint = await _locked(session, complaint_id)
            client = domain.require_complaint_client(principal, complaint.tenant_id)
            await self._close(session, complaint, client.user_id)
        return await self._opened(complaint)

    async def close_unanswered(self, complaint_id: str) -> ComplaintRow:
        """The ComplaintWorkflow closes a resolution the client left unanswered; a closed complaint, or one
        reopened meanwhile, stays as it is."""
        async with self.db.transaction() as session:
            complaint = await _locked(session, complaint_id)
            if complaint.status == "resolved":
                await self._close(session, complaint, "system")
        return await self._opened(complaint)

    async def escalate(self, complaint_id: str, missed_due_at: datetime) -> bool:
        """The ComplaintWorkflow's clock due at `missed_due_at` ran out: record the breach once and tell the
        supervisors (event `complaint.escalated`). False when it no longer stands (resolved meanwhile,
        reopened with a new clock) or was recorded already (a retry)."""
        async with self.db.transaction() as session:
            complaint = await _locked(session, complaint_id)
            if complaint.escalated_at is not None or not domain.complaint_breach_applies(
                complaint.status, complaint.due_at, missed_due_at
            ):
                return False
            complaint.escalated_at = complaint.updated_at = utcnow()
            session.add(complaint)
            count_deadline(session, domain.COMPLAINT_CLOCK, UNTIERED, kept=False)
            SLA_BREACHES.labels(domain.COMPLAINT_CLOCK).inc()
            await self._record(session, complaint, "escalated", "system")
            return True

    async def _opened(self, complaint: ComplaintRow) -> ComplaintRow:
        """`complaint` with its sealed fields in plaintext: after its transaction, never flushed back."""
        await open_complaints(self.keys, [complaint])
        return complaint

    async def _close(self, session: AsyncSession, complaint: ComplaintRow, actor_id: str) -> None:
        complaint.status = domain.next_complaint_status(complaint.status, "closed")
        complaint.updated_at = utcnow()
        session.add(complaint)
        await self._record(session, complaint, "closed", actor_id)

    async def _record(self, session: AsyncSession, complaint: ComplaintRow, step: str, actor_id: str) -> None:
        """Publish the step (`complaint.<step>`) and put it on the consultation's history when it is one."""
        if complaint.consultation_id:
            await add_stage(
                session,
                complaint.consultation_id,
                f"complaint_{step}",
                f"complaint:{complaint.id}:{step}:{complaint.updated_at.isoformat()}",
                actor=actor_id,
            )
        await self.outbox.add(
            session,
            f"complaint.{step}",
            events_pb2.ComplaintChanged(
                complaint_id=complaint.id,
                consultation_id=complaint.consultation_id or "",
                status=complaint.status,
                subject_type=complaint.subject_type,
                subject_id=complaint.subject_id,
                client_id=complaint.client_id,
                due_at=to_timestamp(complaint.due_at),
            ),
            aggregate_id=complaint.id,
            tenant_id=complaint.tenant_id,
            actor_id=actor_id,
        )


async def _locked(session: AsyncSession, complaint_id: str) -> ComplaintRow:
    return await get_or_404(session, ComplaintRow, complaint_id, "complaint", for_update=True)
