"""Typed dependencies of the routes: settings, peer clients and the caller. All are `async def`: FastAPI
runs a plain `def` dependency in its thread pool, a thread hop per dependency per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.clients import Clients
from services.gateway.config import GatewaySettings
from services.runtime.auth import TokenVerifier, bearer_token
from services.runtime.context import Principal, access_token_var, principal_var
from services.runtime.errors import PermissionDenied, Unauthenticated

# Only documents the scheme in OpenAPI; the header is parsed by the runtime's `bearer_token`.
_bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def client_ip(request: Request) -> str:
    """The peer's address as the gateway sees it (a proxy in front must set it via uvicorn's
    --proxy-headers/--forwarded-allow-ips); used for per-IP limits and the audit."""
    return request.client.host if request.client else ""


async def get_clients(request: Request) -> Clients:
    clients: Clients | None = getattr(request.app.state, "clients", None)
    if clients is None:
        raise RuntimeError("the gateway's gRPC clients are not open (was the lifespan run?)")
    return clients


async def _caller(request: Request) -> Principal | None:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token)
    principal_var.set(principal)
    access_token_var.set(token)
    return principal


async def optional_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal | None:
    """The caller when a bearer token is sent, None when none is. A token that is sent but malformed,
    forged or expired is refused (Unauthenticated → 401) rather than ignored.

    The verified raw token is put in `access_token_var` so the gRPC client forwards it: services verify it
    again and enforce tenant scoping themselves."""
    return await _caller(request)


async def require_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal:
    """The caller, as `optional_principal`; Unauthenticated (401) without a valid bearer token. Not built on
    `optional_principal`: every dependency level costs each request FastAPI's dependency solving."""
    principal = await _caller(request)
    if principal is None:
        raise Unauthenticated("sign in and send 'Authorization: Bearer <access_token>'")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
ClientsDep = Annotated[Clients, Depends(get_clients)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers with any of `roles`; others get PermissionDenied (403).
    Use as `Depends(require_roles("agent", "supervisor"))`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise PermissionDenied("your role does not allow this")
        return principal

    return check
