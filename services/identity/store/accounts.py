"""User accounts and their enterprises (tenants) (R-ACC-1, R-ACC-2, R-ACC-4): creation (idempotent, for
seeds and staff), the caller's profile, and the changes a user makes to it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from counsel.identity.v1 import events_pb2
from services.identity import domain
from services.identity.models import EnterpriseRow, MembershipCardRow, UserRow
from services.identity.store.base import IdentityBase, UserView, audit, record_consent
from services.identity.store.limits import Lockout
from services.identity.store.otp import OneTimeCodes
from services.identity.store.sealed import EMAIL, PHONE
from services.runtime.context import Principal
from services.runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, Unauthenticated
from services.runtime.records import new_id, utcnow
from services.runtime.tenancy import signed_in


@dataclass(frozen=True)
class CreatedEnterprise:
    enterprise: EnterpriseRow
    created: bool  # False: it existed (the id was taken already)


@dataclass(frozen=True)
class CreatedUser:
    user: UserView
    created: bool  # False: the e-mail address had an account already


@dataclass(frozen=True)
class Profile:
    """What `GET /me` shows: the user, the enterprise (None for staff) and the linked cards."""

    user: UserView
    enterprise: EnterpriseRow | None
    cards: list[MembershipCardRow] = field(default_factory=list)


class Accounts:
    def __init__(self, base: IdentityBase, lockout: Lockout, codes: OneTimeCodes) -> None:
        self.base = base
        self.lockout = lockout
        self.codes = codes

    async def get_user(self, principal: Principal | None, user_id: str) -> UserView:
        """The user, or NotFound when it does not exist or the caller may not see it (R-ACC-4)."""
        async with self.base.db.transaction() as session:
            row = await session.get(UserRow, user_id) if user_id else None
        if row is None or not domain.can_see_user(principal, row.id, row.tenant_id):
            raise NotFound("no such user")
        return await self.base.view(row)

    async def hash_password(self, password: str) -> str:
        """argon2id hash of a new password (validated), computed off the event loop."""
        return await asyncio.to_thread(self.base.passwords.hash, domain.validate_new_password(password))

    async def create_enterprise(
        self, name: str, enterprise_id: str | None = None, industry: str = ""
    ) -> CreatedEnterprise:
        """Create an enterprise (tenant) of `industry`; idempotent by id."""
        name = name.strip()
        if not name:
            raise InvalidArgument.for_field("name", "must not be empty")
        table = EnterpriseRow.__table__  # type: ignore[attr-defined]
        row_id = enterprise_id or new_id()
        async with self.base.db.transaction() as session:
            inserted = await session.execute(
                pg_insert(table)
                .values(id=row_id, name=name, industry=industry, created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(table.c.id)
            )
            created = inserted.first() is not None
            row = await session.get(EnterpriseRow, row_id)
            assert row is not None
            return CreatedEnterprise(row, created)

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
        firm_id: str = "",
        privacy_policy_accepted: bool = False,
    ) -> CreatedUser:
        """Create a user with a pre-hashed password (`hash_password`) and its `user.registered` event.
        Idempotent by e-mail: an existing address returns that user unchanged and created=False (except
        that a staff member without a firm gets `firm_id`). AlreadyExists when the phone number belongs to
        another user; NotFound for an unknown tenant. A person created here accepts the privacy policy at
        their first login, unless `privacy_policy_accepted` (the demo seed's fixture accounts) records the
        version in force as accepted with the account."""
        new = domain.validate_new_user(email, phone, display_name, roles, tenant_id)
        cipher = self.base.cipher
        email_index = cipher.blind_index(new.email) if new.email else None
        phone_index = cipher.blind_index(new.phone) if new.phone else None
        row_id = user_id or new_id()
        person = await self.base.personal(row_id)
        table = UserRow.__table__  # type: ignore[attr-defined]
        async with self.base.db.transaction() as session:
            if new.tenant_id and await session.get(EnterpriseRow, new.tenant_id) is None:
                raise NotFound("no such enterprise")
            inserted = await session.execute(
                pg_insert(table)
                .values(
                    id=row_id,
                    tenant_id=new.tenant_id,
                    display_name=new.display_name,
                    email_index=email_index,
                    email_enc=person.cipher.seal(EMAIL, new.email),
                    phone_index=phone_index,
                    phone_enc=person.cipher.seal(PHONE, new.phone),
                    password_hash=password_hash,
                    roles=list(new.roles),
                    status="active",
                    created_at=utcnow(),
                    firm_id=firm_id,
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
                if firm_id and not existing.firm_id:
                    existing.firm_id = firm_id
                    session.add(existing)
                row, created = existing, False
            else:
                await self.base.outbox.add(
                    session,
                    "user.registered",
                    events_pb2.UserRegistered(user_id=row_id, tenant_id=new.tenant_id),
                    aggregate_id=row_id,
                    tenant_id=new.tenant_id,
                )
                new_row = await session.get(UserRow, row_id)
                assert new_row is not None
                row = new_row
                if privacy_policy_accepted:
                    record_consent(session, row, self.base.privacy_policy.version, via="seed")
                created = True
        return CreatedUser(await self.base.view(row), created)

    async def profile(self, principal: Principal | None) -> Profile:
        caller = signed_in(principal, "see your profile")
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, caller.user_id)
            if user is None:
                raise NotFound("no such user")
            enterprise = await session.get(EnterpriseRow, user.tenant_id) if user.tenant_id else None
            cards = (
                await session.exec(
                    select(MembershipCardRow)
                    .where(MembershipCardRow.user_id == user.id)
                    .order_by(col(MembershipCardRow.created_at))
                )
            ).all()
        return Profile(await self.base.view(user), enterprise, list(cards))

    async def update_me(self, principal: Principal | None, change: domain.ProfileChange) -> UserView:
        """Change the caller's name, link a phone or an e-mail (proven by its code: R-ACC-2, one person,
        several login methods) and/or set a password (the current one is required when one is set).
        AlreadyExists when the phone or e-mail belongs to another account."""
        caller = signed_in(principal, "change your profile")
        passwords = self.base.passwords
        if change.password:
            async with self.base.db.transaction() as session:
                current = await session.get(UserRow, caller.user_id)
            if current is None:
                raise NotFound("no such user")
            if current.password_hash:
                try:
                    await asyncio.to_thread(passwords.verify, current.password_hash, change.current_password)
                except Unauthenticated:
                    raise InvalidArgument.for_field(
                        "current_password", "is not your current password"
                    ) from None
        new_hash = await asyncio.to_thread(passwords.hash, change.password) if change.password else ""
        if change.identifier_kind:
            key = self.base.identifier_key(change.identifier)
            await self.lockout.check(key)
            if not await self.codes.consume(change.identifier, change.code):
                await self.lockout.record_failure(key, "link", "")
                raise InvalidArgument.for_field("code", "is wrong or has expired; request a new code")
        person = await self.base.personal(caller.user_id)
        changed: list[str] = []
        try:
            async with self.base.db.transaction() as session:
                user = await session.get(UserRow, caller.user_id, with_for_update=True)
                if user is None or user.status == "erased":
                    raise NotFound("no such user")
                if change.display_name and change.display_name != user.display_name:
                    user.display_name = change.display_name
                    changed.append("display_name")
                if change.identifier_kind:
                    columns = self.base.identifier_columns(person, change.identifier_kind, change.identifier)
                    index_column = f"{change.identifier_kind}_index"
                    if getattr(user, index_column) != columns[index_column]:
                        for column, value in columns.items():
                            setattr(user, column, value)
                        changed.append(change.identifier_kind)
                if new_hash:
                    user.password_hash = new_hash
                    changed.append("password")
                if changed:
                    session.add(user)
                    await session.flush()
                    audit(session, "profile.updated", actor_id=user.id, user=user, fields=changed)
        except IntegrityError as exc:
            taken = change.identifier_kind or "email"
            message = "belongs to another account"
            raise AlreadyExists(f"{taken}: {message}", violations=[FieldViolation(taken, message)]) from exc
        return person.view(user)
