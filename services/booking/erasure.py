"""Erasure of a user's personal data in booking (R-PRIV-1): see docs/erasure.md.

A client's bookings stay as records of the service given (lawyer, time, mode, status) but lose what the
client told about themselves: the address of an on-site visit and their needs."""

from __future__ import annotations

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.booking.models import BookingRow
from services.runtime.erasure import ERASED_TEXT, erased_user_id


async def erase_user(envelope: EventEnvelope, session: AsyncSession) -> None:
    """Handler of the `booking-erasure` consumer (subject `identity.user.erased`)."""
    user_id = erased_user_id(envelope)
    if not user_id:
        return
    await session.execute(
        update(BookingRow)
        .where(col(BookingRow.client_id) == user_id, col(BookingRow.address) != "")
        .values(address=ERASED_TEXT)
    )
    await session.execute(
        update(BookingRow)
        .where(col(BookingRow.client_id) == user_id, col(BookingRow.needs) != "")
        .values(needs=ERASED_TEXT)
    )
