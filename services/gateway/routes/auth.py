"""Registration, login, token refresh and logout, and the public keys."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse

from counsel.identity.v1 import identity_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal, OptionalPrincipal, SettingsDep, client_ip
from services.gateway.routing import api_router
from services.gateway.schemas.identity import (
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    OtpAccepted,
    OtpRequest,
    RefreshRequest,
    RegisterRequest,
)
from services.runtime.errors import Unauthenticated

router = api_router("identity")


@router.post("/api/v1/auth/otp", response_model=OtpAccepted, status_code=status.HTTP_202_ACCEPTED)
async def request_otp(body: OtpRequest, request: Request, clients: ClientsDep) -> OtpAccepted:
    """Send a 6-digit code (valid 5 minutes, single use) by SMS or e-mail. The answer is the same whether
    or not the phone or e-mail belongs to an account; too many requests are 429 with Retry-After."""
    reply = await clients.identity.RequestOtp(
        pb.RequestOtpRequest(channel=body.channel, destination=body.destination, client_ip=client_ip(request))
    )
    return OtpAccepted(expires_in=reply.expires_in)


@router.post("/api/v1/auth/register", response_model=LoginResponse, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, request: Request, clients: ClientsDep) -> LoginResponse:
    """Create an account from a phone or e-mail proven by its code; with `enterprise_name` the enterprise
    is created and you are its client_admin. Registering accepts the privacy policy in force: send its
    version; without it or with another the answer is 422 naming `privacy_policy_version` (with the version
    in force and its URL)."""
    reply = await clients.identity.Register(
        pb.RegisterRequest(
            phone=body.phone or "",
            email=body.email or "",
            code=body.code,
            password=body.password or "",
            display_name=body.display_name,
            enterprise_name=body.enterprise_name or "",
            client_ip=client_ip(request),
            privacy_policy_version=body.privacy_policy_version,
            marketing_consent=body.marketing_consent,
        )
    )
    return LoginResponse.from_proto(reply)


@router.post("/api/v1/auth/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, clients: ClientsDep) -> LoginResponse:
    """Exchange one credential for a token pair. Wrong credentials are 401; an identifier with repeated
    failures is locked for a while (429 with Retry-After). When the privacy policy changed since you last
    accepted it, the login is 409 (reason `consent_required`, naming `privacy_policy_version`, with the
    version and its URL) until you log in again sending that version."""
    reply = await clients.identity.Login(
        pb.LoginRequest(
            method=body.method,
            identifier=body.identifier,
            secret=body.secret,
            client_ip=client_ip(request),
            privacy_policy_version=body.privacy_policy_version or "",
        )
    )
    return LoginResponse.from_proto(reply)


@router.post("/api/v1/auth/refresh", response_model=LoginResponse)
async def refresh(body: RefreshRequest, clients: ClientsDep) -> LoginResponse:
    """A new token pair for a refresh token, which is spent; presenting a spent one again revokes the
    whole login and is 401."""
    reply = await clients.identity.Refresh(pb.RefreshRequest(refresh_token=body.refresh_token))
    return LoginResponse.from_proto(reply)


@router.post("/api/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(
    principal: CurrentPrincipal, clients: ClientsDep, body: LogoutRequest | None = None
) -> Response:
    """Revoke the given refresh token's login, or all of yours without a body."""
    await clients.identity.Logout(pb.LogoutRequest(refresh_token=(body.refresh_token or "") if body else ""))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


ProviderName = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9_-]+$")]


def oauth_callback_url(request: Request, settings: SettingsDep, provider: str) -> str:
    """The callback URL registered with the provider: under COUNSEL_PUBLIC_BASE_URL when set (behind a
    proxy), else as this request reached the gateway."""
    path = f"/api/v1/auth/oauth/{provider}/callback"
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + path
    return str(request.base_url).rstrip("/") + path


# The sign-in's state, kept in the browser that started it: a callback whose state is not this browser's
# (a victim's browser sent to an attacker's sign-in — login CSRF) is refused before the code is spent.
OAUTH_STATE_COOKIE = "counsel_oauth_state"
OAUTH_STATE_SECONDS = 600  # as long as identity keeps the state


def _state_cookie_path(provider: str) -> str:
    return f"/api/v1/auth/oauth/{provider}/callback"


@router.get(
    "/api/v1/auth/oauth/{provider}/authorize", status_code=status.HTTP_302_FOUND, response_class=Response
)
async def oauth_authorize(
    provider: ProviderName,
    request: Request,
    settings: SettingsDep,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    privacy_policy_version: Annotated[str, Query(max_length=64)] = "",
) -> RedirectResponse:
    """Start a social login: 302 to the provider — OpenID Connect (authorization code with PKCE, state and
    nonce), or WeChat's QR-code login for `wechat` (snsapi_login, state). The state is also set as a cookie:
    the callback must come back to this browser.
    Called with a bearer token, the social account is linked to that account at the callback. Unknown
    providers are 404. `privacy_policy_version` accepts the privacy policy in force, as a password login's
    does: a person who has not accepted it (a new account included) is refused at the callback."""
    callback_url = oauth_callback_url(request, settings, provider)
    reply = await clients.identity.StartOidcLogin(
        pb.StartOidcLoginRequest(
            provider=provider, redirect_uri=callback_url, privacy_policy_version=privacy_policy_version
        )
    )
    redirect = RedirectResponse(reply.authorization_url, status_code=status.HTTP_302_FOUND)
    (state,) = parse_qs(urlsplit(reply.authorization_url).query)["state"]
    redirect.set_cookie(
        OAUTH_STATE_COOKIE,
        state,
        max_age=OAUTH_STATE_SECONDS,
        path=_state_cookie_path(provider),
        secure=callback_url.startswith("https://"),
        httponly=True,
        # Lax: the provider's redirect back is a top-level GET navigation, which carries it.
        samesite="lax",
    )
    return redirect


@router.get("/api/v1/auth/oauth/{provider}/callback", response_model=LoginResponse)
async def oauth_callback(
    provider: ProviderName,
    request: Request,
    response: Response,
    clients: ClientsDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> LoginResponse:
    """The provider sends the browser back here: the account is linked (by verified e-mail, or WeChat's
    unionid) or created and a token pair returned. A wrong, spent or foreign state (or one another browser
    started), a refused code or a bad ID token is 401. A person who has not accepted the privacy policy in
    force (nor did with the authorize call's `privacy_policy_version`) is 409, reason `consent_required`,
    naming `privacy_policy_version` with the version and its URL: start again sending it."""
    browser_state = request.cookies.get(OAUTH_STATE_COOKIE, "")
    if not state or not hmac.compare_digest(browser_state.encode(), state.encode()):
        raise Unauthenticated(
            "the sign-in attempt is unknown or has expired; start again",
            reason="oauth_state_not_this_browser",
        )
    response.delete_cookie(OAUTH_STATE_COOKIE, path=_state_cookie_path(provider))
    reply = await clients.identity.FinishOidcLogin(
        pb.FinishOidcLoginRequest(
            provider=provider, state=state, code=code, error=error, client_ip=client_ip(request)
        )
    )
    return LoginResponse.from_proto(reply)


@router.get("/.well-known/jwks.json", response_model=dict[str, Any])
async def jwks(clients: ClientsDep) -> JSONResponse:
    """The public keys (RFC 7517) that verify access tokens."""
    reply = await clients.identity_internal.GetJwks(pb.GetJwksRequest())
    return JSONResponse(json.loads(reply.jwks_json), headers={"Cache-Control": "public, max-age=300"})
