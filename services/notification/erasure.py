"""Erasure of a user's personal data in notification (R-PRIV-1): see docs/erasure.md.

Nothing here is a record the law asks to keep, so the user's rows go: inbox entries, e-mail/SMS deliveries
(their texts name the user's cases), preferences (with the sealed contact addresses and marketing consent),
the roles they played in consultations/orders (so no later event notifies them), and the dev outbox's
messages to their addresses (with those addresses' data keys, services/notification/dev_outbox.py)."""

from __future__ import annotations

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.models import (
    DeliveryRow,
    InboxEntryRow,
    ParticipantRow,
    PreferencesRow,
)


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Delete `user_id`'s rows, in the erasure consumer's transaction (the dev outbox's messages to their
    addresses go with their addresses' keys: `DevOutbox.erase`)."""
    await session.execute(delete(PreferencesRow).where(col(PreferencesRow.user_id) == user_id))
    for table in (InboxEntryRow, DeliveryRow, ParticipantRow):
        await session.execute(delete(table).where(col(table.user_id) == user_id))
