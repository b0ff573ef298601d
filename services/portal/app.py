"""The portal's FastAPI application: server-rendered pages that call the public HTTP API like any client.
Nothing is built at import time: call `create_app(settings)`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import Histogram
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.portal import i18n
from services.portal.config import PortalSettings
from services.portal.gateway import Gateway, GatewayError, SignedOut, client_address_var
from services.portal.licences import PlatformLicences
from services.portal.pages import (
    account,
    articles,
    assignments,
    bookings,
    calls,
    chat,
    client,
    columns,
    complaints,
    consultations,
    credentials,
    documents,
    firm,
    me,
    operator,
    products_work,
    public,
    staff,
)
from services.portal.session import COOKIE_NAME, MAX_AGE_SECONDS, SessionCodec
from services.portal.web import make_templates, redirect, render
from services.runtime.context import correlation_id_var, new_correlation_id
from services.runtime.metrics import LATENCY_BUCKETS

access_log = logging.getLogger("counsel.access")

PAGE_SECONDS = Histogram(
    "counsel_portal_page_seconds",
    "Time the portal takes to answer a page (its gateway calls included), by route template",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)

# Scripts, styles, images and connections from the portal only; no inline script or style, no frames.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
STATIC_DIR = Path(__file__).parent / "static"


class PortalMiddleware:
    """Per request: a correlation id (sent on to the gateway and in every log line), the language, the
    session from its cookie (written back when it changed), the platform's licences until they were first
    read (PlatformLicences.first_read), the security headers, the page's render time and one access-log
    line."""

    def __init__(self, app: ASGIApp, codec: SessionCodec, secure_cookies: bool) -> None:
        self.app = app
        self.codec = codec
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the chat relay reads the session; its frames have no headers
            session = self.codec.loads(HTTPConnection(scope).cookies.get(COOKIE_NAME))
            scope.setdefault("state", {})["session"] = session
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        correlation_id = new_correlation_id()
        correlation_token = correlation_id_var.set(correlation_id)
        client = scope.get("client")
        address_token = client_address_var.set(client[0] if client else "")
        locale_token = i18n.locale_var.set(i18n.chosen_locale(request.cookies.get(i18n.LOCALE_COOKIE)))
        session = self.codec.loads(request.cookies.get(COOKIE_NAME))
        scope.setdefault("state", {})["session"] = session
        await request.app.state.licences.first_read()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers["X-Correlation-Id"] = correlation_id
                # The time to the page's first byte (rendering and gateway calls): the render-time benchmark
                # reads it, and so can anyone in the browser's developer tools.
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                if session.changed:
                    headers.append("Set-Cookie", self._cookie(self.codec.dumps(session)))
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = str(scope["method"])
            PAGE_SECONDS.labels(route, method).observe(elapsed)
            access_log.info(
                "http %s %s",
                method,
                route,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            i18n.locale_var.reset(locale_token)
            client_address_var.reset(address_token)
            correlation_id_var.reset(correlation_token)

    def _cookie(self, value: str) -> str:
        secure = "; Secure" if self.secure_cookies else ""
        return f"{COOKIE_NAME}={value}; Max-Age={MAX_AGE_SECONDS}; Path=/; HttpOnly; SameSite=Lax{secure}"


def create_app(settings: PortalSettings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The portal, calling the gateway at COUNSEL_PORTAL_GATEWAY_URL (or this machine's gateway); `transport`
    replaces the network in tests."""
    gateway_url = settings.portal_gateway_url or f"http://127.0.0.1:{settings.gateway_port}"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.gateway = Gateway(gateway_url, transport)
        app.state.licences = PlatformLicences(app.state.gateway)
        app.state.licences.refresh_when_due()
        try:
            yield
        finally:
            await app.state.licences.stop()
            await app.state.gateway.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.templates = make_templates(i18n.load_translations())
    app.add_middleware(
        PortalMiddleware,
        codec=SessionCodec(settings.secret_key),
        secure_cookies=settings.env == "prod",
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # JSON like the gateway's, which `counsel up` and `counsel status` read.
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """The portal process is alive."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """The portal can serve pages: the gateway it calls answers."""
        if await request.app.state.gateway.alive():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "the gateway does not answer"}, status_code=503)

    @app.exception_handler(SignedOut)
    async def to_login(request: Request, exc: SignedOut) -> Response:
        return redirect(f"/login?next={quote(request.url.path, safe='/')}")

    @app.exception_handler(GatewayError)
    async def gateway_refused(request: Request, exc: GatewayError) -> HTMLResponse:
        return render(request, "error.html", status_code=exc.status, error=exc)

    @app.exception_handler(httpx.HTTPError)
    async def gateway_unavailable(request: Request, exc: httpx.HTTPError) -> HTMLResponse:
        """The gateway failed (a 5xx, a timeout, no answer): a page that says so, not a bare 500."""
        logging.getLogger(__name__).warning("gateway call failed: %s", exc)
        return render(request, "error.html", status_code=502, error=None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        return render(request, "error.html", status_code=exc.status_code, error=None)

    for router in (
        public.router,
        account.router,
        articles.router,
        assignments.router,
        bookings.router,
        calls.router,
        chat.router,
        client.router,
        columns.router,
        complaints.router,
        consultations.router,
        credentials.router,
        documents.router,
        firm.router,
        me.router,
        operator.router,
        products_work.router,
        staff.router,
    ):
        app.include_router(router)
    return app
