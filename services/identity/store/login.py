"""Signing in with a password, a one-time code or a membership card, and registering with a proven phone
or e-mail (R-ACC-1, R-ACC-2). Every failure looks alike and counts towards the lockout."""

from __future__ import annotations

import asyncio

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.identity import domain
from services.identity.models import EnterpriseRow, MembershipCardRow, UserRow
from services.identity.store.base import (
    IdentityBase,
    SignedIn,
    accepted_policy_version,
    audit,
    record_consent,
)
from services.identity.store.limits import Lockout
from services.identity.store.otp import OneTimeCodes
from services.identity.store.sessions import Sessions
from services.runtime.errors import AlreadyExists, InvalidArgument, Unauthenticated
from services.runtime.records import new_id, utcnow


class Logins:
    def __init__(self, base: IdentityBase, lockout: Lockout, codes: OneTimeCodes, sessions: Sessions) -> None:
        self.base = base
        self.lockout = lockout
        self.codes = codes
        self.sessions = sessions

    async def login(
        self, attempt: domain.LoginAttempt, client_ip: str = "", privacy_policy_version: str = ""
    ) -> SignedIn:
        """Check one credential and open a session: a new refresh-token family, `user.logged_in` and an
        audit entry. Raises Unauthenticated("invalid credentials") alike for an unknown identifier, a
        wrong secret, a revoked card and a disabled account (R-ACC-2), and RateLimited while the
        identifier is locked after repeated failures. A person who has not accepted the privacy policy in
        force gets Conflict naming `privacy_policy_version` (`domain.consent_at_login`) until a login sends
        its version, which records their acceptance."""
        key = self.base.identifier_key(attempt.identifier)
        await self.lockout.check(key, client_ip)
        if attempt.method == "password":
            user = await self._verify_password(attempt)
        elif attempt.method == "otp":
            user = await self._verify_code(attempt)
        else:
            user = await self._verify_card(attempt)
        if user is None:
            await self.lockout.record_failure(key, attempt.method, client_ip)
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        # Read before the transaction, so the session's sealing of where the login came from finds it.
        person = await self.base.personal(user.id)
        async with self.base.db.transaction() as session:
            current = await session.get(UserRow, user.id, with_for_update=True)
            if current is None or not domain.signs_in(current.status):  # deleted or disabled meanwhile
                raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
            accepted = await accepted_policy_version(session, current.id)
            if domain.consent_at_login(accepted, privacy_policy_version, self.base.privacy_policy):
                record_consent(session, current, privacy_policy_version, via="login")
            await self.lockout.forget_failures(session, key)
            issued = await self.sessions.open(session, current, attempt.method, client_ip)
            audit(session, "login.succeeded", actor_id=current.id, user=current, method=attempt.method)
        return SignedIn(person.view(current), issued)

    async def _verify_password(self, attempt: domain.LoginAttempt) -> UserRow | None:
        found = await self.base.user_by_identifier(attempt.identifier_kind, attempt.identifier)
        passwords = self.base.passwords
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop and outside a transaction.
        try:
            await asyncio.to_thread(passwords.verify, found.password_hash if found else None, attempt.secret)
        except Unauthenticated:
            return None
        if found is None or not domain.signs_in(found.status):
            return None
        rehash = await asyncio.to_thread(passwords.rehash_if_needed, found.password_hash, attempt.secret)
        if rehash:
            async with self.base.db.transaction() as session:
                await session.execute(
                    update(UserRow).where(col(UserRow.id) == found.id).values(password_hash=rehash)
                )
        return found

    async def _verify_code(self, attempt: domain.LoginAttempt) -> UserRow | None:
        if not await self.codes.consume(attempt.identifier, attempt.secret):
            return None
        found = await self.base.user_by_identifier(attempt.identifier_kind, attempt.identifier)
        admission = domain.code_sign_in(found.status if found else None)
        if found is None or admission is domain.CodeSignIn.REFUSED:
            return None
        if admission is domain.CodeSignIn.ACTIVATE:
            async with self.base.db.transaction() as session:
                row = await session.get(UserRow, found.id, with_for_update=True)
                if row is None or row.status != "invited":
                    return None
                row.status = "active"
                session.add(row)
                await session.flush()
                await self.base.registered(session, row)
                audit(session, "user.activated", actor_id=row.id, user=row, via="otp")
        return found

    async def _verify_card(self, attempt: domain.LoginAttempt) -> UserRow | None:
        async with self.base.db.transaction() as session:
            card = (
                await session.exec(
                    select(MembershipCardRow).where(
                        MembershipCardRow.card_index == self.base.card_index(attempt.identifier)
                    )
                )
            ).first()
        try:
            await asyncio.to_thread(
                self.base.passwords.verify, card.pin_hash if card else None, attempt.secret
            )
        except Unauthenticated:
            return None
        if card is None or not domain.card_signs_in(card.status, card.user_id):
            return None
        async with self.base.db.transaction() as session:
            user = await session.get(UserRow, card.user_id)
        return user if user is not None and domain.signs_in(user.status) else None

    async def register(self, registration: domain.Registration, client_ip: str = "") -> SignedIn:
        """Create the account of a verified phone or e-mail and open its first session (R-ACC-1).

        With an enterprise name a new enterprise (tenant) is created and the user is its client_admin;
        without one the user is a client of a personal tenant; an invited person joins the inviting
        enterprise with the invited role (`domain.check_invited_registration`: Conflict when they ask for
        a different new enterprise). InvalidArgument("code") for a wrong or expired code,
        AlreadyExists when the (proven) phone or e-mail already has an account."""
        domain.check_policy_accepted_at_registration(
            registration.privacy_policy_version, self.base.privacy_policy
        )
        key = self.base.identifier_key(registration.identifier)
        await self.lockout.check(key, client_ip)
        password_hash = (
            await asyncio.to_thread(self.base.passwords.hash, registration.password)
            if registration.password
            else ""
        )
        if not await self.codes.consume(registration.identifier, registration.code):
            await self.lockout.record_failure(key, "register", client_ip)
            raise InvalidArgument.for_field("code", "is wrong or has expired; request a new code")
        index = self.base.cipher.blind_index(registration.identifier)
        column = UserRow.email_index if registration.kind == "email" else UserRow.phone_index
        # The new account's id and data key come first: its phone or e-mail is sealed in the transaction.
        new_user_id = new_id()
        newcomer = await self.base.personal(new_user_id)
        try:
            async with self.base.db.transaction() as session:
                existing = (
                    await session.exec(select(UserRow).where(column == index).with_for_update())
                ).first()
                domain.check_registrable(existing.status if existing else None)
                now = utcnow()
                if existing is not None:
                    inviting = await session.get(EnterpriseRow, existing.tenant_id)
                    domain.check_invited_registration(
                        registration.enterprise_name, inviting.name if inviting is not None else ""
                    )
                    user = existing
                    user.display_name = registration.display_name
                    user.password_hash = password_hash
                    user.status = "active"
                    session.add(user)
                    await session.flush()
                    audit(session, "user.activated", actor_id=user.id, user=user, via="register")
                else:
                    tenant_id = new_id()
                    session.add(
                        EnterpriseRow(
                            id=tenant_id,
                            name=registration.enterprise_name or registration.display_name,
                            created_at=now,
                        )
                    )
                    roles = domain.registration_roles(registration.enterprise_name)
                    user = UserRow(
                        id=new_user_id,
                        tenant_id=tenant_id,
                        display_name=registration.display_name,
                        password_hash=password_hash,
                        roles=list(roles),
                        status="active",
                        created_at=now,
                        **self.base.identifier_columns(newcomer, registration.kind, registration.identifier),
                    )
                    session.add(user)
                    await session.flush()
                    audit(
                        session,
                        "user.registered",
                        actor_id=user.id,
                        user=user,
                        enterprise_created=bool(registration.enterprise_name),
                    )
                    audit(session, "role.granted", actor_id=user.id, user=user, roles=list(roles))
                record_consent(session, user, registration.privacy_policy_version, via="register")
                await self.base.registered(session, user, marketing_consent=registration.marketing_consent)
                issued = await self.sessions.open(session, user, "register", client_ip)
                audit(session, "login.succeeded", actor_id=user.id, user=user, method="register")
        except IntegrityError as exc:  # the same phone or e-mail registered concurrently
            raise AlreadyExists(
                "this phone or e-mail already has an account; log in instead", reason="already_registered"
            ) from exc
        return SignedIn(await self.base.view(user), issued)
