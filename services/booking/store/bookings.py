"""Bookings (R-BK-1): a held slot, read and listed as each caller may see them, moved, cancelled, checked in
and completed by people, and confirmed, expired, marked a no-show or reminded by BookingWorkflow. One
transaction per change, with its stage record and its event."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2
from services.booking import domain
from services.booking.models import STAFF_READS, TABLES, BookingRow, BookingStageRow
from services.booking.store.base import (
    Lawyer,
    locked_booking,
    publish,
    publish_cancelled,
    publish_completed,
    record_stage,
    refusing_overlap,
)
from services.booking.store.sealed import (
    ADDRESS,
    NEEDS,
    SUMMARY,
    SYSTEM_REASONS,
    booking_subject,
    open_bookings,
    sealed_quality,
    sealed_reason,
)
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, SubjectCipher, owner_subject
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

P = ParamSpec("P")


async def hold(
    session: AsyncSession,
    outbox: Outbox,
    policy: domain.Policy,
    principal: Principal,
    lawyer: Lawyer,
    requested: domain.Requested,
    tenant_id: str,
    booking_id: str,
    now: datetime,
    cipher: SubjectCipher,
    client_id: str = "",
) -> BookingRow:
    """Insert the held booking with its first stage and `booking.held`, in the caller's transaction
    (PostgreSQL refuses an overlap at the flush: IntegrityError, which the caller turns into SlotTaken).
    The booking is the caller's own unless staff hold it for `client_id`; `cipher` is its owner's
    (`owner_subject(tenant_id, the client)`), sealing the address and needs. The row is returned sealed."""
    blocked_from, blocked_until = domain.blocked_range(
        requested.start, requested.minutes, requested.mode, policy
    )
    at_firm = requested.mode == "at_firm"
    row = BookingRow(
        id=booking_id,
        tenant_id=tenant_id,
        client_id=client_id or principal.user_id,
        lawyer_id=lawyer.lawyer_id,
        lawyer_user_id=lawyer.user_id,
        mode=requested.mode,
        status="held",
        start=requested.start,
        minutes=requested.minutes,
        ends_at=requested.start + timedelta(minutes=requested.minutes),
        buffer_minutes=int(domain.buffer_for(requested.mode, policy).total_seconds() // 60),
        blocked_from=blocked_from,
        blocked_until=blocked_until,
        time_zone=lawyer.calendar.time_zone,
        address=cipher.seal(
            ADDRESS, str(lawyer.venue.get("address", "")) if at_firm else requested.address.strip()
        ),
        needs=cipher.seal(NEEDS, requested.needs.strip()),
        venue=lawyer.venue if at_firm else {},
        hold_expires_at=now + policy.hold_for,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    record_stage(session, row, "held", principal.user_id, now, row.hold_expires_at)
    await publish(
        session,
        outbox,
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


def _returns_opened(
    method: Callable[Concatenate[Bookings, P], Awaitable[BookingRow]],
) -> Callable[Concatenate[Bookings, P], Awaitable[BookingRow]]:
    """A method of Bookings that returns its booking opened, once the method's transaction has ended."""

    @functools.wraps(method)
    async def opening(self: Bookings, *args: P.args, **kwargs: P.kwargs) -> BookingRow:
        row = await method(self, *args, **kwargs)
        await open_bookings(self.keys, row)
        return row

    return opening


def _actor(principal: Principal | None) -> str:
    return principal.user_id if principal else "system"


class Bookings:
    """Every method returns its bookings opened (store/sealed.py), after their transaction."""

    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys, policy: domain.Policy) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys
        self.policy = policy

    def _policy(self, row: BookingRow) -> domain.Policy:
        """The policy in force for this booking: the service's defaults under its product's terms."""
        return domain.policy_for(row.terms, self.policy)

    # --- availability and holds --------------------------------------------------------------------

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

    @_returns_opened
    async def create(
        self,
        principal: Principal,
        lawyer: Lawyer,
        requested: domain.Requested,
        tenant_id: str,
        idempotency_key: str = "",
        now: datetime | None = None,
        client_id: str = "",
    ) -> BookingRow:
        """Hold a slot for the client (the caller, or `client_id` when staff propose a meeting to them):
        validated against the lawyer's hours, then inserted; an overlapping live booking of the lawyer makes
        PostgreSQL refuse the insert (SlotTaken, 409)."""
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
        cipher = await self.keys.cipher(owner_subject(tenant_id, client_id or principal.user_id))
        with refusing_overlap("the lawyer is already booked at that time"):
            async with self.db.transaction() as session:
                if idempotency_key:
                    existing = await claim_idempotency_key(
                        session,
                        TABLES,
                        f"booking:{client_id or principal.user_id}",
                        idempotency_key,
                        fingerprint,
                        booking_id,
                    )
                    if existing is not None:
                        return await get_or_404(session, BookingRow, existing, "booking")
                return await hold(
                    session,
                    self.outbox,
                    self.policy,
                    principal,
                    lawyer,
                    requested,
                    tenant_id,
                    booking_id,
                    now,
                    cipher,
                    client_id,
                )

    # --- reads -------------------------------------------------------------------------------------

    @_returns_opened
    async def get(self, principal: Principal | None, booking_id: str) -> BookingRow:
        """The booking; NotFound when the caller may not see it. A staff member's read is written to the
        staff access log."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking")
            domain.require_visible(principal, row.tenant_id, row.lawyer_user_id, row.lawyer_id)
            await STAFF_READS.record(session, principal, "booking", row.id, row)
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
        domain.check_status_filter(status)
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
        await open_bookings(self.keys, *rows)
        return page_of(rows, limit)

    # --- commands of people ------------------------------------------------------------------------

    @_returns_opened
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
        with refusing_overlap("the lawyer is already booked at that time"):
            async with self.db.transaction() as session:
                row = await locked_booking(session, principal, booking_id)
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
                actor = _actor(principal)
                record_stage(session, row, "rescheduled", actor, now, start)
                await publish(
                    session,
                    self.outbox,
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

    @_returns_opened
    async def cancel(
        self, principal: Principal | None, booking_id: str, reason: str, now: datetime | None = None
    ) -> BookingRow:
        """Cancel a live booking, freeing its slot; a paid one is refunded per the policy (the amount is
        decided here and carried by `booking.cancelled`; the booking's order refunds it)."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await locked_booking(session, principal, booking_id)
            domain.require_client_or_agent(principal, "cancel")
            cancelled = domain.cancellation(
                row.status, row.paid_fen, row.start, now, reason, self._policy(row)
            )
            cipher = await self.keys.cipher(booking_subject(row))
            row.status, row.cancel_reason, row.refund_fen = (
                cancelled.status,
                sealed_reason(cipher, cancelled.reason),
                cancelled.refund_fen,
            )
            row.hold_expires_at = None
            row.updated_at = now
            session.add(row)
            actor = _actor(principal)
            record_stage(session, row, "cancelled", actor, now)
            # The event and the workflow's signal carry a code; the words typed stay sealed in the row.
            code = cancelled.reason if cancelled.reason in SYSTEM_REASONS else domain.cancelled_by(principal)
            await publish_cancelled(session, self.outbox, row, actor, code)
            return row

    @_returns_opened
    async def check_in(
        self, principal: Principal | None, booking_id: str, now: datetime | None = None
    ) -> BookingRow:
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await locked_booking(session, principal, booking_id)
            domain.require_booked_lawyer(principal, row.lawyer_user_id, "check in")
            if row.checked_in_at is not None:
                return row
            domain.check_check_in(row.status, row.start, now, self._policy(row))
            row.checked_in_at = now
            row.updated_at = now
            session.add(row)
            actor = _actor(principal)
            record_stage(session, row, "checked_in", actor, now)
            await publish(
                session,
                self.outbox,
                row,
                "booking.checked_in",
                events_pb2.BookingCheckedIn(
                    booking_id=row.id, client_id=row.client_id, lawyer_id=row.lawyer_user_id
                ),
                actor,
                client_activity=True,
            )
            return row

    @_returns_opened
    async def complete(
        self, principal: Principal | None, booking_id: str, summary: str, now: datetime | None = None
    ) -> BookingRow:
        now = now or utcnow()
        async with self.db.transaction() as session:
            row = await locked_booking(session, principal, booking_id)
            domain.require_booked_lawyer(principal, row.lawyer_user_id, "complete the meeting")
            if domain.completion_repeats(row.status, principal):
                return row
            cipher = await self.keys.cipher(booking_subject(row))
            row.summary = cipher.seal(
                SUMMARY, domain.check_complete(row.status, row.checked_in_at is not None, summary)
            )
            row.status = domain.next_status(row.status, "completed")
            row.updated_at = now
            session.add(row)
            actor = _actor(principal)
            record_stage(session, row, "completed", actor, now)
            await publish_completed(session, self.outbox, row, actor)
            return row

    @_returns_opened
    async def record_quality(
        self,
        principal: Principal | None,
        booking_id: str,
        checklist: dict[str, bool],
        lawyer_note: str,
        rating: int,
        client_comment: str,
        client_checklist: dict[str, bool] | None = None,
    ) -> BookingRow:
        async with self.db.transaction() as session:
            row = await locked_booking(session, principal, booking_id)
            domain.require_quality_writer(principal, row.lawyer_user_id)
            cipher = await self.keys.cipher(booking_subject(row))
            quality = domain.quality_update(
                row.quality,
                principal,
                row.status,
                row.lawyer_user_id,
                checklist,
                lawyer_note,
                rating,
                client_comment,
                client_checklist,
            )
            row.quality = sealed_quality(cipher, quality)
            row.updated_at = utcnow()
            session.add(row)
            return row

    # --- commands of the workflow (internal) --------------------------------------------------------

    @_returns_opened
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
        an expired or cancelled one, or one another order paid, is a Conflict (the order is refunded)."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if tenant_id and row.tenant_id != tenant_id:
                raise NotFound("no such booking")
            if not domain.confirms(row.status, row.order_id, order_id):
                return row
            if row.status == "held":  # paid before the hold expired
                count_deadline(session, "booking_hold", UNTIERED, kept=True)
            row.status = "confirmed"
            row.order_id = order_id
            row.paid_fen = paid_fen
            row.product_id = product_id
            row.terms = domain.product_terms(terms or {})
            row.hold_expires_at = None
            row.updated_at = utcnow()
            session.add(row)
            record_stage(session, row, "confirmed", "system", row.updated_at, row.start)
            await publish(
                session,
                self.outbox,
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

    @_returns_opened
    async def expire(self, booking_id: str) -> BookingRow:
        """The hold ran out: a still-held booking expires and frees its slot; any other is left as it is."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if not domain.expires(row.status):
                return row
            row.status = domain.next_status(row.status, "expired")
            count_deadline(session, "booking_hold", UNTIERED, kept=False)
            row.cancel_reason = "hold_expired"
            row.updated_at = utcnow()
            session.add(row)
            record_stage(session, row, "expired", "system", row.updated_at)
            await publish_cancelled(session, self.outbox, row, "system", row.cancel_reason)
            return row

    @_returns_opened
    async def mark_no_show(self, booking_id: str) -> BookingRow:
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
            if not domain.is_no_show(row.status, row.checked_in_at is not None):
                return row
            row.status = domain.next_status(row.status, "no_show")
            row.updated_at = utcnow()
            session.add(row)
            record_stage(session, row, "no_show", "system", row.updated_at)
            await publish_completed(session, self.outbox, row, "system")
            return row

    @_returns_opened
    async def remind(self, booking_id: str, lead_minutes: int) -> BookingRow:
        async with self.db.transaction() as session:
            row = await get_or_404(session, BookingRow, booking_id, "booking")
            if row.status == "confirmed":
                await publish(
                    session,
                    self.outbox,
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
