"""A person's fields in identity, sealed with their own data key (`user_subject`, docs/privacy.md) — one way
to seal across the project — so that erasing them destroys the key and every copy (WAL, backups) with it:
the e-mail address and phone of their account, and where each of their logins came from (the IP address and
its place, in the activity's detail). The blind indexes that find an account by e-mail or phone stay keyed
by COUNSEL_SECRET_KEY (`FieldCipher.blind_index`). Values sealed before with the secret-key `FieldCipher`
(`v1:`) are sealed anew at start (`seal_former_values`), and read with it until then (a rolling deploy);
whatever is written is sealed with the person's key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.identity.models import UserRow
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.keys import DataKeys, SubjectCipher, user_subject
from services.runtime.resealing import FORMER_PATTERN, opened, sealed_anew
from services.runtime.sealed_rows import BATCH, in_batches

EMAIL, PHONE = "users.email", "users.phone"
# An activity's detail keys that hold a sealed value, and the field each is sealed as.
SEALED_DETAIL = {"ip_enc": "activities.ip", "location_enc": "activities.location"}
_SHOWN_AS = {"ip_enc": "ip", "location_enc": "location"}


@dataclass(frozen=True)
class UserView:
    """A user with the personal fields opened."""

    row: UserRow
    email: str
    phone: str


def without_login_place(detail: Mapping[str, str]) -> dict[str, str]:
    """An activity's detail without where the person logged in from (the IP address and its place, sealed):
    what staff serving them see (R-CS-2), as that stays with the person — nothing sealed is shown or opened."""
    return {k: v for k, v in detail.items() if k not in SEALED_DETAIL}


@dataclass(frozen=True)
class PersonalFields:
    """One person's fields, sealed and opened with their data key (`former` opens a `v1:` value not sealed
    anew yet). Once the key is destroyed (erasure) they open as "" and nothing new can be sealed for them
    (KeyDestroyed)."""

    cipher: SubjectCipher
    former: FieldCipher

    def sealed_identifier(self, kind: str, canonical: str) -> dict[str, str]:
        """The `users` column of a phone or an e-mail, sealed."""
        if kind == "email":
            return {"email_enc": self.cipher.seal(EMAIL, canonical)}
        return {"phone_enc": self.cipher.seal(PHONE, canonical)}

    def view(self, row: UserRow) -> UserView:
        return UserView(row, self._open(EMAIL, row.email_enc), self._open(PHONE, row.phone_enc))

    def login_detail(self, method: str, client_ip: str, location: str) -> dict[str, str]:
        """A login's activity detail: how, and from where (the IP address and its place, sealed)."""
        detail = {"method": method}
        if client_ip:
            detail["ip_enc"] = self.cipher.seal(SEALED_DETAIL["ip_enc"], client_ip)
        if location:
            detail["location_enc"] = self.cipher.seal(SEALED_DETAIL["location_enc"], location)
        return detail

    def shown_detail(self, detail: Mapping[str, str]) -> dict[str, str]:
        """An activity's detail as its owner sees it: the IP address and place opened."""
        shown = without_login_place(detail)
        for sealed, field in SEALED_DETAIL.items():
            if sealed in detail:
                shown[_SHOWN_AS[sealed]] = self._open(field, detail[sealed])
        return shown

    def _open(self, field: str, value: str) -> str:
        return opened(self.cipher, self.former, field, value, "")


async def personal_fields(keys: DataKeys, former: FieldCipher, user_id: str) -> PersonalFields:
    return PersonalFields(await keys.cipher(user_subject(user_id)), former)


async def seal_former_values(db: Database, keys: DataKeys, former: FieldCipher) -> int:
    """Seal anew with the person's key what `former` sealed — accounts' e-mails and phones, logins' IP
    addresses and places (`services/runtime/resealing.py`); returns how many rows changed. Run at start
    before serving."""

    async def seal_user(conn: AsyncConnection, row: Row[Any]) -> None:
        cipher = await keys.cipher(user_subject(row.id))
        await conn.execute(
            text("UPDATE users SET email_enc = :email, phone_enc = :phone WHERE id = :id"),
            {
                "id": row.id,
                "email": sealed_anew(cipher, former, EMAIL, row.email_enc),
                "phone": sealed_anew(cipher, former, PHONE, row.phone_enc),
            },
        )

    async def seal_activity(conn: AsyncConnection, row: Row[Any]) -> None:
        cipher = await keys.cipher(user_subject(row.user_id))
        detail = dict(row.detail)
        for key, field in SEALED_DETAIL.items():
            if key in detail:
                detail[key] = sealed_anew(cipher, former, field, detail[key])
        await conn.execute(
            text("UPDATE activities SET detail = CAST(:detail AS jsonb) WHERE id = :id"),
            {"id": row.id, "detail": json.dumps(detail)},
        )

    params = {"former": FORMER_PATTERN}
    users = text(
        "SELECT id, email_enc, phone_enc FROM users WHERE email_enc LIKE :former OR phone_enc LIKE :former "
        f"LIMIT {BATCH} FOR UPDATE SKIP LOCKED"
    )
    activities = text(
        "SELECT id, user_id, detail FROM activities "
        "WHERE detail->>'ip_enc' LIKE :former OR detail->>'location_enc' LIKE :former "
        f"LIMIT {BATCH} FOR UPDATE SKIP LOCKED"
    )
    return await in_batches(db, users, params, seal_user) + await in_batches(
        db, activities, params, seal_activity
    )
