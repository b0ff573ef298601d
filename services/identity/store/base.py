"""The base every identity store shares (R-PRIV-1): the database, the outbox, the data keys that seal a
person's fields (`store/sealed.py`), the secret-key cipher that keys blind indexes and seals the service's
own secrets, password hashing, and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.identity.v1 import events_pb2
from services.identity import domain, tokens
from services.identity.config import IdentitySettings
from services.identity.models import AuditEventRow, ConsentRow, UserRow
from services.identity.store.sealed import PersonalFields, UserView, personal_fields
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, user_subject
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class SignedIn:
    """A user who has just signed in (or registered, or refreshed a session), with the session's tokens."""

    user: UserView
    tokens: tokens.IssuedTokens


@dataclass(frozen=True)
class IdentityBase:
    db: Database
    outbox: Outbox
    # Blind indexes, the service's own secrets (signing keys, PKCE verifiers) and the personal fields sealed
    # before data keys (`v1:`, read until they are sealed anew): COUNSEL_SECRET_KEY.
    cipher: FieldCipher
    data_keys: DataKeys
    settings: IdentitySettings
    passwords: domain.Passwords

    @property
    def privacy_policy(self) -> domain.PrivacyPolicy:
        return domain.PrivacyPolicy(self.settings.privacy_policy_version, self.settings.privacy_policy_url)

    async def personal(self, user_id: str) -> PersonalFields:
        """The person's fields sealed and opened with their data key. Its first use in a while reads the
        key in a short transaction of its own: inside another transaction, that is a second connection."""
        return await personal_fields(self.data_keys, self.cipher, user_id)

    async def view(self, row: UserRow) -> UserView:
        return (await self.personal(row.id)).view(row)

    async def shred(self, session: AsyncSession, user_id: str) -> None:
        """Destroy the person's data key in `session`'s transaction (erasure): their e-mail, phone and
        logins' places, here and in every copy, can no longer be opened."""
        await self.data_keys.destroy(user_subject(user_id), await session.connection())

    def identifier_key(self, canonical: str) -> str:
        """The key failed attempts with a login identifier (or card number, or service client) count under."""
        return self.cipher.blind_index(f"login:{canonical}")

    def ip_key(self, client_ip: str) -> str:
        return self.cipher.blind_index(f"ip:{client_ip}") if client_ip else ""

    def card_index(self, card_number: str) -> str:
        return self.cipher.blind_index(f"card:{card_number}")

    def identifier_columns(self, person: PersonalFields, kind: str, canonical: str) -> dict[str, str]:
        """A user's columns for a phone or an e-mail: its blind index and its value sealed for `person`."""
        return {
            f"{kind}_index": self.cipher.blind_index(canonical),
            **person.sealed_identifier(kind, canonical),
        }

    async def user_by_identifier(self, kind: str, canonical: str) -> UserRow | None:
        index = self.cipher.blind_index(canonical)
        column = UserRow.email_index if kind == "email" else UserRow.phone_index
        async with self.db.transaction() as session:
            return (await session.exec(select(UserRow).where(column == index))).first()

    async def registered(
        self, session: AsyncSession, user: UserRow, *, marketing_consent: bool = False
    ) -> None:
        """`user.registered` for an account that has just become usable, in the caller's transaction, with
        the marketing consent given when registering (notification records it in the preferences)."""
        await self.outbox.add(
            session,
            "user.registered",
            events_pb2.UserRegistered(
                user_id=user.id, tenant_id=user.tenant_id, marketing_consent=marketing_consent
            ),
            aggregate_id=user.id,
            tenant_id=user.tenant_id,
            actor_id=user.id,
        )


def audit(
    session: AsyncSession,
    action: str,
    *,
    actor_id: str = "",
    user: UserRow | None = None,
    user_id: str = "",
    tenant_id: str = "",
    **detail: Any,
) -> None:
    """Append an audit entry in `session` (the change's own transaction). `detail` must hold no
    personal data: ids, methods, roles, hashed keys only."""
    session.add(
        AuditEventRow(
            id=new_id(),
            action=action,
            actor_id=actor_id,
            user_id=user.id if user is not None else user_id,
            tenant_id=user.tenant_id if user is not None else tenant_id,
            detail=detail,
            created_at=utcnow(),
        )
    )


async def accepted_policy_version(session: AsyncSession, user_id: str) -> str | None:
    """The privacy policy version `user_id` accepted last; None when they never accepted one."""
    return (
        await session.exec(
            select(ConsentRow.privacy_policy_version)
            .where(ConsentRow.user_id == user_id)
            .order_by(col(ConsentRow.accepted_at).desc())
            .limit(1)
        )
    ).first()


def record_consent(session: AsyncSession, user: UserRow, privacy_policy_version: str, via: str) -> None:
    """Record `user`'s acceptance of a privacy policy version in `session` (the login's or registration's
    transaction), with its audit entry."""
    session.add(
        ConsentRow(
            id=new_id(),
            user_id=user.id,
            privacy_policy_version=privacy_policy_version,
            accepted_at=utcnow(),
            via=via,
        )
    )
    audit(session, "privacy_policy.accepted", actor_id=user.id, user=user, version=privacy_policy_version)


async def advisory_lock(session: AsyncSession, name: str) -> None:
    """Serialise the transactions that take the lock `name` until they end."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
