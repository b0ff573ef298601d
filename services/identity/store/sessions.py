"""Login sessions (R-ACC-2): a family of rotating refresh tokens per login, its access tokens, the login in
the user's activity, logout, and the revocations every verifier polls."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.identity.v1 import events_pb2
from services.identity import domain, tokens
from services.identity.geo import GeoResolver
from services.identity.models import ActivityRow, RefreshTokenRow, TokenRevocationRow, UserRow
from services.identity.store.base import IdentityBase, SignedIn, audit
from services.identity.store.keys import SigningKeys
from services.runtime.context import Principal
from services.runtime.errors import Unauthenticated
from services.runtime.records import new_id, utcnow
from services.runtime.tenancy import signed_in


def revoke_access(session: AsyncSession, user_id: str, *, session_id: str = "", erased: bool = False) -> None:
    """Refuse the user's access tokens issued until now (of one login session, or all; as an erased
    account's with `erased`), in the caller's transaction; kept until the last of them has expired."""
    now = utcnow()
    session.add(
        TokenRevocationRow(
            user_id=user_id,
            session_id=session_id,
            revoked_before=now,
            expires_at=now + timedelta(seconds=tokens.MAX_ACCESS_TOKEN_TTL_SECONDS),
            erased=erased,
        )
    )


class Sessions:
    def __init__(self, base: IdentityBase, keys: SigningKeys, geo: GeoResolver) -> None:
        self.base = base
        self.keys = keys
        self.geo = geo

    async def open(
        self, session: AsyncSession, user: UserRow, method: str, client_ip: str = ""
    ) -> tokens.IssuedTokens:
        """Tokens of a new login (a new refresh-token family), the login in the user's activity (with where
        it came from: the IP address and its place, sealed with the person's key) and `user.logged_in`, in
        `session`."""
        issued = await self._issue(session, user, family_id=new_id())
        location = self.geo.locate(client_ip).label() if client_ip else ""
        detail = (await self.base.personal(user.id)).login_detail(method, client_ip, location)
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
        await self.base.outbox.add(
            session,
            "user.logged_in",
            events_pb2.UserLoggedIn(user_id=user.id, method=method),
            aggregate_id=user.id,
            tenant_id=user.tenant_id,
            actor_id=user.id,
        )
        return issued

    async def _issue(self, session: AsyncSession, user: UserRow, family_id: str) -> tokens.IssuedTokens:
        now = utcnow()
        settings = self.base.settings
        access_token = tokens.issue_access_token(
            user, await self.keys.signing_key(session), settings, now=now, session_id=family_id
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
        return tokens.IssuedTokens(access_token, refresh_token, tokens.access_token_ttl(settings))

    async def refresh(self, refresh_token: str) -> SignedIn:
        """Rotate: the presented token is spent and a new pair of the same family is returned. A token
        presented a second time revokes its whole family (the pair was stolen or replayed) and, like an
        unknown, expired or revoked token, is Unauthenticated."""
        token_hash = tokens.hash_refresh_token(refresh_token)
        rotated: tuple[UserRow, tokens.IssuedTokens] | None = None
        async with self.base.db.transaction() as session:
            row = await session.get(RefreshTokenRow, token_hash, with_for_update=True)
            now = utcnow()
            outcome = (
                domain.refresh_outcome(row.revoked_at, row.expires_at, row.used_at, now)
                if row is not None
                else domain.RefreshOutcome.INVALID
            )
            if row is None or outcome is domain.RefreshOutcome.INVALID:
                raise Unauthenticated("the refresh token is not valid", reason="invalid_refresh_token")
            if outcome is domain.RefreshOutcome.ROTATE:
                user = await session.get(UserRow, row.user_id)
                if user is None or not domain.signs_in(user.status):
                    raise Unauthenticated("the refresh token is not valid", reason="invalid_refresh_token")
                row.used_at = now
                session.add(row)
                rotated = (user, await self._issue(session, user, row.family_id))
            else:
                await session.execute(
                    update(RefreshTokenRow)
                    .where(
                        col(RefreshTokenRow.family_id) == row.family_id,
                        col(RefreshTokenRow.revoked_at).is_(None),
                    )
                    .values(revoked_at=now)
                )
                audit(session, "session.reuse_detected", user_id=row.user_id, family=row.family_id)
                revoke_access(session, row.user_id, session_id=row.family_id)
        if rotated is None:  # raised after the commit, so the revocation stays
            raise Unauthenticated(
                "the refresh token was used before; sign in again", reason="refresh_token_reused"
            )
        user, issued = rotated
        return SignedIn(await self.base.view(user), issued)

    async def logout(self, principal: Principal | None, refresh_token: str) -> int:
        """Revoke the family of `refresh_token` (when it is the caller's) or, without one, every refresh
        token of the caller, and the access tokens of those sessions with them (every verifier refuses them
        within seconds). Returns how many refresh tokens were revoked."""
        caller = signed_in(principal, "log out")
        async with self.base.db.transaction() as session:
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
                revoke_access(session, caller.user_id, session_id=family)
            if not session_id:
                revoke_access(session, caller.user_id)
            audit(
                session, "logout", actor_id=caller.user_id, user_id=caller.user_id, tenant_id=caller.tenant_id
            )
            return len(revoked)

    async def token_revocations(self, after_id: int, limit: int = 1000) -> list[TokenRevocationRow]:
        """Revocations after position `after_id` whose tokens may still be alive, oldest first."""
        async with self.base.db.read() as session:
            rows = await session.exec(
                select(TokenRevocationRow)
                .where(col(TokenRevocationRow.id) > after_id, col(TokenRevocationRow.expires_at) > utcnow())
                .order_by(col(TokenRevocationRow.id))
                .limit(limit)
            )
            return list(rows.all())
