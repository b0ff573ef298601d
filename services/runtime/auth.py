"""Access-token verification, shared by the gateway and every service so tenant checks never trust a
caller's word. Tokens are EdDSA JWTs issued by identity; public keys come from identity's JWKS."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from services.runtime.context import Principal
from services.runtime.errors import Unauthenticated

ALGORITHMS = ["EdDSA"]
JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


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
    retired keys for that long anyway. Refused tokens are never cached."""

    def __init__(
        self,
        fetch_jwks: JwksFetcher,
        *,
        issuer: str,
        audience: str,
        min_refresh_seconds: float = 30.0,
        max_cached: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch_jwks = fetch_jwks
        self._issuer = issuer
        self._audience = audience
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._max_cached = max_cached
        self._clock = clock
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

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
        """Returns the caller, or raises Unauthenticated for any malformed, forged, expired or foreign token."""
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            expires, principal = cached
            if self._clock() < expires:
                self._verified.move_to_end(digest)
                return principal
            del self._verified[digest]
            raise Unauthenticated("the token has expired")
        claims = await self._verified_claims(token)
        principal = principal_from_claims(claims)
        self._verified[digest] = (float(claims["exp"]), principal)
        if len(self._verified) > self._max_cached:
            self._verified.popitem(last=False)
        return principal

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
