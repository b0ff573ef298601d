"""Access tokens for tests: an Ed25519 key published as a one-key JWKS signs them as identity signs
its own, and `verifier()` trusts exactly that key, as every process trusts identity's."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.runtime.auth import TokenVerifier
from services.runtime.config import Settings

ISSUER = "https://counsel.test/identity"
AUDIENCE = "counsel-api-test"


class Issuer:
    """Signs access tokens with a fresh key; `jwks` publishes it. By default a token is a client's of
    tenant-1 (`user-1`), valid for ten minutes; staff tokens name their roles and no tenant."""

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE, kid: str = "test-key") -> None:
        self.issuer, self.audience, self.kid = issuer, audience, kid
        self.private = Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwks: dict[str, Any] = {"keys": [{**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}]}

    @classmethod
    def for_settings(cls, settings: Settings) -> Issuer:
        """Tokens the services configured by `settings` accept (their issuer and audience)."""
        return cls(settings.jwt_issuer, settings.jwt_audience)

    def token(
        self,
        subject: str = "user-1",
        *,
        roles: Iterable[str] = ("client",),
        tenant_id: str = "tenant-1",
        expires_in: int = 600,
        issued_at: float | None = None,
        **claims: Any,
    ) -> str:
        """A signed token; `claims` add to or override the standard ones (`aud`, `jti`, `sid`, …)."""
        iat = int(time.time() if issued_at is None else issued_at)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "tid": tenant_id,
            "roles": list(roles),
            "iat": iat,
            "exp": iat + expires_in,
            **claims,
        }
        return jwt.encode(payload, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def bearer(self, subject: str = "user-1", **options: Any) -> str:
        """The `authorization` value carrying `token(subject, **options)`."""
        return f"Bearer {self.token(subject, **options)}"

    def headers(self, subject: str = "user-1", **options: Any) -> dict[str, str]:
        """HTTP headers carrying `token(subject, **options)` (lower case, so their items are gRPC metadata
        too)."""
        return {"authorization": self.bearer(subject, **options)}

    async def fetch_jwks(self) -> dict[str, Any]:
        return self.jwks

    def verifier(self, **options: Any) -> TokenVerifier:
        """A verifier that trusts this key alone; `options` as TokenVerifier's (clock, revocations, …)."""
        return TokenVerifier(self.fetch_jwks, issuer=self.issuer, audience=self.audience, **options)
