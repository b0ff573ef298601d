"""The base every booking store shares: the lawyer as the catalog describes them, the overlap PostgreSQL
refuses (the exclusion constraint `bookings_no_overlap`, see models.py) turned into a 409, the locked and
visible booking, its stage records and its events (each naming the lawyer, for the firm's stream)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2
from services.booking import domain
from services.booking.models import BookingRow, BookingStageRow
from services.runtime.context import Principal
from services.runtime.db import get_or_404
from services.runtime.errors import Conflict
from services.runtime.events import Outbox

EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"


@dataclass(frozen=True)
class Lawyer:
    """What the catalog says about the booked lawyer, as the booking service needs it."""

    lawyer_id: str
    user_id: str
    calendar: domain.Calendar
    venue: dict[str, Any]
    online: bool = False
    # Why the lawyer takes no new work now (an expired firm agreement, an overdue inspection), "" if they do.
    unavailable_reason: str = ""


class SlotTaken(Conflict):
    reason = "slot_taken"


@contextlib.contextmanager
def refusing_overlap(message: str) -> Iterator[None]:
    """Turn PostgreSQL's refusal of an overlapping live booking of the lawyer into SlotTaken (409).

    Two transactions inserting overlapping bookings at once can also end in a deadlock: an exclusion
    constraint is checked after the row is inserted, so each waits for the other's transaction to end.
    PostgreSQL then aborts one of them and the other's booking goes in: for the one aborted, the slot is
    taken all the same."""
    try:
        yield
    except IntegrityError as exc:
        orig_state = getattr(exc.orig, "sqlstate", None)
        if orig_state == EXCLUSION_VIOLATION or "bookings_no_overlap" in str(exc):
            raise SlotTaken(message) from None
        raise
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == DEADLOCK_DETECTED:
            raise SlotTaken(message) from None
        raise


async def locked_booking(session: AsyncSession, principal: Principal | None, booking_id: str) -> BookingRow:
    """The booking, row-locked, when `principal` may see it; NotFound otherwise."""
    row = await get_or_404(session, BookingRow, booking_id, "booking", for_update=True)
    domain.require_visible(principal, row.tenant_id, row.lawyer_user_id, row.lawyer_id)
    return row


def record_stage(
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


async def publish(
    session: AsyncSession,
    outbox: Outbox,
    row: BookingRow,
    event_type: str,
    payload: Message,
    actor: str,
    *,
    client_activity: bool = False,
) -> None:
    """Publish the booking's event; with `client_activity` it is part of the client's linked history
    (R-ACC-3, §6.1.1.2) whoever caused it: the meeting or on-site visit took place."""
    await outbox.add(
        session,
        event_type,
        payload,
        aggregate_id=row.id,
        tenant_id=row.tenant_id,
        actor_id=actor,
        # A lawyer without an account is named by the profile (services/catalog/firm_events.py).
        lawyer_id=row.lawyer_user_id or row.lawyer_id,
        client_id=row.client_id if client_activity else "",
    )


async def publish_cancelled(
    session: AsyncSession, outbox: Outbox, row: BookingRow, actor: str, reason: str
) -> None:
    """`reason` a code (store.sealed.SYSTEM_REASONS), never words someone typed: those stay sealed in the
    row, opened only by booking."""
    await publish(
        session,
        outbox,
        row,
        "booking.cancelled",
        events_pb2.BookingCancelled(
            booking_id=row.id,
            client_id=row.client_id,
            status=row.status,
            reason=reason,
            order_id=row.order_id,
            refund_fen=row.refund_fen,
            lawyer_id=row.lawyer_user_id,
        ),
        actor,
    )


async def publish_completed(session: AsyncSession, outbox: Outbox, row: BookingRow, actor: str) -> None:
    await publish(
        session,
        outbox,
        row,
        "booking.completed",
        events_pb2.BookingCompleted(
            booking_id=row.id,
            client_id=row.client_id,
            status=row.status,
            order_id=row.order_id,
            lawyer_id=row.lawyer_user_id,
            mode=row.mode,
            checked_in=row.checked_in_at is not None,
        ),
        actor,
    )
