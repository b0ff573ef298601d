"""Connect-a-lawyer requests (R-BK-3, §6.2.4): a client asks to talk to an online lawyer now; a meeting holds
the lawyer's next free slot in the same transaction, a call waits in the agents' queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from services.booking import domain
from services.booking.models import TABLES, BookingRow, ConnectRequestRow
from services.booking.store.base import Lawyer, refusing_overlap
from services.booking.store.bookings import hold
from services.booking.store.sealed import CONNECT_NEEDS, open_bookings, open_connect_requests
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    utcnow,
)


@dataclass(frozen=True)
class ConnectRequested:
    """A connect request as stored, and the booking its meeting holds (None for a call)."""

    request: ConnectRequestRow
    booking: BookingRow | None


class ConnectRequests:
    """Every method returns its requests and bookings opened (store/sealed.py), after their transaction."""

    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys, policy: domain.Policy) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys
        self.policy = policy

    async def connect(
        self,
        principal: Principal,
        lawyer: Lawyer,
        tenant_id: str,
        mode: str,
        needs: str,
        meeting: domain.Requested | None,
        product_id: str,
        idempotency_key: str = "",
        now: datetime | None = None,
    ) -> ConnectRequested:
        """Record the client's request to connect now; a meeting holds `meeting` (the lawyer's next free
        slot) in the same transaction. A retry with the same Idempotency-Key returns the first request."""
        now = now or utcnow()
        request_id = new_id()
        cipher = await self.keys.cipher(owner_subject(tenant_id, principal.user_id))
        with refusing_overlap("the lawyer's next free slot was just taken; try again"):
            async with self.db.transaction() as session:
                connected = None
                if idempotency_key:
                    existing = await claim_idempotency_key(
                        session,
                        TABLES,
                        f"connect:{principal.user_id}",
                        idempotency_key,
                        request_fingerprint(lawyer.lawyer_id, mode, needs),
                        request_id,
                    )
                    if existing is not None:
                        found = await get_or_404(session, ConnectRequestRow, existing, "connect request")
                        held = await session.get(BookingRow, found.booking_id) if found.booking_id else None
                        connected = ConnectRequested(found, held)
                if connected is None:
                    booking = None
                    if meeting is not None:
                        domain.check_request(meeting, lawyer.calendar, now, self.policy)
                        booking = await hold(
                            session,
                            self.outbox,
                            self.policy,
                            principal,
                            lawyer,
                            meeting,
                            tenant_id,
                            new_id(),
                            now,
                            cipher,
                        )
                    booking_id = booking.id if booking is not None else ""
                    outcome = domain.connect_outcome(mode, booking_id, product_id, lawyer.lawyer_id)
                    row = ConnectRequestRow(
                        id=request_id,
                        tenant_id=tenant_id,
                        client_id=principal.user_id,
                        lawyer_id=lawyer.lawyer_id,
                        lawyer_user_id=lawyer.user_id,
                        mode=mode,
                        needs=cipher.seal(CONNECT_NEEDS, needs.strip()),
                        status=outcome.status,
                        booking_id=booking_id,
                        next_step=outcome.next_step,
                        created_at=now,
                    )
                    session.add(row)
                    connected = ConnectRequested(row, booking)
        await open_connect_requests(self.keys, connected.request)
        await open_bookings(self.keys, connected.booking)
        return connected

    async def list_connect_requests(
        self, principal: Principal, mode: str, limit: int, cursor: str
    ) -> tuple[list[ConnectRequestRow], str]:
        """The agents' queue (all requests, for agents and supervisors); a client's enterprise's own."""
        domain.check_mode_filter(mode)
        query = select(ConnectRequestRow)
        if principal.is_client:
            query = query.where(ConnectRequestRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*domain.STAFF_WHO_SEE_BOOKINGS):
            query = query.where(ConnectRequestRow.lawyer_user_id == principal.user_id)
        if mode:
            query = query.where(ConnectRequestRow.mode == mode)
        query = newest_first(
            query, col(ConnectRequestRow.created_at), col(ConnectRequestRow.id), cursor, limit
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        await open_connect_requests(self.keys, *rows)
        return page_of(rows, limit)
