"""OpenID Connect login (R-ACC-1, R-ACC-2): authorization code flow with PKCE (S256), state and nonce,
with Authlib's OAuth 2 client; ID tokens verified with joserfc against the provider's JWKS. Providers are
configuration (`COUNSEL_OIDC_PROVIDERS`), so WeChat-style or other providers need no code."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.runtime.errors import InvalidArgument, NotFound, Unauthenticated, Unavailable

DISCOVERY_CACHE_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 10.0
ID_TOKEN_ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"]
SIGN_IN_FAILED = "the sign-in with this provider failed; start again"


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid email profile"
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    jwks_uri: str = ""


def parse_providers(raw: str) -> dict[str, ProviderConfig]:
    """The providers of `COUNSEL_OIDC_PROVIDERS`; ValueError on a malformed value (fails at start)."""
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("COUNSEL_OIDC_PROVIDERS must be a JSON object of provider name → settings")
    providers = {}
    for name, options in data.items():
        if not isinstance(options, dict) or not {"issuer", "client_id"} <= set(options):
            raise ValueError(f"OIDC provider {name!r} needs at least issuer and client_id")
        providers[name] = ProviderConfig(name=name, **{k: str(v) for k, v in options.items()})
    return providers


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdentity:
    subject: str
    email: str  # "" unless the provider says it is verified
    name: str


class OidcClients:
    """Talks to the configured providers. Discovery documents and key sets are cached."""

    def __init__(self, providers: dict[str, ProviderConfig]) -> None:
        self.providers = providers
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}

    def provider(self, name: str) -> ProviderConfig:
        try:
            return self.providers[name]
        except KeyError:
            raise NotFound("no such login provider") from None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                response = await http.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable("the login provider is not reachable; try again later") from exc
        if not isinstance(data, dict):
            raise Unavailable("the login provider answered something unexpected")
        return data

    async def metadata(self, provider: ProviderConfig) -> dict[str, Any]:
        cached = self._metadata.get(provider.name)
        if cached and time.monotonic() - cached[0] < DISCOVERY_CACHE_SECONDS:
            return cached[1]
        document: dict[str, Any] = {}
        if not (provider.authorization_endpoint and provider.token_endpoint and provider.jwks_uri):
            document = await self._get_json(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if document.get("issuer") != provider.issuer:
                raise Unavailable("the login provider's discovery document names another issuer")
        merged = {
            "authorization_endpoint": provider.authorization_endpoint
            or document.get("authorization_endpoint"),
            "token_endpoint": provider.token_endpoint or document.get("token_endpoint"),
            "jwks_uri": provider.jwks_uri or document.get("jwks_uri"),
        }
        self._metadata[provider.name] = (time.monotonic(), merged)
        return merged

    def _client(self, provider: ProviderConfig, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret or None,
            scope=provider.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    async def start(self, name: str, redirect_uri: str) -> AuthorizationStart:
        """A fresh state, nonce and PKCE verifier, and the provider URL to send the browser to."""
        if not redirect_uri.startswith(("https://", "http://")):
            raise InvalidArgument.for_field("redirect_uri", "must be an absolute http(s) URL")
        provider = self.provider(name)
        metadata = await self.metadata(provider)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        async with self._client(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return AuthorizationStart(url, state, nonce, verifier)

    async def finish(
        self, name: str, redirect_uri: str, code: str, code_verifier: str, nonce: str
    ) -> VerifiedIdentity:
        """Exchange the code (with the PKCE verifier) and verify the ID token: signature by the provider's
        keys, issuer, audience, expiry and our nonce. Unauthenticated when any of it fails."""
        provider = self.provider(name)
        metadata = await self.metadata(provider)
        try:
            async with self._client(provider, redirect_uri) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=code_verifier
                )
        except (
            OAuthError,
            OAuth2Error,
        ) as exc:  # invalid_grant: a wrong, spent or foreign code, or a PKCE mismatch
            raise Unauthenticated(SIGN_IN_FAILED, reason="oidc_token_refused") from exc
        except httpx.HTTPError as exc:
            raise Unavailable("the login provider is not reachable; try again later") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated(SIGN_IN_FAILED, reason="oidc_no_id_token")
        keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": provider.issuer},
                aud={"essential": True, "value": provider.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(SIGN_IN_FAILED, reason="oidc_id_token_invalid") from exc
        claims = decoded.claims
        email = str(claims.get("email") or "") if claims.get("email_verified") is True else ""
        return VerifiedIdentity(str(claims["sub"]), email, str(claims.get("name") or ""))
