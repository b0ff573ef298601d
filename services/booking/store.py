"""Booking persistence: one transaction per change, its outbox event included. Overlaps are refused by
PostgreSQL's exclusion constraint `bookings_no_overlap` (see models.py), caught here as a 409."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2
from services.booking import domain
from services.booking.models import TABLES, BookingRow, BookingStageRow, ConnectRequestRow, VisitRow
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.metrics import UNTIERED, count_deadline
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
    online: bool = False


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
                return await self._hold(session, principal, lawyer, requested, tenant_id, booking_id, now)
        except IntegrityError as exc:
            if _overlap(exc):
                raise SlotTaken("the lawyer is already booked at that time") from None
            raise

    async def _hold(
        self,
        session: AsyncSession,
        principal: Principal,
        lawyer: Lawyer,
        requested: domain.Requested,
        tenant_id: str,
        booking_id: str,
        now: datetime,
    ) -> BookingRow:
        """Insert the held booking with its first stage and `booking.held`, in the caller's transaction
        (PostgreSQL refuses an overlap at the flush: IntegrityError, turned into SlotTaken by the caller)."""
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
        self._stage(session, row, "held", principal.user_id, now, row.hold_expires_at)
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

    # --- connect-a-lawyer (R-BK-3) ----------------------------------------------------------------------

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
    ) -> tuple[ConnectRequestRow, BookingRow | None]:
        """Record the client's request to connect now; a meeting holds `meeting` (the lawyer's next free
        slot) in the same transaction. A retry with the same Idempotency-Key returns the first request."""
        now = now or utcnow()
        request_id = new_id()
        try:
            async with self.db.transaction() as session:
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
                        return found, held
                booking = None
                if meeting is not None:
                    domain.check_request(meeting, lawyer.calendar, now, self.policy)
                    booking = await self._hold(session, principal, lawyer, meeting, tenant_id, new_id(), now)
                row = ConnectRequestRow(
                    id=request_id,
                    tenant_id=tenant_id,
                    client_id=principal.user_id,
                    lawyer_id=lawyer.lawyer_id,
                    lawyer_user_id=lawyer.user_id,
                    mode=mode,
                    needs=needs.strip(),
                    status="booking_held" if booking is not None else "awaiting_payment",
                    booking_id=booking.id if booking is not None else "",
                    next_step=domain.connect_next_step(
                        mode, booking.id if booking is not None else "", product_id, lawyer.lawyer_id
                    ),
                    created_at=now,
                )
                session.add(row)
                return row, booking
        except IntegrityError as exc:
            if _overlap(exc):
                raise SlotTaken("the lawyer's next free slot was just taken; try again") from None
            raise

    async def list_connect_requests(
        self, principal: Principal, mode: str, limit: int, cursor: str
    ) -> tuple[list[ConnectRequestRow], str]:
        """The agents' queue (all requests, for agents and supervisors); a client's enterprise's own."""
        if mode and mode not in domain.CONNECT_MODES:
            raise InvalidArgument.for_field("mode", f"must be one of {', '.join(domain.CONNECT_MODES)}")
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
        return page_of(rows, limit)

    # --- reads -------------------------------------------------------------------------------------

    async def get(self, principal: Principal | None, booking_id: str) -> BookingRow:
        row = await self.db.get(BookingRow, booking_id, "booking")
        domain.require_visible(principal, row.tenant_id, row.lawyer_user_id, row.lawyer_id)
        return row

    async def stages(self, booking_ids: list[str]) -> dict[str, list[BookingStageRow]]:
        """The entered stages of each booking, oldest first (the order timeline's booking part, §9.2)."""
        found: dict[str, list[BookingStageRow]] = {booking_id: [] for booking_id in booking_ids}
        if not booking_ids:
            return found
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(BookingStageRow)
                    .where(col(BookingStageRow.booking_id).in_(booking_ids))
                    .order_by(col(BookingStageRow.entered_at), col(BookingStageRow.id))
                )
            ).all()
        for stage in rows:
            found[stage.booking_id].append(stage)
        return found

    async def list_bookings(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[BookingRow], str]:
        if status and status not in domain.STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(domain.STATUSES)}")
        query = select(BookingRow)
        if principal.is_client:
            query = query.where(BookingRow.tenant_id == principal.tenant_id)
        elif principal.is_firm_system:
            query = query.where(
                or_(
                    col(BookingRow.lawyer_user_id).in_(principal.firm_lawyers),
                    col(BookingRow.lawyer_id).in_(principal.firm_lawyers),
                )
            )
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
                domain.check_reschedule(row.status, row.start, now, self._policy(row))
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
                actor = principal.user_id if principal else "system"
                self._stage(session, row, "rescheduled", actor, now, start)
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
                    actor,
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
            refund = domain.cancellation_refund(row.status, row.paid_fen, row.start, now, self._policy(row))
            row.status = domain.next_status(row.status, "cancelled")
            row.cancel_reason = reason[:200] or "client_request"
            row.refund_fen = refund
            row.hold_expires_at = None
            row.updated_at = now
            session.add(row)
            actor = principal.user_id if principal else "system"
            self._stage(session, row, "cancelled", actor, now)
            await self._cancelled_event(session, row, actor)
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
            domain.check_check_in(row.status, row.start, now, self._policy(row))
            row.checked_in_at = now
            row.updated_at = now
            session.add(row)
            actor = principal.user_id if principal else "system"
            self._stage(session, row, "checked_in", actor, now)
            await self._event(
                session,
                row,
                "booking.checked_in",
                events_pb2.BookingCheckedIn(
                    booking_id=row.id, client_id=row.client_id, lawyer_id=row.lawyer_user_id
                ),
                actor,
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
            actor = principal.user_id if principal else "system"
            self._stage(session, row, "completed", actor, now)
            await self._completed_event(session, row, actor)
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

    async def confirm(
        self,
        booking_id: str,
        order_id: str,
        tenant_id: str,
        paid_fen: int,
        product_id: str = "",
        terms: dict[str, str] | None = None,
    ) -> BookingRow:
        """The booking's order was paid: held → confirmed (idempotent for the same order), under the terms
        of the order's booking product (kept on the booking). A booking of another enterprise is NotFound;
        an expired or cancelled one is a Conflict (the order is refunded)."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if tenant_id and row.tenant_id != tenant_id:
                raise NotFound("no such booking")
            if row.status == "confirmed" and row.order_id == order_id:
                return row
            if row.order_id and row.order_id != order_id:
                raise Conflict("the booking was paid by another order", reason="booking_already_paid")
            if row.status == "held":  # paid before the hold expired
                count_deadline(session, "booking_hold", UNTIERED, kept=True)
            row.status = domain.next_status(row.status, "confirmed")
            row.order_id = order_id
            row.paid_fen = paid_fen
            row.product_id = product_id
            row.terms = domain.product_terms(terms or {})
            row.hold_expires_at = None
            row.updated_at = utcnow()
            session.add(row)
            self._stage(session, row, "confirmed", "system", row.updated_at, row.start)
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
            count_deadline(session, "booking_hold", UNTIERED, kept=False)
            row.cancel_reason = "hold_expired"
            row.updated_at = utcnow()
            session.add(row)
            self._stage(session, row, "expired", "system", row.updated_at)
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
            self._stage(session, row, "no_show", "system", row.updated_at)
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
        visit = domain.check_visit(visit, utcnow())
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

    def _policy(self, row: BookingRow) -> domain.Policy:
        """The policy in force for this booking: the service's defaults under its product's terms."""
        return domain.policy_for(row.terms, self.policy)

    async def _locked(
        self, session: AsyncSession, principal: Principal | None, booking_id: str
    ) -> BookingRow:
        row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
        domain.require_visible(principal, row.tenant_id, row.lawyer_user_id, row.lawyer_id)
        return row

    def _stage(
        self,
        session: AsyncSession,
        row: BookingRow,
        stage: str,
        actor: str,
        entered_at: datetime,
        due_at: datetime | None = None,
    ) -> None:
        """Record the stage the booking entered, in the transaction of the transition that entered it."""
        session.add(
            BookingStageRow(booking_id=row.id, stage=stage, actor=actor, entered_at=entered_at, due_at=due_at)
        )

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
            session,
            event_type,
            payload,
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            actor_id=actor,
            # A lawyer without an account is named by the profile (services/catalog/firm_events.py).
            lawyer_id=row.lawyer_user_id or row.lawyer_id,
        )
