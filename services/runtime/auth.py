"""Access-token verification, shared by the gateway and every service so tenant checks never trust a
caller's word. Tokens are EdDSA JWTs issued by identity; public keys come from identity's JWKS."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from services.runtime.context import Principal
from services.runtime.errors import NotFound, Unauthenticated

log = logging.getLogger(__name__)

ALGORITHMS = ["EdDSA"]
JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]
# Identity's access tokens live at most this long, so a revocation older than this names no live token.
MAX_TOKEN_LIFETIME_SECONDS = 900


@dataclass(frozen=True)
class Revocation:
    """The user's tokens issued before `revoked_before` (epoch seconds) are refused — all of them, or only
    those of login session `session_id`. `erased`: the user's account was erased, so their tokens name
    nobody any more (refused as NotFound, not as an ordinary revoked token)."""

    id: int
    user_id: str
    session_id: str
    revoked_before: float
    erased: bool = False


# Revocations after a position, oldest first (identity's ListTokenRevocations).
RevocationsFetcher = Callable[[int], Awaitable[Sequence[Revocation]]]


@dataclass(frozen=True)
class _Verified:
    expires: float
    issued_at: float
    session_id: str
    principal: Principal


class Revocations:
    """What this process knows of identity's revocations, polled at most every `poll_seconds` by the
    verifications that need it (no background task to manage). A poll that fails keeps what is known and is
    logged: tokens then stay valid until they expire, as they did before revocations existed."""

    def __init__(
        self, fetch: RevocationsFetcher, poll_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._fetch = fetch
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._after = 0
        self._polled_at = float("-inf")
        self._users: dict[str, float] = {}  # user id → tokens issued before this are refused
        self._sessions: dict[str, float] = {}
        self._erased: dict[str, float] = {}  # user id → tokens issued before this name an erased account
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        if self._clock() - self._polled_at < self._poll_seconds:
            return
        async with self._lock:
            if self._clock() - self._polled_at < self._poll_seconds:
                return
            try:
                revocations = await self._fetch(self._after)
            except Exception:
                log.warning("could not read token revocations", exc_info=True)
                self._polled_at = self._clock()
                return
            for revocation in revocations:
                self._after = max(self._after, revocation.id)
                if revocation.session_id:
                    self._sessions[revocation.session_id] = revocation.revoked_before
                elif revocation.erased:
                    self._erased[revocation.user_id] = revocation.revoked_before
                else:
                    before = self._users.get(revocation.user_id, 0.0)
                    self._users[revocation.user_id] = max(before, revocation.revoked_before)
            self._polled_at = self._clock()
            self._forget_expired()

    def _forget_expired(self) -> None:
        """Revocations whose every token has expired name nothing any more."""
        horizon = self._clock() - MAX_TOKEN_LIFETIME_SECONDS
        self._users = {user: at for user, at in self._users.items() if at > horizon}
        self._sessions = {sid: at for sid, at in self._sessions.items() if at > horizon}
        self._erased = {user: at for user, at in self._erased.items() if at > horizon}

    def erased(self, verified: _Verified) -> bool:
        return verified.issued_at < self._erased.get(verified.principal.user_id, 0.0)

    def revoked(self, verified: _Verified) -> bool:
        if verified.issued_at < self._users.get(verified.principal.user_id, 0.0):
            return True
        return bool(verified.session_id) and verified.session_id in self._sessions


def _issued_at(claims: dict[str, Any]) -> float:
    """When the token was issued, to the millisecond where identity said so (iat_ms), else to the second."""
    try:
        return float(claims["iat_ms"]) / 1000
    except (KeyError, TypeError, ValueError):
        return float(claims["iat"])


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    return Principal(
        user_id=str(claims["sub"]),
        tenant_id=str(claims.get("tid") or ""),
        roles=frozenset(str(role) for role in claims.get("roles", [])),
        firm_id=str(claims.get("fid") or ""),
    )


class TokenVerifier:
    """Verifies bearer tokens against a JWKS that is fetched lazily and refreshed when an unknown key id
    appears (key rotation), at most once per `min_refresh_seconds`.

    A token that verified is remembered by its SHA-256 until its `exp` (at most `max_cached` tokens, least
    recently used dropped first): the signature check and claim parsing were most of the gateway's CPU per
    request, and a client sends the same token for its whole ≤ 15 min life. A key retired from the JWKS
    while a token signed with it is cached keeps that token valid until it expires, as identity's JWKS keeps
    retired keys for that long anyway. Refused tokens are never cached.

    With `revocations`, a token identity revoked before it expired (logout, a role change) is refused too,
    cached or not, within `revocations`' poll interval; one of an erased account is NotFound (issue 20: the
    person is gone, which the client is told apart from a lapsed sign-in)."""

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        issuer: str,
        audience: str,
        min_refresh_seconds: float = 30.0,
        max_cached: int = 10_000,
        clock: Callable[[], float] = time.time,
        revocations: Revocations | None = None,
    ) -> None:
        self._fetch_jwks = fetch_jwks
        self._revocations = revocations
        self._issuer = issuer
        self._audience = audience
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._max_cached = max_cached
        self._clock = clock
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()

    async def _refresh(self) -> None:
        jwks = await self._fetch_jwks()
        self._keys = {key.key_id: key.key for key in jwt.PyJWKSet.from_dict(jwks).keys if key.key_id}
        self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> Any:
        if kid not in self._keys and time.monotonic() - self._fetched_at >= self._min_refresh:
            await self._refresh()
        if kid not in self._keys:
            raise Unauthenticated("the token was signed with an unknown key")
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        """Returns the caller, or raises Unauthenticated for any malformed, forged, expired, foreign or
        revoked token (NotFound for one of an erased account)."""
        digest = hashlib.sha256(token.encode()).digest()
        verified = self._verified.get(digest)
        if verified is not None:
            if self._clock() >= verified.expires:
                del self._verified[digest]
                raise Unauthenticated("the token has expired")
            self._verified.move_to_end(digest)
        else:
            claims = await self._verified_claims(token)
            verified = _Verified(
                float(claims["exp"]),
                _issued_at(claims),
                str(claims.get("sid") or ""),
                principal_from_claims(claims),
            )
            self._verified[digest] = verified
            if len(self._verified) > self._max_cached:
                self._verified.popitem(last=False)
        if self._revocations is not None:
            await self._revocations.refresh()
            if self._revocations.erased(verified):
                raise NotFound("this account has been erased", reason="account_erased")
            if self._revocations.revoked(verified):
                raise Unauthenticated("the token was revoked; sign in again", reason="token_revoked")
        return verified.principal

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the token is malformed") from exc
        if header.get("alg") not in ALGORITHMS or not header.get("kid"):
            raise Unauthenticated("the token's algorithm is not accepted")
        key = await self._key_for(str(header["kid"]))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("the token is not valid") from exc
        return dict(claims)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()
