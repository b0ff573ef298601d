"""Erasure of a user's personal data in booking (R-PRIV-1): see docs/erasure.md.

A client's bookings stay as records of the service given (lawyer, time, length, mode, status, rating) but
lose what the client told or what was written about them: the address of an on-site visit, their needs, a
cancellation reason they typed, the lawyer's meeting summary and their rating comment."""

from __future__ import annotations

from sqlalchemy import func, literal, text
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.booking.models import BookingRow
from services.runtime.erasure import ERASED_TEXT, erased_user_id

# Cancellation reasons the platform sets itself: facts, not the client's words.
SYSTEM_REASONS = ("", "client_request", "cancelled", "hold_expired")


async def erase_user(envelope: EventEnvelope, session: AsyncSession) -> None:
    """Handler of the `booking-erasure` consumer (subject `identity.user.erased`)."""
    user_id = erased_user_id(envelope)
    if not user_id:
        return
    mine = col(BookingRow.client_id) == user_id
    for column in (BookingRow.address, BookingRow.needs, BookingRow.summary):
        await session.execute(update(BookingRow).where(mine, col(column) != "").values({column: ERASED_TEXT}))
    await session.execute(
        update(BookingRow)
        .where(mine, col(BookingRow.cancel_reason).not_in(SYSTEM_REASONS))
        .values(cancel_reason=ERASED_TEXT)
    )
    await session.execute(
        update(BookingRow)
        .where(mine, text("coalesce(quality->>'client_comment', '') <> ''"))
        .values(
            quality=func.jsonb_set(
                col(BookingRow.quality), text("'{client_comment}'"), func.to_jsonb(literal(ERASED_TEXT))
            )
        )
    )
