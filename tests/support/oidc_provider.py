"""A real OpenID Connect provider for the tests, built from Authlib's authorization-server components
(AuthorizationServer, AuthorizationCodeGrant, CodeChallenge for PKCE, OpenIDCode for ID tokens with a
required nonce), served over HTTP by uvicorn on a loopback port. It signs ID tokens with its own ES256
key and publishes discovery and JWKS documents, so the client under test talks to it as to any provider.

The end user who "signs in" at the provider is set per test (`provider.user = ...`): the authorization
endpoint approves at once and redirects with a code, as after a consent screen."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import uvicorn
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class EndUser:
    sub: str
    email: str
    email_verified: bool = True
    name: str = "社交用户"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: EndUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str:
        return ""

    def get_amr(self) -> list[str]:
        return []


class FormPayload(OAuth2Payload):
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return dict(self._values)

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        grouped: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._values:
            grouped[key].append(value)
        return grouped


class StarletteOAuth2Request(OAuth2Request):
    """An OAuth2Request over an already-read Starlette request (query + form values)."""

    def __init__(self, request: Request, form: list[tuple[str, str]]) -> None:
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._args = list(request.query_params.multi_items())
        self._form = form
        self.payload = FormPayload(self._args + form)

    @property
    def args(self) -> dict[str, str]:
        return dict(self._args)

    @property
    def form(self) -> dict[str, str]:
        return dict(self._form)


class Provider:
    def __init__(self, issuer: str, client: Client) -> None:
        self.issuer = issuer
        self.client = client
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": "provider-key-1", "use": "sig", "alg": "ES256"}
        )
        self.codes: dict[str, AuthorizationCode] = {}
        self.user: EndUser | None = None
        # Tests that need to bend the provider: a nonce other than the one requested.
        self.nonce_override: str | None = None
        self.server = self._build_server()

    def _build_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                pass

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request

            def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
                return status, body, headers

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                data = request.payload.data
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.payload.scope,
                    user=request.user,
                    nonce=provider.nonce_override or data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=int(time.time()),
                )

            def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> EndUser:
                return authorization_code.user

        class IdTokens(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return any(code.nonce == nonce for code in provider.codes.values())

            def get_jwt_config(self, grant: Any) -> dict[str, Any]:
                return {
                    "key": provider.key,
                    "alg": "ES256",
                    "iss": provider.issuer,
                    "exp": 3600,
                    "kid": "provider-key-1",
                }

            def resolve_client_private_key(self, client: Client) -> Any:
                return provider.key

            def get_client_algorithm(self, client: Client) -> str:
                return "ES256"

            def get_client_claims(self, client: Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id], "exp": int(time.time()) + 3600}

            def get_encode_header(self, client: Client) -> dict[str, str]:
                return {"alg": "ES256", "kid": "provider-key-1"}

            def generate_user_info(self, user: EndUser, scope: str) -> UserInfo:
                return UserInfo(
                    sub=user.sub, email=user.email, email_verified=user.email_verified, name=user.name
                )

        server = Server()
        server.register_token_generator(
            "default", BearerTokenGenerator(access_token_generator=lambda *a, **k: secrets.token_urlsafe(24))
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdTokens(require_nonce=True)])
        return server

    # --- HTTP -------------------------------------------------------------------------------------

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["ES256"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def jwks(request: Request) -> JSONResponse:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        async def authorize(request: Request) -> Response:
            oauth_request = StarletteOAuth2Request(request, [])
            try:
                grant = self.server.get_consent_grant(request=oauth_request, end_user=self.user)
            except Exception as error:  # an OAuth2Error: shown to the user, never redirected
                return JSONResponse({"error": getattr(error, "error", "invalid_request")}, status_code=400)
            status, body, headers = self.server.create_authorization_response(
                request=oauth_request, grant_user=self.user, grant=grant
            )
            return _response(status, body, headers)

        async def token(request: Request) -> Response:
            form = parse_qsl((await request.body()).decode())
            status, body, headers = self.server.create_token_response(StarletteOAuth2Request(request, form))
            return _response(status, body, headers)

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


def _response(status: int, body: Any, headers: Any) -> Response:
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=dict(headers))
    return Response(body or b"", status_code=status, headers=dict(headers))


@contextlib.asynccontextmanager
async def serving_on_loopback(app: Starlette, port: int) -> AsyncIterator[None]:
    """Serve `app` over HTTP on 127.0.0.1:`port` until the block ends (the stand-ins of outside providers)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_provider(port: int, client: Client) -> AsyncIterator[Provider]:
    provider = Provider(f"http://127.0.0.1:{port}", client)
    async with serving_on_loopback(provider.app(), port):
        yield provider
