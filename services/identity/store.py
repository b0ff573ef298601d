"""Identity persistence: one transaction per change, its outbox event included. Personal fields are
encrypted here on the way in and decrypted on the way out; callers see `UserView`s in clear."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2
from services.identity import domain, tokens
from services.identity.geo import GeoResolver, resolver_for
from services.identity.models import (
    ActivityRow,
    AuditEventRow,
    EnterpriseRow,
    MembershipCardRow,
    OidcLinkRow,
    OidcStateRow,
    OtpCodeRow,
    RateHitRow,
    RefreshTokenRow,
    ServiceClientRow,
    SigningKeyRow,
    TokenRevocationRow,
    UserRow,
)
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.errors import (
    AlreadyExists,
    Conflict,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from services.runtime.events import Outbox
from services.runtime.records import new_id, newest_first, page_of, utcnow
from services.runtime.tenancy import signed_in


@dataclass(frozen=True)
class UserView:
    """A user with the personal fields decrypted."""

    row: UserRow
    email: str
    phone: str


@dataclass(frozen=True)
class Profile:
    """What `GET /me` shows: the user, the enterprise (None for staff) and the linked cards."""

    user: UserView
    enterprise: EnterpriseRow | None
    cards: list[MembershipCardRow] = field(default_factory=list)


log = logging.getLogger(__name__)

# Rate-limit buckets (RateHitRow.bucket).
OTP_DESTINATION = "otp_destination"
OTP_IP = "otp_ip"
LOGIN_FAILURE = "login_failure"
LOGIN_FAILURE_IP = "login_failure_ip"
INVITATION_ENTERPRISE = "invitation_enterprise"


class IdentityStore:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        cipher: FieldCipher,
        settings: Settings,
        passwords: domain.Passwords | None = None,
        policy: domain.AuthPolicy | None = None,
        geo: GeoResolver | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.cipher = cipher
        self.settings = settings
        self.passwords = passwords or domain.Passwords()
        self.policy = policy or domain.AuthPolicy()
        self.geo = geo or resolver_for(settings.geoip_database)

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

    async def rotate_signing_key(self, min_age: timedelta = timedelta(0)) -> tuple[str, datetime]:
        """Publish a new signing key now and sign with it from `tokens.SIGNING_KEY_PUBLISH_AHEAD` on, when
        the newest key is at least `min_age` old (so a retried or repeated rotation makes one key); the keys
        signing now retire then, and stay in the JWKS until the tokens they signed expire. Returns the
        newest key's kid and when it signs from."""
        async with self.db.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('identity:signing-key'))"))
            now = utcnow()
            current = (
                await session.exec(
                    select(SigningKeyRow)
                    .where(col(SigningKeyRow.retired_at).is_(None))
                    .order_by(col(SigningKeyRow.created_at).desc())
                )
            ).all()
            if current and current[0].created_at > now - min_age:
                return current[0].kid, current[0].created_at + tokens.SIGNING_KEY_PUBLISH_AHEAD
            switch = now + tokens.SIGNING_KEY_PUBLISH_AHEAD
            for row in current:
                row.retired_at = switch
                session.add(row)
            added = self._add_signing_key(session, now)
            self._audit(session, "signing_key.rotated", actor_id="system", kid=added.kid)
            return added.kid, switch

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

    def _add_signing_key(self, session: AsyncSession, now: datetime | None = None) -> SigningKeyRow:
        key = tokens.generate_signing_key()
        row = SigningKeyRow(
            kid=key.kid,
            private_key_enc=self.cipher.encrypt(tokens.private_key_pem(key)),
            public_jwk=json.dumps(tokens.public_jwk(key)),
            created_at=now or utcnow(),
        )
        session.add(row)
        return row

    async def _active_key_row(self, session: AsyncSession) -> SigningKeyRow | None:
        """The key that signs now: the newest not yet retired that has been published for
        SIGNING_KEY_PUBLISH_AHEAD (a key just rotated in waits, its predecessor signs meanwhile); when
        none has, the oldest of them (on a fresh start, the only key there is)."""
        now = utcnow()
        query = (
            select(SigningKeyRow)
            .where(or_(col(SigningKeyRow.retired_at).is_(None), col(SigningKeyRow.retired_at) > now))
            .order_by(col(SigningKeyRow.created_at).desc())
        )
        candidates = (await session.exec(query)).all()
        published = [row for row in candidates if row.created_at <= now - tokens.SIGNING_KEY_PUBLISH_AHEAD]
        if published:
            return published[0]
        return candidates[-1] if candidates else None  # all are new: the longest-known one

    async def _signing_key(self, session: AsyncSession) -> tokens.SigningKey:
        row = await self._active_key_row(session)
        if row is None:
            raise RuntimeError("identity has no active signing key (ensure_signing_key runs at start)")
        return tokens.load_signing_key(row.kid, self.cipher.decrypt(row.private_key_enc))

    # --- login --------------------------------------------------------------------------------------

    async def login_password(self, identifier: str, password: str) -> tuple[UserView, tokens.IssuedTokens]:
        """Password login (see `login`)."""
        return await self.login(domain.validate_login("password", identifier, password))

    async def login(
        self, attempt: domain.LoginAttempt, client_ip: str = ""
    ) -> tuple[UserView, tokens.IssuedTokens]:
        """Check one credential and open a session: a new refresh-token family, `user.logged_in` and an
        audit entry. Raises Unauthenticated("invalid credentials") alike for an unknown identifier, a
        wrong secret, a revoked card and a disabled account (R-ACC-2), and RateLimited while the
        identifier is locked after repeated failures."""
        key = self._identifier_key(attempt.identifier)
        await self._check_not_locked(key, client_ip)
        if attempt.method == "password":
            user = await self._verify_password(attempt)
        elif attempt.method == "otp":
            user = await self._verify_otp_login(attempt)
        else:
            user = await self._verify_card(attempt)
        if user is None:
            await self._record_failure(key, attempt.method, client_ip)
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        async with self.db.transaction() as session:
            current = await session.get(UserRow, user.id, with_for_update=True)
            if current is None or current.status != "active":  # deleted or disabled meanwhile
                raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
            await session.execute(
                delete(RateHitRow).where(
                    col(RateHitRow.bucket) == LOGIN_FAILURE, col(RateHitRow.key_index) == key
                )
            )
            issued = await self._open_session(session, current, attempt.method, client_ip)
            self._audit(session, "login.succeeded", actor_id=current.id, user=current, method=attempt.method)
        return self._view(current), issued

    async def _find_user(self, kind: str, canonical: str) -> UserRow | None:
        index = self.cipher.blind_index(canonical)
        column = UserRow.email_index if kind == "email" else UserRow.phone_index
        async with self.db.transaction() as session:
            return (await session.exec(select(UserRow).where(column == index))).first()

    async def _verify_password(self, attempt: domain.LoginAttempt) -> UserRow | None:
        found = await self._find_user(attempt.identifier_kind, attempt.identifier)
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop and outside a transaction.
        try:
            await asyncio.to_thread(
                self.passwords.verify, found.password_hash if found else None, attempt.secret
            )
        except Unauthenticated:
            return None
        if found is None or found.status != "active":
            return None
        rehash = await asyncio.to_thread(self._rehash_if_needed, found.password_hash, attempt.secret)
        if rehash:
            async with self.db.transaction() as session:
                await session.execute(
                    update(UserRow).where(col(UserRow.id) == found.id).values(password_hash=rehash)
                )
        return found

    async def _verify_otp_login(self, attempt: domain.LoginAttempt) -> UserRow | None:
        if not await self._consume_otp(self.cipher.blind_index(attempt.identifier), attempt.secret):
            return None
        found = await self._find_user(attempt.identifier_kind, attempt.identifier)
        if found is None or found.status == "disabled":
            return None
        if found.status == "invited":
            # The code proves the invitee holds the phone or e-mail the client_admin invited.
            async with self.db.transaction() as session:
                row = await session.get(UserRow, found.id, with_for_update=True)
                if row is None or row.status != "invited":
                    return None
                row.status = "active"
                session.add(row)
                await session.flush()
                await self._registered(session, row)
                self._audit(session, "user.activated", actor_id=row.id, user=row, via="otp")
        return found

    async def _verify_card(self, attempt: domain.LoginAttempt) -> UserRow | None:
        async with self.db.transaction() as session:
            card = (
                await session.exec(
                    select(MembershipCardRow).where(
                        MembershipCardRow.card_index == self._card_index(attempt.identifier)
                    )
                )
            ).first()
        try:
            await asyncio.to_thread(self.passwords.verify, card.pin_hash if card else None, attempt.secret)
        except Unauthenticated:
            return None
        if card is None or card.status != "active" or not card.user_id:
            return None
        async with self.db.transaction() as session:
            user = await session.get(UserRow, card.user_id)
        return user if user is not None and user.status == "active" else None

    async def _open_session(
        self, session: AsyncSession, user: UserRow, method: str, client_ip: str = ""
    ) -> tokens.IssuedTokens:
        """Tokens of a new login (a new refresh-token family), the login in the user's activity (with where
        it came from: the IP address and its place, both encrypted) and `user.logged_in`, in `session`."""
        issued = await self._issue_tokens(session, user, family_id=new_id())
        detail = {"method": method}
        if client_ip:
            detail["ip_enc"] = self.cipher.encrypt(client_ip)
            location = self.geo.locate(client_ip).label()
            if location:
                detail["location_enc"] = self.cipher.encrypt(location)
        session.add(
            ActivityRow(
                id=new_id(),
                user_id=user.id,
                tenant_id=user.tenant_id,
                kind="login",
                source="identity",
                detail=detail,
                created_at=utcnow(),
            )
        )
        await self.outbox.add(
            session,
            "user.logged_in",
            events_pb2.UserLoggedIn(user_id=user.id, method=method),
            aggregate_id=user.id,
            tenant_id=user.tenant_id,
            actor_id=user.id,
        )
        return issued

    async def _issue_tokens(
        self, session: AsyncSession, user: UserRow, family_id: str
    ) -> tokens.IssuedTokens:
        now = utcnow()
        access_token = tokens.issue_access_token(
            user, await self._signing_key(session), self.settings, now=now, session_id=family_id
        )
        refresh_token, refresh_hash = tokens.new_refresh_token()
        session.add(
            RefreshTokenRow(
                token_hash=refresh_hash,
                user_id=user.id,
                family_id=family_id,
                expires_at=now + tokens.REFRESH_TOKEN_TTL,
                created_at=now,
            )
        )
        await session.flush()
        return tokens.IssuedTokens(access_token, refresh_token, tokens.access_token_ttl(self.settings))

    def _revoke_access(self, session: AsyncSession, user_id: str, *, session_id: str = "") -> None:
        """Refuse the user's access tokens issued until now (of one login session, or all), in the caller's
        transaction; kept until the last of them has expired."""
        now = utcnow()
        session.add(
            TokenRevocationRow(
                user_id=user_id,
                session_id=session_id,
                revoked_before=now,
                expires_at=now + timedelta(seconds=tokens.MAX_ACCESS_TOKEN_TTL_SECONDS),
            )
        )

    async def token_revocations(self, after_id: int, limit: int = 1000) -> list[TokenRevocationRow]:
        """Revocations after position `after_id` whose tokens may still be alive, oldest first."""
        async with self.db.read() as session:
            rows = await session.exec(
                select(TokenRevocationRow)
                .where(col(TokenRevocationRow.id) > after_id, col(TokenRevocationRow.expires_at) > utcnow())
                .order_by(col(TokenRevocationRow.id))
                .limit(limit)
            )
            return list(rows.all())

    # --- one-time codes, rate limits, lockout --------------------------------------------------------

    def _identifier_key(self, canonical: str) -> str:
        return self.cipher.blind_index(f"login:{canonical}")

    def _card_index(self, card_number: str) -> str:
        return self.cipher.blind_index(f"card:{card_number}")

    def _code_hash(self, otp_id: str, code: str) -> str:
        # Keyed and salted by the row id: a leaked table does not give the codes away by a 10^6 lookup.
        return self.cipher.blind_index(f"otp:{otp_id}:{code}")

    @staticmethod
    async def _lock(session: AsyncSession, name: str) -> None:
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})

    @staticmethod
    async def _hits(session: AsyncSession, bucket: str, key: str, limit: domain.Limit) -> list[datetime]:
        since = utcnow() - limit.window
        query = select(RateHitRow.created_at).where(
            RateHitRow.bucket == bucket, RateHitRow.key_index == key, col(RateHitRow.created_at) > since
        )
        return list((await session.exec(query)).all())

    @staticmethod
    def _hit(session: AsyncSession, bucket: str, key: str, at: datetime) -> None:
        session.add(RateHitRow(id=new_id(), bucket=bucket, key_index=key, created_at=at))

    async def _check_not_locked(self, key: str, client_ip: str = "") -> None:
        """RateLimited while the identifier is locked after repeated failures, or while the client's IP
        address has failed too often across identifiers (credential stuffing)."""
        limit = self.policy.failures_per_identifier
        per_ip = self.policy.failures_per_ip
        ip_key = self._ip_key(client_ip)
        async with self.db.transaction() as session:
            hits = await self._hits(session, LOGIN_FAILURE, key, limit)
            ip_hits = await self._hits(session, LOGIN_FAILURE_IP, ip_key, per_ip) if ip_key else []
        now = utcnow()
        domain.check_limit(limit, hits, now, "failed attempts")
        domain.check_limit(per_ip, ip_hits, now, "failed attempts")

    async def _record_failure(self, key: str, method: str, client_ip: str) -> None:
        ip_key = self._ip_key(client_ip)
        async with self.db.transaction() as session:
            now = utcnow()
            self._hit(session, LOGIN_FAILURE, key, now)
            if ip_key:
                self._hit(session, LOGIN_FAILURE_IP, ip_key, now)
            self._audit(session, "login.failed", method=method, ip=ip_key)

    def _ip_key(self, client_ip: str) -> str:
        return self.cipher.blind_index(f"ip:{client_ip}") if client_ip else ""

    async def issue_otp(self, channel: str, destination: str, client_ip: str) -> tuple[str, str, str]:
        """A new code for `destination`: (kind, canonical destination, code). RateLimited (with the wait)
        past the per-destination or per-IP limit. The code is stored only as a keyed hash; the caller
        sends it. Works the same whether or not the destination belongs to an account."""
        kind, canonical = domain.validate_otp_request(channel, destination)
        destination_key = self.cipher.blind_index(canonical)
        ip_key = self._ip_key(client_ip)
        code = domain.new_otp()
        async with self.db.transaction() as session:
            # Always destination before IP, so concurrent requests cannot deadlock.
            await self._lock(session, f"otp:{destination_key}")
            if ip_key:
                await self._lock(session, f"otp-ip:{ip_key}")
            now = utcnow()
            per_destination = self.policy.otp_per_destination
            domain.check_limit(
                per_destination,
                await self._hits(session, OTP_DESTINATION, destination_key, per_destination),
                now,
                "codes requested for this destination",
            )
            if ip_key:
                per_ip = self.policy.otp_per_ip
                domain.check_limit(
                    per_ip, await self._hits(session, OTP_IP, ip_key, per_ip), now, "codes requested"
                )
                self._hit(session, OTP_IP, ip_key, now)
            self._hit(session, OTP_DESTINATION, destination_key, now)
            otp_id = new_id()
            session.add(
                OtpCodeRow(
                    id=otp_id,
                    destination_index=destination_key,
                    channel=channel,
                    code_hash=self._code_hash(otp_id, code),
                    expires_at=now + domain.OTP_TTL,
                    created_at=now,
                )
            )
        return kind, canonical, code

    async def _consume_otp(self, destination_key: str, code: str) -> bool:
        """Spend a live code of the destination matching `code` (single use, 5 minutes, at most
        OTP_MAX_ATTEMPTS wrong guesses per code). A wrong code counts against every live code."""
        async with self.db.transaction() as session:
            now = utcnow()
            live = (
                await session.exec(
                    select(OtpCodeRow)
                    .where(
                        OtpCodeRow.destination_index == destination_key,
                        col(OtpCodeRow.consumed_at).is_(None),
                        col(OtpCodeRow.expires_at) > now,
                        col(OtpCodeRow.attempts) < domain.OTP_MAX_ATTEMPTS,
                    )
                    .with_for_update()
                )
            ).all()
            for row in live:
                if hmac.compare_digest(row.code_hash, self._code_hash(row.id, code)):
                    row.consumed_at = now
                    session.add(row)
                    return True
            for row in live:
                row.attempts += 1
                session.add(row)
            return False

    async def purge_expired(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete rate-limit hits, one-time codes, OIDC states and token revocations that no rule can need
        any more (no window
        or lifetime is longer than `older_than`; the longest, invitations per enterprise, is one day).
        Returns how many rows went."""
        cutoff = utcnow() - older_than
        async with self.db.transaction() as session:
            deleted = 0
            for statement in (
                delete(RateHitRow).where(col(RateHitRow.created_at) < cutoff),
                delete(OtpCodeRow).where(col(OtpCodeRow.expires_at) < cutoff),
                delete(OidcStateRow).where(col(OidcStateRow.expires_at) < cutoff),
                delete(TokenRevocationRow).where(col(TokenRevocationRow.expires_at) < cutoff),
            ):
                result = await session.execute(statement)
                deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return deleted

    async def purge_forever(self, every_seconds: float = 900.0) -> None:
        """Background task: `purge_expired` every `every_seconds`."""
        while True:
            try:
                await self.purge_expired()
            except Exception:  # a database hiccup must not end the loop
                log.warning("purging expired codes and limits failed", exc_info=True)
            await asyncio.sleep(every_seconds)

    # --- registration, refresh, logout ----------------------------------------------------------------

    async def register(
        self, registration: domain.Registration, client_ip: str = ""
    ) -> tuple[UserView, tokens.IssuedTokens]:
        """Create the account of a verified phone or e-mail and open its first session (R-ACC-1).

        With an enterprise name a new enterprise (tenant) is created and the user is its client_admin;
        without one the user is a client of a personal tenant; an invited person joins the inviting
        enterprise with the invited role (`domain.check_invited_registration`: Conflict when they ask for
        a different new enterprise). InvalidArgument("code") for a wrong or expired code,
        AlreadyExists when the (proven) phone or e-mail already has an account."""
        key = self._identifier_key(registration.identifier)
        await self._check_not_locked(key, client_ip)
        password_hash = (
            await asyncio.to_thread(self.passwords.hash, registration.password)
            if registration.password
            else ""
        )
        if not await self._consume_otp(self.cipher.blind_index(registration.identifier), registration.code):
            await self._record_failure(key, "register", client_ip)
            raise InvalidArgument.for_field("code", "is wrong or has expired; request a new code")
        index = self.cipher.blind_index(registration.identifier)
        column = UserRow.email_index if registration.kind == "email" else UserRow.phone_index
        try:
            async with self.db.transaction() as session:
                existing = (
                    await session.exec(select(UserRow).where(column == index).with_for_update())
                ).first()
                if existing is not None and existing.status != "invited":
                    raise AlreadyExists(
                        "this phone or e-mail already has an account; log in instead",
                        reason="already_registered",
                    )
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
                    self._audit(session, "user.activated", actor_id=user.id, user=user, via="register")
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
                        id=new_id(),
                        tenant_id=tenant_id,
                        display_name=registration.display_name,
                        password_hash=password_hash,
                        roles=list(roles),
                        status="active",
                        created_at=now,
                        **self._identifier_columns(registration.kind, registration.identifier),
                    )
                    session.add(user)
                    await session.flush()
                    self._audit(
                        session,
                        "user.registered",
                        actor_id=user.id,
                        user=user,
                        enterprise_created=bool(registration.enterprise_name),
                    )
                    self._audit(session, "role.granted", actor_id=user.id, user=user, roles=list(roles))
                await self._registered(session, user)
                issued = await self._open_session(session, user, "register", client_ip)
                self._audit(session, "login.succeeded", actor_id=user.id, user=user, method="register")
        except IntegrityError as exc:  # the same phone or e-mail registered concurrently
            raise AlreadyExists(
                "this phone or e-mail already has an account; log in instead", reason="already_registered"
            ) from exc
        return self._view(user), issued

    def _identifier_columns(self, kind: str, canonical: str) -> dict[str, str]:
        if kind == "email":
            return {
                "email_index": self.cipher.blind_index(canonical),
                "email_enc": self.cipher.encrypt(canonical),
            }
        return {
            "phone_index": self.cipher.blind_index(canonical),
            "phone_enc": self.cipher.encrypt(canonical),
        }

    async def _registered(self, session: AsyncSession, user: UserRow) -> None:
        await self.outbox.add(
            session,
            "user.registered",
            events_pb2.UserRegistered(user_id=user.id, tenant_id=user.tenant_id),
            aggregate_id=user.id,
            tenant_id=user.tenant_id,
            actor_id=user.id,
        )

    async def refresh(self, refresh_token: str) -> tuple[UserView, tokens.IssuedTokens]:
        """Rotate: the presented token is spent and a new pair of the same family is returned. A token
        presented a second time revokes its whole family (the pair was stolen or replayed) and, like an
        unknown, expired or revoked token, is Unauthenticated."""
        token_hash = tokens.hash_refresh_token(refresh_token)
        reused: RefreshTokenRow | None = None
        user: UserRow | None = None
        async with self.db.transaction() as session:
            row = await session.get(RefreshTokenRow, token_hash, with_for_update=True)
            now = utcnow()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise Unauthenticated("the refresh token is not valid", reason="invalid_refresh_token")
            if row.used_at is not None:
                await session.execute(
                    update(RefreshTokenRow)
                    .where(
                        col(RefreshTokenRow.family_id) == row.family_id,
                        col(RefreshTokenRow.revoked_at).is_(None),
                    )
                    .values(revoked_at=now)
                )
                self._audit(session, "session.reuse_detected", user_id=row.user_id, family=row.family_id)
                self._revoke_access(session, row.user_id, session_id=row.family_id)
                reused = row
            else:
                user = await session.get(UserRow, row.user_id)
                if user is None or user.status != "active":
                    raise Unauthenticated("the refresh token is not valid", reason="invalid_refresh_token")
                row.used_at = now
                session.add(row)
                issued = await self._issue_tokens(session, user, row.family_id)
        if reused is not None or user is None:  # raised after the commit, so the revocation stays
            raise Unauthenticated(
                "the refresh token was used before; sign in again", reason="refresh_token_reused"
            )
        return self._view(user), issued

    async def logout(self, principal: Principal | None, refresh_token: str) -> int:
        """Revoke the family of `refresh_token` (when it is the caller's) or, without one, every refresh
        token of the caller, and the access tokens of those sessions with them (every verifier refuses them
        within seconds). Returns how many refresh tokens were revoked."""
        caller = signed_in(principal, "log out")
        async with self.db.transaction() as session:
            statement = update(RefreshTokenRow).where(
                col(RefreshTokenRow.user_id) == caller.user_id, col(RefreshTokenRow.revoked_at).is_(None)
            )
            session_id = ""
            if refresh_token:
                row = await session.get(RefreshTokenRow, tokens.hash_refresh_token(refresh_token))
                if row is None or row.user_id != caller.user_id:
                    return 0
                statement = statement.where(col(RefreshTokenRow.family_id) == row.family_id)
                session_id = row.family_id
            result = await session.execute(
                statement.values(revoked_at=utcnow()).returning(col(RefreshTokenRow.family_id))
            )
            revoked = result.all()
            families = {family for (family,) in revoked} | ({session_id} if session_id else set())
            # Each session by name (its later tokens keep its sid), and without a refresh token also every
            # token of the user issued until now.
            for family in sorted(families):
                self._revoke_access(session, caller.user_id, session_id=family)
            if not session_id:
                self._revoke_access(session, caller.user_id)
            self._audit(
                session, "logout", actor_id=caller.user_id, user_id=caller.user_id, tenant_id=caller.tenant_id
            )
            return len(revoked)

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
        firm_id: str = "",
    ) -> tuple[UserView, bool]:
        """Create a user with a pre-hashed password (`hash_password`) and its `user.registered` event.
        Idempotent by e-mail: an existing address returns that user unchanged and created=False (except
        that a staff member without a firm gets `firm_id`). AlreadyExists when the phone number belongs to
        another user; NotFound for an unknown tenant."""
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

    # --- firms' systems (service credentials) ---------------------------------------------------------

    async def create_service_client(
        self, principal: Principal | None, name: str
    ) -> tuple[ServiceClientRow, str]:
        """New credentials for the caller's own firm (firm_admin): (row, secret). The secret is shown once
        and stored only as an argon2id hash. Audited."""
        firm_id = domain.firm_of_admin(principal)
        assert principal is not None
        clean_name = domain.validate_service_client_name(name)
        secret = secrets.token_urlsafe(32)
        secret_hash = await asyncio.to_thread(self.passwords.hash, secret)
        async with self.db.transaction() as session:
            row = ServiceClientRow(
                client_id=f"svc_{secrets.token_hex(12)}",
                secret_hash=secret_hash,
                firm_id=firm_id,
                name=clean_name,
                created_by=principal.user_id,
                created_at=utcnow(),
            )
            session.add(row)
            self._audit(
                session,
                "service_client.created",
                actor_id=principal.user_id,
                client_id=row.client_id,
                firm_id=firm_id,
            )
        return row, secret

    async def revoke_service_client(self, principal: Principal | None, client_id: str) -> ServiceClientRow:
        """Revoke credentials of the caller's own firm, and the tokens they were exchanged for (refused by
        every verifier within its revocation poll); another firm's client is NotFound."""
        firm_id = domain.firm_of_admin(principal)
        assert principal is not None
        async with self.db.transaction() as session:
            row = await session.get(ServiceClientRow, client_id, with_for_update=True) if client_id else None
            if row is None or row.firm_id != firm_id:
                raise NotFound("no such service client")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.add(row)
                self._revoke_access(session, row.client_id)  # a service token's subject is its client id
                self._audit(
                    session,
                    "service_client.revoked",
                    actor_id=principal.user_id,
                    client_id=row.client_id,
                    firm_id=firm_id,
                )
            return row

    async def issue_service_token(
        self, client_id: str, client_secret: str, client_ip: str = ""
    ) -> tokens.ServiceToken:
        """An access token (no refresh token) for a firm's system: role firm_service, scoped to its firm
        (`fid`). Unauthenticated alike for an unknown client, a wrong secret and revoked credentials;
        repeated failures lock the client id like a login identifier."""
        if not client_id or not client_secret or len(client_secret) > domain.MAX_SECRET:
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        key = self._identifier_key(f"service:{client_id}")
        await self._check_not_locked(key, client_ip)
        async with self.db.transaction() as session:
            row = await session.get(ServiceClientRow, client_id)
        try:
            await asyncio.to_thread(self.passwords.verify, row.secret_hash if row else None, client_secret)
        except Unauthenticated:
            row = None
        if row is None or row.revoked_at is not None:
            await self._record_failure(key, "service", client_ip)
            raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
        subject = _ServiceSubject(row.client_id, row.firm_id)
        async with self.db.transaction() as session:
            access_token = tokens.issue_access_token(subject, await self._signing_key(session), self.settings)
            self._audit(session, "service_client.token_issued", actor_id=row.client_id, firm_id=row.firm_id)
        return tokens.ServiceToken(access_token, tokens.access_token_ttl(self.settings), row.firm_id)

    # --- OpenID Connect ------------------------------------------------------------------------------

    async def save_oidc_state(
        self,
        provider: str,
        state: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
        link_user_id: str = "",
    ) -> None:
        now = utcnow()
        async with self.db.transaction() as session:
            session.add(
                OidcStateRow(
                    state_hash=tokens.hash_refresh_token(state),
                    provider=provider,
                    nonce=nonce,
                    code_verifier_enc=self.cipher.encrypt(code_verifier),
                    redirect_uri=redirect_uri,
                    link_user_id=link_user_id,
                    expires_at=now + domain.OIDC_STATE_TTL,
                    created_at=now,
                )
            )

    async def take_oidc_state(self, provider: str, state: str) -> tuple[str, str, str, str]:
        """(nonce, code verifier, redirect URI, user to link or "") of a sign-in started here for
        `provider`, spending its state. Unauthenticated for an unknown, foreign, spent or expired state
        (CSRF, replay)."""
        async with self.db.transaction() as session:
            row = (
                await session.get(OidcStateRow, tokens.hash_refresh_token(state), with_for_update=True)
                if state
                else None
            )
            now = utcnow()
            if (
                row is None
                or row.provider != provider
                or row.consumed_at is not None
                or row.expires_at <= now
            ):
                raise Unauthenticated(
                    "the sign-in attempt is unknown or has expired; start again", reason="oidc_state"
                )
            row.consumed_at = now
            session.add(row)
            return row.nonce, self.cipher.decrypt(row.code_verifier_enc), row.redirect_uri, row.link_user_id

    async def login_oidc(
        self, provider: str, subject: str, email: str, name: str, client_ip: str = "", link_user_id: str = ""
    ) -> tuple[UserView, tokens.IssuedTokens]:
        """Sign in the user linked to (provider, subject); else link it to `link_user_id` (a signed-in user
        who started the sign-in to link it), else to the user with this verified e-mail, else create an
        account (a client of a personal tenant). Opens a session (R-ACC-1, R-ACC-2). Conflict when a
        signed-in user links a social account that belongs to another account."""
        subject_index = self.cipher.blind_index(f"oidc:{provider}:{subject}")
        try:
            async with self.db.transaction() as session:
                link = (
                    await session.exec(
                        select(OidcLinkRow).where(
                            OidcLinkRow.provider == provider, OidcLinkRow.subject_index == subject_index
                        )
                    )
                ).first()
                user = await session.get(UserRow, link.user_id, with_for_update=True) if link else None
                if link is not None and link_user_id and link.user_id != link_user_id:
                    raise Conflict(
                        "this social account is linked to another account", reason="social_account_linked"
                    )
                if link is None and link_user_id:
                    user = await session.get(UserRow, link_user_id, with_for_update=True)
                    if user is None or user.status != "active":
                        raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
                if link is None:
                    if email and user is None:
                        user = (
                            await session.exec(
                                select(UserRow)
                                .where(UserRow.email_index == self.cipher.blind_index(email))
                                .with_for_update()
                            )
                        ).first()
                    now = utcnow()
                    if user is None:
                        tenant_id = new_id()
                        display_name = domain.validate_display_name(name or email.split("@")[0] or provider)
                        session.add(EnterpriseRow(id=tenant_id, name=display_name, created_at=now))
                        user = UserRow(
                            id=new_id(),
                            tenant_id=tenant_id,
                            display_name=display_name,
                            roles=["client"],
                            status="active",
                            created_at=now,
                            **(self._identifier_columns("email", email) if email else {}),
                        )
                        session.add(user)
                        await session.flush()
                        await self._registered(session, user)
                        self._audit(session, "user.registered", actor_id=user.id, user=user, via=provider)
                        self._audit(session, "role.granted", actor_id=user.id, user=user, roles=["client"])
                    elif user.status == "invited":
                        user.status = "active"
                        user.display_name = user.display_name or domain.validate_display_name(
                            name or provider
                        )
                        session.add(user)
                        await self._registered(session, user)
                    session.add(
                        OidcLinkRow(
                            id=new_id(),
                            provider=provider,
                            subject_index=subject_index,
                            user_id=user.id,
                            created_at=now,
                        )
                    )
                    self._audit(session, "oidc.linked", actor_id=user.id, user=user, provider=provider)
                if user is None or user.status != "active":
                    raise Unauthenticated(domain.INVALID_CREDENTIALS, reason="invalid_credentials")
                issued = await self._open_session(session, user, "oidc", client_ip)
                self._audit(
                    session, "login.succeeded", actor_id=user.id, user=user, method="oidc", provider=provider
                )
        except IntegrityError as exc:  # the same social account signing in twice at once
            raise Conflict("this sign-in is already being completed; try again") from exc
        return self._view(user), issued

    # --- activity and erasure ----------------------------------------------------------------------

    async def record_activity(self, envelope: EventEnvelope, session: AsyncSession) -> int:
        """DurableConsumer handler: link another service's event to the person who caused it. Events of
        unknown or erased users, and of the platform itself, are skipped. Returns rows written."""
        fact = domain.activity_of_event(envelope.type, envelope.actor_id, envelope.aggregate_id)
        if fact is None:
            return 0
        user = await session.get(UserRow, fact.user_id)
        if user is None or user.status == "erased":
            return 0
        table = ActivityRow.__table__  # type: ignore[attr-defined]
        result = await session.execute(
            pg_insert(table)
            .values(
                id=new_id(),
                user_id=user.id,
                tenant_id=envelope.tenant_id or user.tenant_id,
                kind=fact.kind,
                source=fact.source,
                subject_id=fact.subject_id,
                event_id=envelope.id,
                detail={},
                created_at=envelope.occurred_at.ToDatetime(tzinfo=UTC)
                if envelope.HasField("occurred_at")
                else utcnow(),
            )
            .on_conflict_do_nothing()
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def activity(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[ActivityRow], str]:
        """The caller's own linked activity, newest first (only ever the caller's: no tenant can see it)."""
        caller = signed_in(principal, "see your activity")
        statement = newest_first(
            select(ActivityRow).where(ActivityRow.user_id == caller.user_id),
            col(ActivityRow.created_at),
            col(ActivityRow.id),
            cursor,
            limit,
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        page, next_cursor = page_of(rows, limit)
        for row in page:  # detached rows: shown decrypted, never written back
            row.detail = self._shown_detail(row.detail)
        return page, next_cursor

    async def user_activity(
        self, principal: Principal | None, user_id: str, limit: int, cursor: str
    ) -> tuple[list[ActivityRow], str]:
        """A client's linked activity for an agent or supervisor serving them (R-CS-2), newest first; the
        access is audited (R-PRIV-1). Login locations (IP addresses) stay with the user: not shown here."""
        caller = signed_in(principal, "see a client's activity")
        if not caller.has_role("agent", "supervisor"):
            raise PermissionDenied("only agents and supervisors see a client's activity")
        if not user_id:
            raise InvalidArgument.for_field("user_id", "must not be empty")
        statement = newest_first(
            select(ActivityRow).where(ActivityRow.user_id == user_id),
            col(ActivityRow.created_at),
            col(ActivityRow.id),
            cursor,
            limit,
        )
        async with self.db.transaction() as session:
            user = await session.get(UserRow, user_id)
            if user is None:
                raise NotFound("no such user")
            rows = list((await session.exec(statement)).all())
            self._audit(session, "activity.viewed_by_staff", actor_id=caller.user_id, user=user)
        page, next_cursor = page_of(rows, limit)
        for row in page:
            row.detail = {k: v for k, v in row.detail.items() if k != "ip_enc"}
        return page, next_cursor

    def _shown_detail(self, detail: dict[str, str]) -> dict[str, str]:
        """An activity's detail as its owner sees it: the encrypted IP address and location decrypted."""
        shown = {k: v for k, v in detail.items() if k not in ("ip_enc", "location_enc")}
        for sealed, name in (("ip_enc", "ip"), ("location_enc", "location")):
            if sealed in detail:
                shown[name] = self.cipher.decrypt(detail[sealed])
        return shown

    async def erase(self, principal: Principal | None) -> datetime:
        """Erase the caller's personal data held here (PIPL): contact details, name, password, social links,
        cards, sessions and activity; the audit trail (which holds no personal data) stays. Publishes
        `user.erased` so every other service erases or anonymises its copy. Idempotent."""
        caller = signed_in(principal, "erase your data")
        now = utcnow()
        async with self.db.transaction() as session:
            user = await session.get(UserRow, caller.user_id, with_for_update=True)
            if user is None:
                raise NotFound("no such user")
            if user.status == "erased":
                return now
            user.email_index = user.phone_index = None
            user.email_enc = user.phone_enc = user.password_hash = ""
            user.display_name = domain.ERASED_DISPLAY_NAME
            user.status = "erased"
            session.add(user)
            await session.execute(
                update(RefreshTokenRow)
                .where(col(RefreshTokenRow.user_id) == user.id, col(RefreshTokenRow.revoked_at).is_(None))
                .values(revoked_at=now)
            )
            self._revoke_access(session, user.id)
            await session.execute(
                update(MembershipCardRow)
                .where(col(MembershipCardRow.user_id) == user.id)
                .values(user_id=None, status="revoked", revoked_at=now)
            )
            await session.execute(delete(OidcLinkRow).where(col(OidcLinkRow.user_id) == user.id))
            await session.execute(delete(ActivityRow).where(col(ActivityRow.user_id) == user.id))
            await self.outbox.add(
                session,
                "user.erased",
                events_pb2.UserErased(user_id=user.id, tenant_id=user.tenant_id),
                aggregate_id=user.id,
                tenant_id=user.tenant_id,
                actor_id=user.id,
            )
            self._audit(session, "data.erased", actor_id=user.id, user=user)
        return now

    # --- profile, cards, members, export ---------------------------------------------------------------

    async def profile(self, principal: Principal | None) -> Profile:
        caller = signed_in(principal, "see your profile")
        async with self.db.transaction() as session:
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
        return Profile(self._view(user), enterprise, list(cards))

    async def update_me(self, principal: Principal | None, change: domain.ProfileChange) -> UserView:
        """Change the caller's name, link a phone or an e-mail (proven by its code: R-ACC-2, one person,
        several login methods) and/or set a password (the current one is required when one is set).
        AlreadyExists when the phone or e-mail belongs to another account."""
        caller = signed_in(principal, "change your profile")
        if change.password:
            async with self.db.transaction() as session:
                current = await session.get(UserRow, caller.user_id)
            if current is None:
                raise NotFound("no such user")
            if current.password_hash:
                try:
                    await asyncio.to_thread(
                        self.passwords.verify, current.password_hash, change.current_password
                    )
                except Unauthenticated:
                    raise InvalidArgument.for_field(
                        "current_password", "is not your current password"
                    ) from None
        new_hash = await asyncio.to_thread(self.passwords.hash, change.password) if change.password else ""
        if change.identifier_kind:
            key = self._identifier_key(change.identifier)
            await self._check_not_locked(key)
            if not await self._consume_otp(self.cipher.blind_index(change.identifier), change.code):
                await self._record_failure(key, "link", "")
                raise InvalidArgument.for_field("code", "is wrong or has expired; request a new code")
        changed: list[str] = []
        try:
            async with self.db.transaction() as session:
                user = await session.get(UserRow, caller.user_id, with_for_update=True)
                if user is None or user.status == "erased":
                    raise NotFound("no such user")
                if change.display_name and change.display_name != user.display_name:
                    user.display_name = change.display_name
                    changed.append("display_name")
                if change.identifier_kind:
                    columns = self._identifier_columns(change.identifier_kind, change.identifier)
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
                    self._audit(session, "profile.updated", actor_id=user.id, user=user, fields=changed)
        except IntegrityError as exc:
            field = change.identifier_kind or "email"
            message = "belongs to another account"
            raise AlreadyExists(f"{field}: {message}", violations=[FieldViolation(field, message)]) from exc
        return self._view(user)

    async def issue_card(
        self, principal: Principal | None, card_number: str, pin: str
    ) -> tuple[MembershipCardRow, bool]:
        """Issue a membership card for the caller's own firm (firm_admin), bound to no account: only its
        holder links it (`link_card`), and until then it logs nobody in (R-ACC-2). Idempotent: the same
        number with the same PIN, issued by the same firm, returns that card with created=False; a number
        issued otherwise is AlreadyExists naming `card_number`."""
        firm_id = domain.card_firm_of(principal)
        assert principal is not None
        number = domain.normalize_card_number(card_number)
        domain.validate_pin(pin)
        index = self._card_index(number)
        async with self.db.transaction() as session:
            existing = (
                await session.exec(select(MembershipCardRow).where(MembershipCardRow.card_index == index))
            ).first()
        if existing is not None:
            if existing.firm_id == firm_id and existing.user_id is None:
                try:
                    await asyncio.to_thread(self.passwords.verify, existing.pin_hash, pin)
                except Unauthenticated:
                    pass
                else:
                    return existing, False
            raise _card_taken()
        pin_hash = await asyncio.to_thread(self.passwords.hash, pin)
        try:
            async with self.db.transaction() as session:
                card = MembershipCardRow(
                    id=new_id(),
                    card_index=index,
                    last4=number[-4:],
                    pin_hash=pin_hash,
                    firm_id=firm_id,
                    user_id=None,
                    status="active",
                    issued_by=principal.user_id,
                    created_at=utcnow(),
                )
                session.add(card)
                await session.flush()
                self._audit(
                    session,
                    "card.issued",
                    actor_id=principal.user_id,
                    card_id=card.id,
                    last4=card.last4,
                    firm_id=firm_id,
                )
        except IntegrityError as exc:  # issued concurrently
            raise _card_taken() from exc
        return card, True

    async def firm_cards(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[MembershipCardRow], str]:
        """The cards of the caller's own firm (firm_admin), newest first; never another firm's."""
        firm_id = domain.card_firm_of(principal)
        statement = newest_first(
            select(MembershipCardRow).where(MembershipCardRow.firm_id == firm_id),
            col(MembershipCardRow.created_at),
            col(MembershipCardRow.id),
            cursor,
            limit,
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return page_of(rows, limit)

    async def revoke_card(self, principal: Principal | None, card_id: str) -> MembershipCardRow:
        """Revoke a card of the caller's own firm (firm_admin): it no longer logs in or links. Another
        firm's card, like an unknown one, is NotFound. Idempotent."""
        firm_id = domain.card_firm_of(principal)
        assert principal is not None
        async with self.db.transaction() as session:
            card = await session.get(MembershipCardRow, card_id, with_for_update=True) if card_id else None
            if card is None or card.firm_id != firm_id:
                raise NotFound("no such membership card")
            if card.status != "revoked":
                card.status = "revoked"
                card.revoked_at = utcnow()
                session.add(card)
                self._audit(
                    session,
                    "card.revoked",
                    actor_id=principal.user_id,
                    user_id=card.user_id or "",
                    card_id=card.id,
                    firm_id=firm_id,
                )
            return card

    async def link_card(
        self, principal: Principal | None, card_number: str, pin: str, new_pin: str = "", client_ip: str = ""
    ) -> tuple[MembershipCardRow, str]:
        """Link an issued card to the caller's own account, proven by the PIN it was handed with (R-ACC-2):
        the only way a card gets an account. The issuing firm knows that PIN, so linking replaces it with
        the holder's `new_pin`, or with a generated one returned here once: (card, generated PIN or "").
        An unknown card or a wrong PIN is InvalidArgument naming the field; failures count against the
        card number and the client's IP like failed logins, and lock them alike (RateLimited)."""
        caller = signed_in(principal, "link a membership card")
        number = domain.normalize_card_number(card_number)
        domain.validate_pin(pin)
        if new_pin:
            domain.validate_pin(new_pin, "new_pin")
        key = self._identifier_key(number)
        await self._check_not_locked(key, client_ip)
        async with self.db.transaction() as session:
            card = (
                await session.exec(
                    select(MembershipCardRow).where(MembershipCardRow.card_index == self._card_index(number))
                )
            ).first()
        try:
            await asyncio.to_thread(self.passwords.verify, card.pin_hash if card else None, pin)
        except Unauthenticated:
            await self._record_failure(key, "card_link", client_ip)
            if card is None:
                raise InvalidArgument.for_field("card_number", "is not a membership card we know") from None
            raise InvalidArgument.for_field("pin", "does not match this card") from None
        assert card is not None
        if card.status != "active":
            raise Conflict("this membership card was revoked", reason="card_revoked")
        if card.user_id:
            if card.user_id != caller.user_id:
                raise Conflict("this membership card is linked to another account", reason="card_linked")
            return card, ""  # linked already, with the holder's own PIN: nothing to change
        chosen, generated = domain.holder_pin(pin, new_pin)
        pin_hash = await asyncio.to_thread(self.passwords.hash, chosen)
        async with self.db.transaction() as session:
            row = await session.get(MembershipCardRow, card.id, with_for_update=True)
            assert row is not None
            if row.status != "active":
                raise Conflict("this membership card was revoked", reason="card_revoked")
            if row.user_id or row.pin_hash != card.pin_hash:  # linked meanwhile
                raise Conflict("this membership card is linked to another account", reason="card_linked")
            row.user_id = caller.user_id
            row.linked_at = utcnow()
            row.pin_hash = pin_hash
            session.add(row)
            self._audit(
                session,
                "card.linked",
                actor_id=caller.user_id,
                user_id=caller.user_id,
                tenant_id=caller.tenant_id,
                card_id=row.id,
                pin="generated" if generated else "chosen",
            )
        return row, chosen if generated else ""

    async def invite_member(
        self, principal: Principal | None, invitation: domain.Invitation
    ) -> tuple[str, str, str] | None:
        """Invite a person into the caller's enterprise (client_admin only). Creates an invited account
        when the phone or e-mail has none; says nothing about accounts that exist (the answer is the same).
        Returns (kind, destination, enterprise name) to notify, or None when there is nobody to notify.
        RateLimited (with the wait) past `COUNSEL_INVITATIONS_PER_ENTERPRISE_PER_DAY` invitations of the
        enterprise in the last 24 hours, whether or not they reached anyone (R-PRIV-2)."""
        caller = signed_in(principal, "invite members")
        if not caller.has_role("client_admin") or not caller.tenant_id:
            raise PermissionDenied("only the enterprise's client_admin invites members")
        index = self.cipher.blind_index(invitation.identifier)
        column = UserRow.email_index if invitation.kind == "email" else UserRow.phone_index
        limit = domain.invitation_limit(self.settings.invitations_per_enterprise_per_day)
        limit_key = self.cipher.blind_index(f"invite:{caller.tenant_id}")
        try:
            async with self.db.transaction() as session:
                # Serialises one enterprise's invitations, so concurrent ones cannot overshoot the limit.
                await self._lock(session, f"invite:{limit_key}")
                now = utcnow()
                domain.check_limit(
                    limit,
                    await self._hits(session, INVITATION_ENTERPRISE, limit_key, limit),
                    now,
                    "invitations from your enterprise today",
                )
                self._hit(session, INVITATION_ENTERPRISE, limit_key, now)
                enterprise = await session.get(EnterpriseRow, caller.tenant_id)
                if enterprise is None:
                    raise NotFound("no such enterprise")
                if (await session.exec(select(UserRow).where(column == index))).first() is not None:
                    return None
                user = UserRow(
                    id=new_id(),
                    tenant_id=caller.tenant_id,
                    display_name="",
                    roles=[invitation.role],
                    status="invited",
                    created_at=utcnow(),
                    **self._identifier_columns(invitation.kind, invitation.identifier),
                )
                session.add(user)
                await session.flush()
                self._audit(
                    session, "member.invited", actor_id=caller.user_id, user=user, role=invitation.role
                )
                self._audit(
                    session, "role.granted", actor_id=caller.user_id, user=user, roles=[invitation.role]
                )
        except IntegrityError:  # invited concurrently
            return None
        return invitation.kind, invitation.identifier, enterprise.name

    @staticmethod
    def _client_admin(principal: Principal | None) -> Principal:
        caller = signed_in(principal, "manage your enterprise")
        if not caller.has_role("client_admin") or not caller.tenant_id:
            raise PermissionDenied("only the enterprise's client_admin manages its members")
        return caller

    async def members(
        self, principal: Principal | None, limit: int, cursor: str
    ) -> tuple[list[UserView], str]:
        """The caller's enterprise's members (client_admin), newest first; never another tenant's."""
        caller = self._client_admin(principal)
        statement = newest_first(
            select(UserRow).where(UserRow.tenant_id == caller.tenant_id, UserRow.status != "erased"),
            col(UserRow.created_at),
            col(UserRow.id),
            cursor,
            limit,
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        page, next_cursor = page_of(rows, limit)
        return [self._view(row) for row in page], next_cursor

    async def users_by_role(self, principal: Principal | None, role: str, tenant_id: str) -> list[UserView]:
        """The active users holding `role` (in `tenant_id` for an enterprise role, among staff otherwise),
        by id, with their contact addresses decrypted (domain.validate_group_lookup says who may ask)."""
        role, tenant_id = domain.validate_group_lookup(principal, role, tenant_id)
        statement = (
            select(UserRow)
            .where(col(UserRow.roles).contains([role]))
            .where(UserRow.tenant_id == tenant_id, UserRow.status == "active")
            .order_by(col(UserRow.id))
            .limit(domain.MAX_GROUP)
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return [self._view(row) for row in rows]

    async def set_member_role(self, principal: Principal | None, user_id: str, role: str) -> UserView:
        """Give a member of the caller's enterprise another client role (audited as role.changed).
        NotFound for a user of another enterprise (R-ACC-4); an administrator cannot demote themself, so
        an enterprise always keeps one."""
        caller = self._client_admin(principal)
        role = domain.validate_member_role(role)
        async with self.db.transaction() as session:
            user = await session.get(UserRow, user_id, with_for_update=True) if user_id else None
            if user is None or user.tenant_id != caller.tenant_id or user.status == "erased":
                raise NotFound("no such member")
            if user.id == caller.user_id and role != "client_admin":
                raise Conflict("you cannot remove your own administrator role", reason="last_admin")
            if list(user.roles) != [role]:
                previous = list(user.roles)
                user.roles = [role]
                session.add(user)
                # Tokens carry roles: the old ones must stop working now, not when they expire.
                self._revoke_access(session, user.id)
                self._audit(
                    session,
                    "role.changed",
                    actor_id=caller.user_id,
                    user=user,
                    previous=previous,
                    roles=[role],
                )
            return self._view(user)

    async def export(self, principal: Principal | None) -> dict[str, Any]:
        """Everything identity holds about the caller (PIPL): profile, enterprise, login methods, cards,
        sessions and the audit trail about them. The export itself is audited."""
        caller = signed_in(principal, "export your data")
        profile = await self.profile(caller)
        async with self.db.transaction() as session:
            sessions = (
                await session.exec(
                    select(RefreshTokenRow)
                    .where(RefreshTokenRow.user_id == caller.user_id)
                    .order_by(col(RefreshTokenRow.created_at))
                )
            ).all()
            audit = (
                await session.exec(
                    select(AuditEventRow)
                    .where(AuditEventRow.user_id == caller.user_id)
                    .order_by(col(AuditEventRow.created_at))
                )
            ).all()
            activities = (
                await session.exec(
                    select(ActivityRow)
                    .where(ActivityRow.user_id == caller.user_id)
                    .order_by(col(ActivityRow.created_at))
                )
            ).all()
            self._audit(session, "data.exported", actor_id=caller.user_id, user=profile.user.row)
        row = profile.user.row
        return {
            "exported_at": utcnow().isoformat(),
            "user": {
                "id": row.id,
                "display_name": row.display_name,
                "email": profile.user.email or None,
                "phone": profile.user.phone or None,
                "roles": list(row.roles),
                "status": row.status,
                "created_at": row.created_at.isoformat(),
            },
            "enterprise": {"id": profile.enterprise.id, "name": profile.enterprise.name}
            if profile.enterprise
            else None,
            "login_methods": {
                "password": bool(row.password_hash),
                "phone": bool(profile.user.phone),
                "email": bool(profile.user.email),
                "membership_cards": len(profile.cards),
            },
            "membership_cards": [
                {
                    "id": card.id,
                    "last4": card.last4,
                    "status": card.status,
                    "linked_at": card.linked_at.isoformat() if card.linked_at else None,
                }
                for card in profile.cards
            ],
            "sessions": [
                {
                    "started_at": token.created_at.isoformat(),
                    "expires_at": token.expires_at.isoformat(),
                    "used_at": token.used_at.isoformat() if token.used_at else None,
                    "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                }
                for token in sessions
            ],
            "audit": [
                {"action": event.action, "at": event.created_at.isoformat(), "detail": event.detail}
                for event in audit
            ],
            "activity": [
                {
                    "kind": activity.kind,
                    "source": activity.source,
                    "subject_id": activity.subject_id or None,
                    "at": activity.created_at.isoformat(),
                    "detail": self._shown_detail(activity.detail),
                }
                for activity in activities
            ],
        }

    def _audit(
        self,
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

    def _view(self, row: UserRow) -> UserView:
        return UserView(
            row,
            self.cipher.decrypt(row.email_enc) if row.email_enc else "",
            self.cipher.decrypt(row.phone_enc) if row.phone_enc else "",
        )


@dataclass(frozen=True)
class _ServiceSubject:
    """What a service token is issued for: a firm's system, in no tenant, with the firm_service role."""

    id: str
    firm_id: str
    tenant_id: str = ""
    roles: tuple[str, ...] = (domain.FIRM_SERVICE_ROLE,)


def _card_taken() -> AlreadyExists:
    message = "this card number was issued already"
    return AlreadyExists(f"card_number: {message}", violations=[FieldViolation("card_number", message)])
