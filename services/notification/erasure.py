"""Erasure of a user's personal data in notification (R-PRIV-1): see docs/erasure.md.

Nothing here is a record the law asks to keep, so the user's rows go: inbox entries, e-mail/SMS deliveries
(their texts name the user's cases), preferences (with the sealed contact addresses and marketing consent),
the roles they played in consultations/orders (so no later event notifies them), and the dev outbox's
messages to their addresses."""

from __future__ import annotations

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.models import (
    DeliveryRow,
    DevMessageRow,
    InboxEntryRow,
    ParticipantRow,
    PreferencesRow,
)
from services.runtime.crypto import FieldCipher


async def erase_user(session: AsyncSession, user_id: str, cipher: FieldCipher) -> None:
    """Delete `user_id`'s rows, in the erasure consumer's transaction; `cipher` opens their sealed addresses,
    so the dev outbox's messages to them go too."""
    preferences = (
        await session.exec(select(PreferencesRow).where(col(PreferencesRow.user_id) == user_id))
    ).first()
    if preferences is not None:
        addresses = [
            cipher.decrypt(sealed)
            for sealed in (preferences.email_address_sealed, preferences.phone_sealed)
            if sealed
        ]
        if addresses:
            await session.execute(delete(DevMessageRow).where(col(DevMessageRow.to).in_(addresses)))
        await session.delete(preferences)
    for table in (InboxEntryRow, DeliveryRow, ParticipantRow):
        await session.execute(delete(table).where(col(table.user_id) == user_id))
