"""Booking persistence: one transaction per change, its outbox event included. Overlaps are refused by
PostgreSQL's exclusion constraint `bookings_no_overlap` (see models.py), caught here as a 409."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2
from services.booking import domain
from services.booking.models import TABLES, BookingRow, VisitRow
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    to_timestamp,
    utcnow,
)

EXCLUSION_VIOLATION = "23P01"


@dataclass(frozen=True)
class Lawyer:
    """What the catalog says about the booked lawyer, as the booking service needs it."""

    lawyer_id: str
    user_id: str
    calendar: domain.Calendar
    venue: dict[str, Any]


class SlotTaken(Conflict):
    reason = "slot_taken"


def _overlap(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION or "bookings_no_overlap" in str(exc)


class BookingStore:
    def __init__(self, db: Database, outbox: Outbox, policy: domain.Policy = domain.POLICY) -> None:
        self.db = db
        self.outbox = outbox
        self.policy = policy

    # --- availability ------------------------------------------------------------------------------

    async def busy(self, lawyer_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """Blocked ranges of the lawyer's live bookings that touch [start, end) widened by a travel buffer."""
        margin = self.policy.travel_buffer + self.policy.max_length
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(BookingRow).where(
                        BookingRow.lawyer_id == lawyer_id,
                        col(BookingRow.status).in_(domain.LIVE),
                        col(BookingRow.blocked_until) > start - margin,
                        col(BookingRow.blocked_from) < end + margin,
                    )
                )
            ).all()
        return sorted((r.blocked_from, r.blocked_until) for r in rows)

    # --- creation ----------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        lawyer: Lawyer,
        requested: domain.Requested,
        tenant_id: str,
        idempotency_key: str = "",
        now: datetime | None = None,
    ) -> BookingRow:
        """Hold a slot for the client: validated against the lawyer's hours, then inserted; an overlapping
        live booking of the lawyer makes PostgreSQL refuse the insert (SlotTaken, 409)."""
        now = now or utcnow()
        domain.check_request(requested, lawyer.calendar, now, self.policy)
        booking_id = new_id()
        fingerprint = request_fingerprint(
            lawyer.lawyer_id,
            requested.mode,
            requested.start,
            requested.minutes,
            requested.address,
            requested.needs,
        )
        try:
            async with self.db.transaction() as session:
                if idempotency_key:
                    existing = await claim_idempotency_key(
                        session,
                        TABLES,
                        f"booking:{principal.user_id}",
                        idempotency_key,
                        fingerprint,
                        booking_id,
                    )
                    if existing is not None:
                        return await get_or_404(session, BookingRow, existing, "booking")
                blocked_from, blocked_until = domain.blocked_range(
                    requested.start, requested.minutes, requested.mode, self.policy
                )
                at_firm = requested.mode == "at_firm"
                row = BookingRow(
                    id=booking_id,
                    tenant_id=tenant_id,
                    client_id=principal.user_id,
                    lawyer_id=lawyer.lawyer_id,
                    lawyer_user_id=lawyer.user_id,
                    mode=requested.mode,
                    status="held",
                    start=requested.start,
                    minutes=requested.minutes,
                    ends_at=requested.start + timedelta(minutes=requested.minutes),
                    buffer_minutes=int(domain.buffer_for(requested.mode, self.policy).total_seconds() // 60),
                    blocked_from=blocked_from,
                    blocked_until=blocked_until,
                    time_zone=lawyer.calendar.time_zone,
                    address=str(lawyer.venue.get("address", "")) if at_firm else requested.address.strip(),
                    needs=requested.needs.strip(),
                    venue=lawyer.venue if at_firm else {},
                    hold_expires_at=now + self.policy.hold_for,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                await self._event(
                    session,
                    row,
                    "booking.held",
                    events_pb2.BookingHeld(
                        booking_id=row.id,
                        client_id=row.client_id,
                        lawyer_id=row.lawyer_user_id,
                        start=to_timestamp(row.start),
                        hold_expires_at=to_timestamp(row.hold_expires_at),
                    ),
                    principal.user_id,
                )
                return row
        except IntegrityError as exc:
            if _overlap(exc):
                raise SlotTaken("the lawyer is already booked at that time") from None
            raise

    # --- reads -------------------------------------------------------------------------------------

    async def get(self, principal: Principal | None, booking_id: str) -> BookingRow:
        row = await self.db.get(BookingRow, booking_id, "booking")
        domain.require_visible(principal, row.tenant_id, row.lawyer_user_id)
        return row

    async def list_bookings(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[BookingRow], str]:
        if status and status not in domain.STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(domain.STATUSES)}")
        query = select(BookingRow)
        if principal.is_client:
            query = query.where(BookingRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*domain.STAFF_WHO_SEE_BOOKINGS):
            query = query.where(BookingRow.lawyer_user_id == principal.user_id)
        if status:
            query = query.where(BookingRow.status == status)
        query = newest_first(query, col(BookingRow.created_at), col(BookingRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    # --- commands of people ------------------------------------------------------------------------

    async def reschedule(
        self,
        principal: Principal | None,
        booking_id: str,
        calendar: domain.Calendar,
        start: datetime,
        now: datetime | None = None,
    ) -> BookingRow:
        """Move a live booking to `start` (same length). The old range is replaced in the same row, so the
        exclusion constraint checks the new range against every other booking (SlotTaken on overlap)."""
        now = now or utcnow()
        try:
            async with self.db.transaction() as session:
                row = await self._locked(session, principal, booking_id)
                domain.require_client_or_agent(principal, "reschedule")
                domain.check_reschedule(row.status, row.start, now, self.policy)
                domain.check_start(start, timedelta(minutes=row.minutes), calendar, now, self.policy)
                previous = row.start
                row.start = start
                row.ends_at = start + timedelta(minutes=row.minutes)
                row.blocked_from, row.blocked_until = domain.blocked_range(
                    start, row.minutes, row.mode, self.policy
                )
                row.updated_at = now
                session.add(row)
                await session.flush()
                await self._event(
                    session,
                    row,
                    "booking.rescheduled",
                    events_pb2.BookingRescheduled(
                        booking_id=row.id,
                        client_id=row.client_id,
                        lawyer_id=row.lawyer_user_id,
                        start=to_timestamp(start),
                        previous_start=to_timestamp(previous),
                    ),
                    principal.user_id if principal else "system",
                )
                return row
        except IntegrityError as exc:
            if _overlap(exc):
                raise SlotTaken("the lawyer is already booked at that time") from None
            raise

    async def cancel(
        self, principal: Principal | None, booking_id: str, reason: str, now: datetime | None = None
    ) -> BookingRow:
        """Cancel a live booking, freeing its slot; a paid one is refunded per the policy (the amount is
        decided here and carried by `booking.cancelled`; BookingWorkflow asks payment to refund it)."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, booking_id)
            domain.require_client_or_agent(principal, "cancel")
            refund = domain.cancellation_refund(row.status, row.paid_fen, row.start, now, self.policy)
            row.status = domain.next_status(row.status, "cancelled")
            row.cancel_reason = reason[:200] or "client_request"
            row.refund_fen = refund
            row.hold_expires_at = None
            row.updated_at = now
            session.add(row)
            await self._cancelled_event(session, row, principal.user_id if principal else "system")
            return row

    async def check_in(
        self, principal: Principal | None, booking_id: str, now: datetime | None = None
    ) -> BookingRow:
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, booking_id)
            domain.require_booked_lawyer(principal, row.lawyer_user_id, "check in")
            if row.checked_in_at is not None:
                return row
            domain.check_check_in(row.status, row.start, now, self.policy)
            row.checked_in_at = now
            row.updated_at = now
            session.add(row)
            await self._event(
                session,
                row,
                "booking.checked_in",
                events_pb2.BookingCheckedIn(
                    booking_id=row.id, client_id=row.client_id, lawyer_id=row.lawyer_user_id
                ),
                principal.user_id if principal else "system",
            )
            return row

    async def complete(
        self, principal: Principal | None, booking_id: str, summary: str, now: datetime | None = None
    ) -> BookingRow:
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, booking_id)
            domain.require_booked_lawyer(principal, row.lawyer_user_id, "complete the meeting")
            if row.status == "completed" and principal is None:
                return row  # the workflow's automatic completion after a manual one
            row.summary = domain.check_complete(row.status, row.checked_in_at is not None, summary)
            row.status = domain.next_status(row.status, "completed")
            row.updated_at = now
            session.add(row)
            await self._completed_event(session, row, principal.user_id if principal else "system")
            return row

    async def record_quality(
        self,
        principal: Principal | None,
        booking_id: str,
        checklist: dict[str, bool],
        lawyer_note: str,
        rating: int,
        client_comment: str,
    ) -> BookingRow:
        async with self.db.transaction() as session:
            row = await self._locked(session, principal, booking_id)
            if principal is not None and not principal.is_client and principal.user_id != row.lawyer_user_id:
                raise NotFound("no such booking")  # agents and supervisors read quality, they do not write it
            row.quality = domain.quality_update(
                row.quality,
                principal,
                row.status,
                row.lawyer_user_id,
                checklist,
                lawyer_note,
                rating,
                client_comment,
            )
            row.updated_at = utcnow()
            session.add(row)
            return row

    # --- commands of the workflow (internal) --------------------------------------------------------

    async def confirm(self, booking_id: str, order_id: str, tenant_id: str, paid_fen: int) -> BookingRow:
        """The booking's order was paid: held → confirmed (idempotent for the same order). A booking of
        another enterprise is NotFound; an expired or cancelled one is a Conflict (the order is refunded)."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if tenant_id and row.tenant_id != tenant_id:
                raise NotFound("no such booking")
            if row.status == "confirmed" and row.order_id == order_id:
                return row
            if row.order_id and row.order_id != order_id:
                raise Conflict("the booking was paid by another order", reason="booking_already_paid")
            row.status = domain.next_status(row.status, "confirmed")
            row.order_id = order_id
            row.paid_fen = paid_fen
            row.hold_expires_at = None
            row.updated_at = utcnow()
            session.add(row)
            await self._event(
                session,
                row,
                "booking.confirmed",
                events_pb2.BookingConfirmed(
                    booking_id=row.id,
                    client_id=row.client_id,
                    lawyer_id=row.lawyer_user_id,
                    start=to_timestamp(row.start),
                ),
                "system",
            )
            return row

    async def expire(self, booking_id: str) -> BookingRow:
        """The hold ran out: a still-held booking expires and frees its slot; any other is left as it is
        (payment may have won the race)."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if row.status != "held":
                return row
            row.status = domain.next_status(row.status, "expired")
            row.cancel_reason = "hold_expired"
            row.updated_at = utcnow()
            session.add(row)
            await self._cancelled_event(session, row, "system")
            return row

    async def mark_no_show(self, booking_id: str) -> BookingRow:
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if row.status != "confirmed" or row.checked_in_at is not None:
                return row
            row.status = domain.next_status(row.status, "no_show")
            row.updated_at = utcnow()
            session.add(row)
            await self._completed_event(session, row, "system")
            return row

    async def remind(self, booking_id: str, lead_minutes: int) -> BookingRow:
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking")
            if row.status == "confirmed":
                await self._event(
                    session,
                    row,
                    "booking.reminded",
                    events_pb2.BookingReminded(
                        booking_id=row.id,
                        client_id=row.client_id,
                        lawyer_id=row.lawyer_user_id,
                        start=to_timestamp(row.start),
                        lead_minutes=lead_minutes,
                    ),
                    "system",
                )
            return row

    # --- visits (R-BK-2) -----------------------------------------------------------------------------

    async def create_visit(
        self, principal: Principal, visit: domain.NewVisit, idempotency_key: str = ""
    ) -> VisitRow:
        visit = domain.check_visit(visit, utcnow().date())
        visit_id = new_id()
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
            session.add(row)
            return row

    async def list_visits(
        self, principal: Principal, enterprise_id: str, limit: int, cursor: str
    ) -> tuple[list[VisitRow], str]:
        query = select(VisitRow)
        if principal.is_client:
            query = query.where(VisitRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*domain.STAFF_WHO_SEE_VISITS):
            query = query.where(VisitRow.lawyer_user_id == principal.user_id)
        if enterprise_id:
            query = query.where(VisitRow.tenant_id == enterprise_id)
        query = newest_first(query, col(VisitRow.created_at), col(VisitRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    # --- helpers -----------------------------------------------------------------------------------

    async def _locked(
        self, session: AsyncSession, principal: Principal | None, booking_id: str
    ) -> BookingRow:
        row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
        domain.require_visible(principal, row.tenant_id, row.lawyer_user_id)
        return row

    async def _cancelled_event(self, session: AsyncSession, row: BookingRow, actor: str) -> None:
        await self._event(
            session,
            row,
            "booking.cancelled",
            events_pb2.BookingCancelled(
                booking_id=row.id,
                client_id=row.client_id,
                status=row.status,
                reason=row.cancel_reason,
                order_id=row.order_id,
                refund_fen=row.refund_fen,
                lawyer_id=row.lawyer_user_id,
            ),
            actor,
        )

    async def _completed_event(self, session: AsyncSession, row: BookingRow, actor: str) -> None:
        await self._event(
            session,
            row,
            "booking.completed",
            events_pb2.BookingCompleted(
                booking_id=row.id,
                client_id=row.client_id,
                status=row.status,
                order_id=row.order_id,
                lawyer_id=row.lawyer_user_id,
            ),
            actor,
        )

    async def _event(
        self, session: AsyncSession, row: BookingRow, event_type: str, payload: Message, actor: str
    ) -> None:
        await self.outbox.add(
            session, event_type, payload, aggregate_id=row.id, tenant_id=row.tenant_id, actor_id=actor
        )
