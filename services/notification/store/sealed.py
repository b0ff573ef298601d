"""A user's contact addresses in their preferences, sealed with the person's data key (`user_subject`,
docs/privacy.md) — one way to seal across the project — so their erasure shreds them with the key. Values
sealed before with the secret-key `FieldCipher` (`v1:`) are sealed anew at start, and read with it until then
(a rolling deploy); whatever is written is sealed with the person's key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.notification.models import PreferencesRow
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.keys import DataKeys, SubjectCipher, user_subject
from services.runtime.resealing import FORMER_PATTERN, opened, sealed_anew
from services.runtime.sealed_rows import BATCH, in_batches

EMAIL_ADDRESS, PHONE = "notification_preferences.email_address", "notification_preferences.phone"


@dataclass(frozen=True)
class UserAddresses:
    """One user's contact addresses, sealed and opened with their data key (`former` opens a `v1:` value not
    sealed anew yet)."""

    cipher: SubjectCipher
    former: FieldCipher

    def seal(self, row: PreferencesRow, email_address: str, phone: str) -> None:
        row.email_address_sealed = self.cipher.seal(EMAIL_ADDRESS, email_address)
        row.phone_sealed = self.cipher.seal(PHONE, phone)

    def opened(self, row: PreferencesRow) -> tuple[str, str]:
        """(e-mail address, phone); "" for none, or for a person whose key was destroyed."""
        return (
            opened(self.cipher, self.former, EMAIL_ADDRESS, row.email_address_sealed, ""),
            opened(self.cipher, self.former, PHONE, row.phone_sealed, ""),
        )


@dataclass(frozen=True)
class ContactAddresses:
    """The users' contact addresses: each user's on their own data key, `v1:` values opened with `former`."""

    keys: DataKeys
    former: FieldCipher

    async def of(self, user_id: str) -> UserAddresses:
        return UserAddresses(await self.keys.cipher(user_subject(user_id)), self.former)


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
