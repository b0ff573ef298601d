"""A user's contact addresses in their preferences, sealed with the person's data key (`user_subject`,
docs/privacy.md) — one way to seal across the project — so their erasure shreds them with the key. Values
sealed before with the secret-key `FieldCipher` (`v1:`) are sealed anew at start."""

from __future__ import annotations

from sqlalchemy import text

from services.notification.models import PreferencesRow
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.keys import DataKeys, SubjectCipher, user_subject

EMAIL_ADDRESS, PHONE = "notification_preferences.email_address", "notification_preferences.phone"
_BATCH = 500
_FORMER = "v1:"  # FieldCipher's values


def seal_addresses(cipher: SubjectCipher, row: PreferencesRow, email_address: str, phone: str) -> None:
    row.email_address_sealed = cipher.seal(EMAIL_ADDRESS, email_address)
    row.phone_sealed = cipher.seal(PHONE, phone)


def opened_addresses(cipher: SubjectCipher, row: PreferencesRow) -> tuple[str, str]:
    """(e-mail address, phone); "" for none, or for a person whose key was destroyed."""
    return cipher.open_or(EMAIL_ADDRESS, row.email_address_sealed, ""), cipher.open_or(
        PHONE, row.phone_sealed, ""
    )


async def seal_former_addresses(db: Database, keys: DataKeys, former: FieldCipher) -> int:
    """Seal anew the addresses `former` sealed, a batch per transaction; returns how many rows changed. Run
    at start before serving; replicas starting together skip each other's locked rows."""
    changed = 0
    query = text(
        "SELECT user_id, email_address_sealed, phone_sealed FROM notification_preferences "
        "WHERE email_address_sealed LIKE :former OR phone_sealed LIKE :former "
        f"LIMIT {_BATCH} FOR UPDATE SKIP LOCKED"
    )
    while True:
        async with db.engine.begin() as conn:
            rows = (await conn.execute(query, {"former": _FORMER + "%"})).all()
            for user_id, email_address, phone in rows:
                cipher = await keys.cipher(user_subject(user_id))
                await conn.execute(
                    text(
                        "UPDATE notification_preferences SET email_address_sealed = :email, phone_sealed = :phone "
                        "WHERE user_id = :user_id"
                    ),
                    {
                        "user_id": user_id,
                        "email": _sealed_anew(cipher, former, EMAIL_ADDRESS, email_address),
                        "phone": _sealed_anew(cipher, former, PHONE, phone),
                    },
                )
        if not rows:
            return changed
        changed += len(rows)


def _sealed_anew(cipher: SubjectCipher, former: FieldCipher, field: str, value: str) -> str:
    if not value.startswith(_FORMER):
        return value
    # a shredded person's leftover goes: nothing can be sealed for them any more
    return "" if cipher.destroyed else cipher.seal(field, former.decrypt(value))
