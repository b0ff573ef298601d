"""Access and refresh tokens, free of I/O: Ed25519 signing keys, their public JWKs, EdDSA JWTs that
`services.runtime.auth.TokenVerifier` accepts, opaque refresh tokens and the JWKS retention rule."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.identity.config import IdentitySettings
from services.runtime.records import utcnow

ALGORITHM = "EdDSA"
MAX_ACCESS_TOKEN_TTL_SECONDS = 900
# A new signing key is published this long before it signs: every verifier refetches the JWKS for an
# unknown key id at most every 30 s, so by then each has it and no freshly signed token is refused.
SIGNING_KEY_PUBLISH_AHEAD = timedelta(minutes=2)
REFRESH_TOKEN_TTL = timedelta(days=30)


class TokenSubject(Protocol):
    """What a token is issued for (a `UserRow` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def roles(self) -> Sequence[str]: ...


class DatedKey(Protocol):
    """A stored signing key as the signing rules see it (a `SigningKeyRow` fits)."""

    @property
    def created_at(self) -> datetime: ...


K = TypeVar("K", bound=DatedKey)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class PublishedKey:
    """A stored key as the JWKS sees it: its public JWK and when (if ever) it stopped signing."""

    public_jwk: dict[str, Any]
    retired_at: datetime | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds until the access token expires


@dataclass(frozen=True)
class ServiceToken:
    """An access token for a firm's system, and the firm it acts for."""

    access_token: str
    expires_in: int
    firm_id: str


def access_token_ttl(settings: IdentitySettings) -> int:
    """Access-token lifetime in seconds, never above 15 minutes whatever the configuration says."""
    return min(settings.access_token_ttl_seconds, MAX_ACCESS_TOKEN_TTL_SECONDS)


def generate_signing_key() -> SigningKey:
    return SigningKey(kid=secrets.token_urlsafe(16), private_key=Ed25519PrivateKey.generate())


def private_key_pem(key: SigningKey) -> str:
    """Unencrypted PKCS#8 PEM: seal it (FieldCipher) before it touches storage."""
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_signing_key(kid: str, pem: str) -> SigningKey:
    private_key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"signing key {kid} is not an Ed25519 key")
    return SigningKey(kid, private_key)


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """The public half as an RFC 8037 OKP JWK."""
    raw = key.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": ALGORITHM, "use": "sig"}


def issue_access_token(
    user: TokenSubject,
    key: SigningKey,
    settings: IdentitySettings,
    *,
    now: datetime | None = None,
    session_id: str = "",
) -> str:
    """An EdDSA JWT for `user`: iss/aud from settings, sub, tid (tenant, "" for staff), roles, iat, exp
    (iat + access_token_ttl), iat_ms (iat in milliseconds, for revocations), jti, fid (law firm) when the
    subject has one, and sid (the login session, so logging that session out revokes its access tokens too);
    the header names the key (kid)."""
    issued_at = now or utcnow()
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user.id,
        "tid": user.tenant_id,
        "roles": list(user.roles),
        "iat": int(issued_at.timestamp()),
        # iat has whole seconds; a revocation in the same second must still tell before from after.
        "iat_ms": int(issued_at.timestamp() * 1000),
        "exp": int(issued_at.timestamp()) + access_token_ttl(settings),
        "jti": uuid.uuid4().hex,
    }
    firm_id = getattr(user, "firm_id", "")
    if firm_id:
        claims["fid"] = firm_id
    if session_id:
        claims["sid"] = session_id
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def new_refresh_token() -> tuple[str, str]:
    """(token for the client, its SHA-256 hex for storage). 32 random bytes, URL-safe."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def retention_cutoff(now: datetime, access_ttl_seconds: int) -> datetime:
    """Keys retired before this instant can no longer have signed an unexpired token."""
    return now - timedelta(seconds=access_ttl_seconds)


def is_published(retired_at: datetime | None, now: datetime, access_ttl_seconds: int) -> bool:
    """A key stays in the JWKS until one access-token lifetime after it was retired, so rotation never
    invalidates a token before it expires."""
    return retired_at is None or retired_at > retention_cutoff(now, access_ttl_seconds)


def jwks_document(keys: Iterable[PublishedKey], now: datetime, access_ttl_seconds: int) -> dict[str, Any]:
    """The RFC 7517 key set of every key that may have signed a still-valid token."""
    return {"keys": [k.public_jwk for k in keys if is_published(k.retired_at, now, access_ttl_seconds)]}


def key_that_signs(unretired: Sequence[K], now: datetime) -> K | None:
    """Of the keys not retired by `now` (newest first), the one that signs: the newest that has been
    published for SIGNING_KEY_PUBLISH_AHEAD (a key just rotated in waits, its predecessor signs meanwhile);
    when none has, the longest-known of them (on a fresh start, the only key there is)."""
    published = [key for key in unretired if key.created_at <= now - SIGNING_KEY_PUBLISH_AHEAD]
    if published:
        return published[0]
    return unretired[-1] if unretired else None


def rotation_due(newest_created_at: datetime | None, min_age: timedelta, now: datetime) -> bool:
    """Whether a rotation makes a new key: not while the newest key is younger than `min_age` (a retried or
    repeated rotation makes one key)."""
    return newest_created_at is None or newest_created_at <= now - min_age
