"""A user's contact addresses in their preferences, sealed with the person's data key (`user_subject`,
docs/privacy.md) — one way to seal across the project — so their erasure shreds them with the key. Values
sealed before with the secret-key `FieldCipher` (`v1:`) are sealed anew at start."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notification.models import PreferencesRow
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.keys import DataKeys, SubjectCipher, user_subject
from services.runtime.resealing import FORMER_PATTERN, sealed_anew
from services.runtime.sealed_rows import BATCH, in_batches

EMAIL_ADDRESS, PHONE = "notification_preferences.email_address", "notification_preferences.phone"


def seal_addresses(cipher: SubjectCipher, row: PreferencesRow, email_address: str, phone: str) -> None:
    row.email_address_sealed = cipher.seal(EMAIL_ADDRESS, email_address)
    row.phone_sealed = cipher.seal(PHONE, phone)


def opened_addresses(cipher: SubjectCipher, row: PreferencesRow) -> tuple[str, str]:
    """(e-mail address, phone); "" for none, or for a person whose key was destroyed."""
    return cipher.open_or(EMAIL_ADDRESS, row.email_address_sealed, ""), cipher.open_or(
        PHONE, row.phone_sealed, ""
    )


async def seal_former_addresses(db: Database, keys: DataKeys, former: FieldCipher) -> int:
    """Seal anew the addresses `former` sealed (`services/runtime/resealing.py`); returns how many rows
    changed. Run at start before serving."""

    async def seal_row(conn: AsyncConnection, row: Row[Any]) -> None:
        cipher = await keys.cipher(user_subject(row.user_id))
        await conn.execute(
            text(
                "UPDATE notification_preferences SET email_address_sealed = :email, phone_sealed = :phone "
                "WHERE user_id = :user_id"
            ),
            {
                "user_id": row.user_id,
                "email": sealed_anew(cipher, former, EMAIL_ADDRESS, row.email_address_sealed),
                "phone": sealed_anew(cipher, former, PHONE, row.phone_sealed),
            },
        )

    query = text(
        "SELECT user_id, email_address_sealed, phone_sealed FROM notification_preferences "
        "WHERE email_address_sealed LIKE :former OR phone_sealed LIKE :former "
        f"LIMIT {BATCH} FOR UPDATE SKIP LOCKED"
    )
    return await in_batches(db, query, {"former": FORMER_PATTERN}, seal_row)
