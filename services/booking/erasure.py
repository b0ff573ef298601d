"""Erasure of a user's personal data in booking (R-PRIV-1): see docs/erasure.md.

A client's bookings stay as records of the service given (lawyer, time, length, mode, status, rating) but
lose what the client told or what was written about them: the address of an on-site visit, their needs, a
cancellation reason they typed, the lawyer's meeting summary and their rating comment. The booking's stage
records (`booking_stages`: stage, entered and due times, the acting account's id) hold no personal data and
stay: they are the order timeline's facts (§9.2). Connect-a-lawyer requests lose the needs the client typed.
All of it is sealed (store/sealed.py): the erasure consumer also destroys the person's data key, and their
enterprise's when nobody is left in it (services/runtime/erasure.shredding_erasure_handler), which takes the
enterprise's visit records with it."""

from __future__ import annotations

from sqlalchemy import func, literal, text
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.booking.models import BookingRow, ConnectRequestRow
from services.booking.store.sealed import SYSTEM_REASONS
from services.runtime.erasure import ERASED_TEXT


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Erase or pseudonymise `user_id`'s personal data, in the erasure consumer's transaction."""
    mine = col(BookingRow.client_id) == user_id
    await session.execute(
        update(ConnectRequestRow)
        .where(col(ConnectRequestRow.client_id) == user_id, col(ConnectRequestRow.needs) != "")
        .values(needs=ERASED_TEXT)
    )
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
