"""Lawyers' visits to client enterprises (R-BK-2): recorded by the lawyer after the visit (`visit.recorded`,
which quality supervision samples), read by the enterprise, the lawyer and supervisors."""

from __future__ import annotations

from sqlmodel import col, select

from counsel.booking.v1 import events_pb2
from services.booking import domain
from services.booking.models import TABLES, VisitRow
from services.booking.store.sealed import open_visits, seal_visit
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, SubjectCipher, tenant_subject
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    utcnow,
)


class Visits:
    """Every method returns its visits opened (store/sealed.py), after their transaction."""

    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def create_visit(
        self, principal: Principal, visit: domain.NewVisit, idempotency_key: str = ""
    ) -> VisitRow:
        """Record `visit` (checked: domain.check_visit, its enterprise known to identity)."""
        visit_id = new_id()
        cipher = await self.keys.cipher(tenant_subject(visit.enterprise_id))
        row = await self._record(principal, visit, visit_id, cipher, idempotency_key)
        await open_visits(self.keys, row)
        return row

    async def _record(
        self,
        principal: Principal,
        visit: domain.NewVisit,
        visit_id: str,
        cipher: SubjectCipher,
        idempotency_key: str,
    ) -> VisitRow:
        async with self.db.transaction() as session:
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"visit:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(visit),
                    visit_id,
                )
                if existing is not None:
                    return await get_or_404(session, VisitRow, existing, "visit")
            row = VisitRow(
                id=visit_id,
                tenant_id=visit.enterprise_id,
                lawyer_user_id=principal.user_id,
                date=visit.date,
                attendees=list(visit.attendees),
                findings=visit.findings,
                follow_ups=list(visit.follow_ups),
                created_at=utcnow(),
            )
            seal_visit(cipher, row)
            session.add(row)
            await self.outbox.add(
                session,
                "visit.recorded",
                events_pb2.VisitRecorded(
                    visit_id=row.id,
                    enterprise_id=row.tenant_id,
                    lawyer_id=row.lawyer_user_id,
                    date=row.date,
                ),
                aggregate_id=row.id,
                tenant_id=row.tenant_id,
                actor_id=principal.user_id,
                lawyer_id=row.lawyer_user_id,
            )
            return row

    async def list_visits(
        self, principal: Principal, enterprise_id: str, limit: int, cursor: str
    ) -> tuple[list[VisitRow], str]:
        query = select(VisitRow)
        if principal.is_client:
            domain.require_own_enterprise(principal, enterprise_id)
            query = query.where(VisitRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*domain.STAFF_WHO_SEE_VISITS):
            query = query.where(VisitRow.lawyer_user_id == principal.user_id)
        if enterprise_id:
            query = query.where(VisitRow.tenant_id == enterprise_id)
        query = newest_first(query, col(VisitRow.created_at), col(VisitRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        await open_visits(self.keys, *rows)
        return page_of(rows, limit)
