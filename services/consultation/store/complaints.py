"""Complaints about a consultation (R-CS-3, §6.1.4.4): raised by the client, tracked by agents from open to
resolved, each step on the consultation's history and published."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import ComplaintRow
from services.consultation.store.base import add_stage, locked_consultation
from services.consultation.store.sealed import (
    COMPLAINT_BODY,
    COMPLAINT_RESOLUTION,
    case_subject,
    open_complaints,
)
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound, Unauthenticated
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.records import new_id, newest_first, page_of, utcnow


class Complaints:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def raise_complaint(
        self, principal: Principal | None, consultation_id: str, body: str
    ) -> ComplaintRow:
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            body = domain.validate_complaint(principal, row.tenant_id, body)
            assert principal is not None
            cipher = await self.keys.cipher(case_subject(row))
            now = utcnow()
            complaint = ComplaintRow(
                id=new_id(),
                consultation_id=consultation_id,
                tenant_id=row.tenant_id,
                client_id=principal.user_id,
                status="open",
                body=cipher.seal(COMPLAINT_BODY, body),
                created_at=now,
                updated_at=now,
            )
            session.add(complaint)
            await session.flush()
            await add_stage(
                session,
                consultation_id,
                "complaint_raised",
                f"complaint:{complaint.id}",
                actor=principal.user_id,
            )
            await self._event(session, "complaint.raised", complaint, principal.user_id)
        await open_complaints(self.keys, [complaint])
        return complaint

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
                cipher = await self.keys.cipher(case_subject(complaint))
                complaint.resolution = cipher.seal(COMPLAINT_RESOLUTION, resolution.strip())
            complaint.updated_at = utcnow()
            session.add(complaint)
            await add_stage(
                session,
                complaint.consultation_id,
                f"complaint_{status}",
                f"complaint:{complaint.id}:{status}",
                actor=agent.user_id,
            )
            await self._event(session, f"complaint.{status}", complaint, agent.user_id)
        await open_complaints(self.keys, [complaint])
        return complaint

    async def _event(
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
