"""Identity persistence: one transaction per change, its outbox event included. Personal fields are
encrypted here on the way in and decrypted on the way out; callers see `UserView`s in clear."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.identity.v1 import events_pb2
from services.identity import domain, tokens
from services.identity.models import EnterpriseRow, RefreshTokenRow, SigningKeyRow, UserRow
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound, Unauthenticated
from services.runtime.events import Outbox
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class UserView:
    """A user with the personal fields decrypted."""

    row: UserRow
    email: str
    phone: str


class IdentityStore:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        cipher: FieldCipher,
        settings: Settings,
        passwords: domain.Passwords | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.cipher = cipher
        self.settings = settings
        self.passwords = passwords or domain.Passwords()

    # --- signing keys -------------------------------------------------------------------------------

    async def ensure_signing_key(self) -> str:
        """The kid of the active signing key, creating one when there is none. Safe with replicas
        starting together: they serialise on an advisory lock and only the first creates."""
        async with self.db.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity:signing-key'))"))
            row = await self._active_key_row(session)
            if row is not None:
                return row.kid
            return self._add_signing_key(session).kid

    async def rotate_signing_key(self) -> str:
        """Retire every active key and start signing with a new one; returns the new kid. Tokens signed
        by the retired keys stay verifiable until they expire (see `tokens.is_published`)."""
        async with self.db.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity:signing-key'))"))
            now = utcnow()
            active = (
                await session.exec(select(SigningKeyRow).where(col(SigningKeyRow.retired_at).is_(None)))
            ).all()
            for row in active:
                row.retired_at = now
                session.add(row)
            return self._add_signing_key(session).kid

    async def jwks(self) -> dict[str, Any]:
        """The public keys that verify every unexpired access token (RFC 7517)."""
        now = utcnow()
        ttl = tokens.access_token_ttl(self.settings)
        query = select(SigningKeyRow).where(
            or_(
                col(SigningKeyRow.retired_at).is_(None),
                col(SigningKeyRow.retired_at) > tokens.retention_cutoff(now, ttl),
            )
        )
        async with self.db.transaction() as session:
            rows = (await session.exec(query.order_by(col(SigningKeyRow.created_at)))).all()
        published = [tokens.PublishedKey(json.loads(row.public_jwk), row.retired_at) for row in rows]
        return tokens.jwks_document(published, now, ttl)

    def _add_signing_key(self, session: AsyncSession) -> SigningKeyRow:
        key = tokens.generate_signing_key()
        row = SigningKeyRow(
            kid=key.kid,
            private_key_enc=self.cipher.encrypt(tokens.private_key_pem(key)),
            public_jwk=json.dumps(tokens.public_jwk(key)),
            created_at=utcnow(),
        )
        session.add(row)
        return row

    async def _active_key_row(self, session: AsyncSession) -> SigningKeyRow | None:
        query = (
            select(SigningKeyRow)
            .where(col(SigningKeyRow.retired_at).is_(None))
            .order_by(col(SigningKeyRow.created_at).desc())
            .limit(1)
        )
        return (await session.exec(query)).first()

    async def _signing_key(self, session: AsyncSession) -> tokens.SigningKey:
        row = await self._active_key_row(session)
        if row is None:
            raise RuntimeError("identity has no active signing key (ensure_signing_key runs at start)")
        return tokens.load_signing_key(row.kid, self.cipher.decrypt(row.private_key_enc))

    # --- login --------------------------------------------------------------------------------------

    async def login_password(self, identifier: str, password: str) -> tuple[UserView, tokens.IssuedTokens]:
        """Check a password and open a session: a new refresh-token family and a `user.logged_in` event.

        Raises Unauthenticated("invalid credentials") alike for an unknown identifier, a wrong password
        and a disabled account, after the same amount of hashing work."""
        kind, canonical = domain.parse_identifier(identifier)
        index = self.cipher.blind_index(canonical)
        column = UserRow.email_index if kind == "email" else UserRow.phone_index
        async with self.db.transaction() as session:
            found = (await session.exec(select(UserRow).where(column == index))).first()
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop and outside a transaction.
        await asyncio.to_thread(self.passwords.verify, found.password_hash if found else None, password)
        if found is None or found.status != "active":
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        rehash = await asyncio.to_thread(self._rehash_if_needed, found.password_hash, password)

        access_ttl = tokens.access_token_ttl(self.settings)
        refresh_token, refresh_hash = tokens.new_refresh_token()
        async with self.db.transaction() as session:
            user = await session.get(UserRow, found.id)
            if user is None or user.status != "active":  # deleted or disabled meanwhile
                raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
            if rehash:
                user.password_hash = rehash
                session.add(user)
            now = utcnow()
            access_token = tokens.issue_access_token(
                user, await self._signing_key(session), self.settings, now=now
            )
            session.add(
                RefreshTokenRow(
                    token_hash=refresh_hash,
                    user_id=user.id,
                    family_id=new_id(),
                    expires_at=now + tokens.REFRESH_TOKEN_TTL,
                    created_at=now,
                )
            )
            await session.flush()
            await self.outbox.add(
                session,
                "user.logged_in",
                events_pb2.UserLoggedIn(user_id=user.id, method="password"),
                aggregate_id=user.id,
                tenant_id=user.tenant_id,
                actor_id=user.id,
            )
        return self._view(user), tokens.IssuedTokens(access_token, refresh_token, access_ttl)

    def _rehash_if_needed(self, stored_hash: str, password: str) -> str | None:
        return self.passwords.hash(password) if self.passwords.needs_rehash(stored_hash) else None

    # --- users and enterprises ---------------------------------------------------------------------

    async def get_user(self, principal: Principal | None, user_id: str) -> UserView:
        """The user, or NotFound when it does not exist or the caller may not see it (R-ACC-4)."""
        async with self.db.transaction() as session:
            row = await session.get(UserRow, user_id) if user_id else None
        if row is None or not domain.can_see_user(principal, row.id, row.tenant_id):
            raise NotFound("no such user")
        return self._view(row)

    async def hash_password(self, password: str) -> str:
        """argon2id hash of a new password (validated), computed off the event loop."""
        return await asyncio.to_thread(self.passwords.hash, domain.validate_new_password(password))

    async def create_enterprise(
        self, name: str, enterprise_id: str | None = None
    ) -> tuple[EnterpriseRow, bool]:
        """Create an enterprise (tenant); idempotent by id. Returns (row, created)."""
        name = name.strip()
        if not name:
            raise InvalidArgument.for_field("name", "must not be empty")
        table = EnterpriseRow.__table__  # type: ignore[attr-defined]
        row_id = enterprise_id or new_id()
        async with self.db.transaction() as session:
            inserted = await session.execute(
                pg_insert(table)
                .values(id=row_id, name=name, created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(table.c.id)
            )
            created = inserted.first() is not None
            row = await session.get(EnterpriseRow, row_id)
            assert row is not None
            return row, created

    async def create_user(
        self,
        *,
        email: str,
        display_name: str,
        roles: Sequence[str],
        password_hash: str,
        tenant_id: str = "",
        phone: str = "",
        user_id: str | None = None,
    ) -> tuple[UserView, bool]:
        """Create a user with a pre-hashed password (`hash_password`) and its `user.registered` event.
        Idempotent by e-mail: an existing address returns that user unchanged and created=False.
        AlreadyExists when the phone number belongs to another user; NotFound for an unknown tenant."""
        new = domain.validate_new_user(email, phone, display_name, roles, tenant_id)
        email_index = self.cipher.blind_index(new.email) if new.email else None
        phone_index = self.cipher.blind_index(new.phone) if new.phone else None
        row_id = user_id or new_id()
        table = UserRow.__table__  # type: ignore[attr-defined]
        async with self.db.transaction() as session:
            if new.tenant_id and await session.get(EnterpriseRow, new.tenant_id) is None:
                raise NotFound("no such enterprise")
            inserted = await session.execute(
                pg_insert(table)
                .values(
                    id=row_id,
                    tenant_id=new.tenant_id,
                    display_name=new.display_name,
                    email_index=email_index,
                    email_enc=self.cipher.encrypt(new.email) if new.email else "",
                    phone_index=phone_index,
                    phone_enc=self.cipher.encrypt(new.phone) if new.phone else "",
                    password_hash=password_hash,
                    roles=list(new.roles),
                    status="active",
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing()
                .returning(table.c.id)
            )
            if inserted.first() is None:
                existing = None
                if email_index is not None:
                    existing = (
                        await session.exec(select(UserRow).where(UserRow.email_index == email_index))
                    ).first()
                if existing is None:
                    raise AlreadyExists("this phone number or user id is already registered")
                return self._view(existing), False
            await self.outbox.add(
                session,
                "user.registered",
                events_pb2.UserRegistered(user_id=row_id, tenant_id=new.tenant_id),
                aggregate_id=row_id,
                tenant_id=new.tenant_id,
            )
            row = await session.get(UserRow, row_id)
            assert row is not None
            return self._view(row), True

    def _view(self, row: UserRow) -> UserView:
        return UserView(
            row,
            self.cipher.decrypt(row.email_enc) if row.email_enc else "",
            self.cipher.decrypt(row.phone_enc) if row.phone_enc else "",
        )
