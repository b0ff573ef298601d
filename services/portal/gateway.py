"""The portal's one way to the gateway: the public HTTP API, with the user's access token (refreshed here when
it runs out), the request's correlation id, and the call's latency in `counsel_portal_gateway_call_seconds`."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx
from prometheus_client import Histogram
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from services.portal.session import Session
from services.runtime.context import CORRELATION_HEADER, current_correlation_id
from services.runtime.metrics import LATENCY_BUCKETS

GATEWAY_CALL_SECONDS = Histogram(
    "counsel_portal_gateway_call_seconds",
    "The portal's calls to the gateway, by path template and status",
    ["method", "path", "status"],
    buckets=LATENCY_BUCKETS,
)
# The browser's address, sent on as X-Forwarded-For: the gateway's per-address limits (codes, logins) count
# people, not the portal, once COUNSEL_GATEWAY_TRUSTED_PROXIES names the portal (ignored otherwise).
client_address_var: ContextVar[str] = ContextVar("portal_client_address", default="")
CALL_TIMEOUT_SECONDS = 15.0
READINESS_TIMEOUT_SECONDS = 2.0


class RequestParts(TypedDict, total=False):
    """What a call sends besides its method and path template."""

    path: dict[str, str]
    params: dict[str, Any]
    json: Any
    files: dict[str, Any]
    data: dict[str, Any]
    headers: dict[str, str]


class GatewayError(Exception):
    """A 4xx from the gateway, with its problem details (API.md): shown to the user, never a crash."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', '')}")
        self.status = status
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or "")
        # The problem type's last segment (…/problems/consent_required): what a page acts on, beyond the status.
        self.reason = str(problem.get("type") or "").rsplit("/", 1)[-1]
        self.errors: dict[str, str] = {
            str(e.get("field", "")): str(e.get("message", "")) for e in problem.get("errors") or []
        }
        # The whole problem, for the extension members a page acts on (order_required's product_id).
        self.problem = problem


class SignedOut(Exception):
    """The page needs a login and the session has none (or its refresh token no longer works)."""


class Gateway:
    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=CALL_TIMEOUT_SECONDS, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def alive(self) -> bool:
        """Whether the gateway answers GET /healthz (the portal's readiness)."""
        try:
            response = await self._http.get("/healthz", timeout=READINESS_TIMEOUT_SECONDS)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def call(
        self,
        session: Session,
        method: str,
        template: str,
        *,
        signed_in: bool = True,
        **parts: Unpack[RequestParts],
    ) -> Any:
        """The JSON answer of `method template` (path parameters from `path`, quoted), or None for an empty
        one. `signed_in` calls carry the session's token and raise SignedOut without a usable one; a 4xx
        raises GatewayError; a 5xx or a network failure raises httpx errors (the page shows an error)."""
        response = await self._send(self._build(session, method, template, signed_in, parts), template)
        if response.status_code == 401 and signed_in and session.refresh_token:
            await self.refresh(session)
            response = await self._send(self._build(session, method, template, signed_in, parts), template)
        if response.status_code == 401 and signed_in:
            session.sign_out()
            raise SignedOut
        if response.status_code >= 500:
            response.raise_for_status()
        if response.status_code >= 400:
            raise GatewayError(response.status_code, _problem(response))
        return response.json() if response.content else None

    async def download(self, session: Session, template: str, path: dict[str, str]) -> httpx.Response:
        """A streamed answer (a file): the caller relays it and closes it."""
        request = self._build(session, "GET", template, True, {"path": path})
        response = await self._send(request, template, stream=True)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            if response.status_code == 401:
                raise SignedOut
            raise GatewayError(response.status_code, _problem(response))
        return response

    def socket(self, session: Session, path: str, subprotocol: str, params: dict[str, str]) -> Any:
        """Connects to one of the gateway's WebSockets (the chat's, a call's signalling) as the session's user,
        offering `subprotocol` and the token as `bearer.<token>` (never in the URL): an `async with` target
        giving a websockets ClientConnection; SignedOut without a usable token. The caller refreshes first:
        a socket cannot write the session's cookie."""
        if not session.signed_in or session.needs_refresh():
            raise SignedOut
        base = self._http.base_url
        url = base.copy_with(scheme="wss" if base.scheme == "https" else "ws", path=path, params=params)
        return connect(
            str(url),
            subprotocols=[Subprotocol(subprotocol), Subprotocol(f"bearer.{session.access_token}")],
            additional_headers={CORRELATION_HEADER: current_correlation_id()},
            open_timeout=CALL_TIMEOUT_SECONDS,
        )

    def _build(
        self, session: Session, method: str, template: str, signed_in: bool, parts: RequestParts
    ) -> httpx.Request:
        headers = {**parts.get("headers", {}), CORRELATION_HEADER: current_correlation_id()}
        if client_address_var.get():
            headers["X-Forwarded-For"] = client_address_var.get()
        if signed_in:
            if not session.signed_in:
                raise SignedOut
            headers["Authorization"] = f"Bearer {session.access_token}"
        url = template.format(**{k: quote(v, safe="") for k, v in parts.get("path", {}).items()})
        return self._http.build_request(
            method,
            url,
            params=parts.get("params"),
            json=parts.get("json"),
            files=parts.get("files"),
            data=parts.get("data"),
            headers=headers,
        )

    async def _send(self, request: httpx.Request, template: str, *, stream: bool = False) -> httpx.Response:
        started = time.perf_counter()
        status = "error"
        try:
            response = await self._http.send(request, stream=stream)
            status = str(response.status_code)
            return response
        finally:
            GATEWAY_CALL_SECONDS.labels(request.method, template, status).observe(
                time.perf_counter() - started
            )

    async def refresh(self, session: Session) -> None:
        """Trades the refresh token for new tokens (it works once: API.md); SignedOut when refused."""
        template = "/api/v1/auth/refresh"
        parts: RequestParts = {"json": {"refresh_token": session.refresh_token}}
        response = await self._send(self._build(session, "POST", template, False, parts), template)
        if response.status_code != 200:
            session.sign_out()
            raise SignedOut
        session.sign_in(response.json())

    async def fresh(self, session: Session) -> None:
        """Refreshes ahead of expiry, so a page's several calls do not each meet a 401."""
        if session.signed_in and session.needs_refresh():
            await self.refresh(session)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.reason_phrase}
    return body if isinstance(body, dict) else {"title": response.reason_phrase}
