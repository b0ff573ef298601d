"""Tokens identity issues verify with the runtime's TokenVerifier, and nothing else does."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.identity import tokens
from services.identity.config import IdentitySettings
from services.runtime.auth import TokenVerifier
from services.runtime.context import Principal
from services.runtime.errors import Unauthenticated

ISSUER = "https://counsel.test/identity"
AUDIENCE = "counsel-api-test"


@dataclass
class User:
    id: str = "u1"
    tenant_id: str = "t1"
    roles: list[str] = field(default_factory=lambda: ["client_admin"])


@pytest.fixture
def settings() -> IdentitySettings:
    return IdentitySettings(
        env="test",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        access_token_ttl_seconds=900,
        secret_key="x" * 32,
    )


@pytest.fixture
def key() -> tokens.SigningKey:
    return tokens.generate_signing_key()


def verifier_for(*keys: tokens.SigningKey, issuer: str = ISSUER, audience: str = AUDIENCE) -> TokenVerifier:
    async def fetch() -> dict[str, Any]:
        return {"keys": [tokens.public_jwk(k) for k in keys]}

    return TokenVerifier(fetch, issuer=issuer, audience=audience)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_an_issued_token_verifies_into_the_principal(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    token = tokens.issue_access_token(User(), key, settings)
    assert await verifier_for(key).verify(token) == Principal("u1", "t1", frozenset({"client_admin"}))

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == key.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"] and claims["tid"] == "t1" and claims["roles"] == ["client_admin"]


async def test_staff_tokens_carry_no_tenant(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    token = tokens.issue_access_token(User("l1", "", ["reviewer", "lawyer"]), key, settings)
    principal = await verifier_for(key).verify(token)
    assert principal == Principal("l1", "", frozenset({"reviewer", "lawyer"}))


async def test_every_token_has_its_own_id(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    ids = {
        jwt.decode(tokens.issue_access_token(User(), key, settings), options={"verify_signature": False})[
            "jti"
        ]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_lifetime_is_capped_at_fifteen_minutes() -> None:
    # Settings refuse more than 900 s; a Settings built around validation still cannot get longer tokens.
    lax = IdentitySettings(env="test").model_copy(update={"access_token_ttl_seconds": 3600})
    assert tokens.access_token_ttl(lax) == 900
    assert tokens.access_token_ttl(IdentitySettings(env="test", access_token_ttl_seconds=300)) == 300


def test_the_jwk_is_an_okp_ed25519_signing_key(key: tokens.SigningKey) -> None:
    jwk = tokens.public_jwk(key)
    assert {k: jwk[k] for k in ("kty", "crv", "kid", "alg", "use")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert "d" not in jwk  # never the private half


def test_the_private_key_survives_a_pem_round_trip(key: tokens.SigningKey) -> None:
    loaded = tokens.load_signing_key(key.kid, tokens.private_key_pem(key))
    assert tokens.public_jwk(loaded) == tokens.public_jwk(key)


async def test_a_tampered_token_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    header, payload, signature = tokens.issue_access_token(User(), key, settings).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["supervisor"]
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(f"{header}.{b64(claims)}.{signature}")


async def test_alg_none_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    _, payload, _ = tokens.issue_access_token(User(), key, settings).split(".")
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{payload}.")


async def test_an_hmac_token_keyed_with_the_public_key_is_rejected(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    # The classic algorithm-confusion attack: HS256 with the published key as the shared secret.
    claims = jwt.decode(tokens.issue_access_token(User(), key, settings), options={"verify_signature": False})
    forged = jwt.encode(claims, tokens.public_jwk(key)["x"], algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(forged)


async def test_a_token_from_another_key_with_the_same_kid_is_rejected(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    impostor = tokens.SigningKey(key.kid, Ed25519PrivateKey.generate())
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(tokens.issue_access_token(User(), impostor, settings))


async def test_an_unknown_kid_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(
            tokens.issue_access_token(User(), tokens.generate_signing_key(), settings)
        )


async def test_wrong_audience_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    with pytest.raises(Unauthenticated):
        await verifier_for(key, audience="another-api").verify(
            tokens.issue_access_token(User(), key, settings)
        )


async def test_wrong_issuer_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    with pytest.raises(Unauthenticated):
        await verifier_for(key, issuer="https://evil.test").verify(
            tokens.issue_access_token(User(), key, settings)
        )


async def test_an_expired_token_is_rejected(settings: IdentitySettings, key: tokens.SigningKey) -> None:
    issued_at = datetime.now(UTC) - timedelta(seconds=901)
    token = tokens.issue_access_token(User(), key, settings, now=issued_at)
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier_for(key).verify(token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x.y.z"])
async def test_malformed_tokens_are_rejected(key: tokens.SigningKey, token: str) -> None:
    with pytest.raises(Unauthenticated):
        await verifier_for(key).verify(token)


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    token, stored = tokens.new_refresh_token()
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32
    assert stored == tokens.hash_refresh_token(token) and len(stored) == 64 and token not in stored
    assert tokens.new_refresh_token()[0] != token
    assert timedelta(days=30) == tokens.REFRESH_TOKEN_TTL


def test_jwks_keeps_retired_keys_for_one_token_lifetime() -> None:
    now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    active, recent, boundary, old = (tokens.public_jwk(tokens.generate_signing_key()) for _ in range(4))
    document = tokens.jwks_document(
        [
            tokens.PublishedKey(active, None),
            tokens.PublishedKey(recent, now - timedelta(seconds=899)),
            tokens.PublishedKey(boundary, now - timedelta(seconds=900)),
            tokens.PublishedKey(old, now - timedelta(days=1)),
        ],
        now,
        900,
    )
    assert document == {"keys": [active, recent]}


async def test_rotation_keeps_unexpired_tokens_valid(settings: IdentitySettings) -> None:
    """A token signed just before its key was retired verifies against the JWKS published afterwards."""
    old_key, new_key = tokens.generate_signing_key(), tokens.generate_signing_key()
    old_token = tokens.issue_access_token(User(), old_key, settings)
    retired_at = datetime.now(UTC)
    stored = [
        tokens.PublishedKey(tokens.public_jwk(old_key), retired_at),
        tokens.PublishedKey(tokens.public_jwk(new_key), None),
    ]

    async def fetch() -> dict[str, Any]:
        return tokens.jwks_document(stored, datetime.now(UTC), tokens.access_token_ttl(settings))

    verifier = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE)
    assert (await verifier.verify(old_token)).user_id == "u1"
    assert (await verifier.verify(tokens.issue_access_token(User(), new_key, settings))).user_id == "u1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


async def test_a_remembered_token_is_still_refused_once_it_expires(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    """Verified tokens are remembered (the gateway's CPU per request), but only until their `exp`."""
    clock = Clock()
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return {"keys": [tokens.public_jwk(key)]}

    verifier = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    token = tokens.issue_access_token(User(), key, settings)
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first == Principal("u1", "t1", frozenset({"client_admin"}))
    clock.now += 899
    assert await verifier.verify(token) == first
    clock.now += 2  # past the token's 900 s lifetime
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(token)
    assert fetches == 1


async def test_remembering_a_token_never_admits_a_tampered_copy(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    verifier = verifier_for(key)
    token = tokens.issue_access_token(User(), key, settings)
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["supervisor"]
    with pytest.raises(Unauthenticated):
        await verifier.verify(f"{header}.{b64(claims)}.{signature}")
    with pytest.raises(Unauthenticated):
        await verifier.verify(token + "x")


async def test_the_verified_token_memory_is_bounded(
    settings: IdentitySettings, key: tokens.SigningKey
) -> None:
    async def fetch() -> dict[str, Any]:
        return {"keys": [tokens.public_jwk(key)]}

    verifier = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, max_cached=3)
    issued = [tokens.issue_access_token(User(f"u{i}"), key, settings) for i in range(5)]
    principals = [await verifier.verify(t) for t in issued]
    assert [p.user_id for p in principals] == ["u0", "u1", "u2", "u3", "u4"]
    assert len(verifier._verified) == 3
    # The forgotten ones still verify, by their signature.
    assert (await verifier.verify(issued[0])).user_id == "u0"


@dataclass(frozen=True)
class StoredKey:
    kid: str
    created_at: datetime


def test_a_rotated_in_key_signs_only_once_it_has_been_published_long_enough() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    old = StoredKey("old", now - timedelta(days=30))
    new = StoredKey("new", now - timedelta(seconds=30))
    assert tokens.key_that_signs([new, old], now) == old  # newest first: the new one waits its turn
    published = StoredKey("new", now - tokens.SIGNING_KEY_PUBLISH_AHEAD)
    assert tokens.key_that_signs([published, old], now) == published
    assert tokens.key_that_signs([new], now) == new  # a fresh start signs with its only key at once
    assert tokens.key_that_signs([], now) is None


def test_a_rotation_makes_a_key_only_when_the_newest_is_old_enough() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert tokens.rotation_due(None, timedelta(days=15), now)
    assert tokens.rotation_due(now - timedelta(days=15), timedelta(days=15), now)
    assert not tokens.rotation_due(now - timedelta(days=14), timedelta(days=15), now)
    assert tokens.rotation_due(now, timedelta(0), now)
