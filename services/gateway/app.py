"""The gateway's FastAPI application. Nothing is built at import time: call `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.gateway.call_signals import SignalRelay
from services.gateway.chat_waker import ChatWaker
from services.gateway.clients import Clients, Connections
from services.gateway.config import GatewaySettings
from services.gateway.docs import add_docs
from services.gateway.export_files import ExportFiles
from services.gateway.firm_endpoint import start_firm_endpoint
from services.gateway.limits import BodyLimit, RequestLimits
from services.gateway.middleware import RequestMiddleware
from services.gateway.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from services.gateway.routes import (
    auth,
    booking,
    calls,
    catalog,
    chat,
    codec,
    complaints,
    consultations,
    content,
    dev,
    documents,
    enterprise,
    health,
    major_matters,
    me,
    notifications,
    onboarding,
    orders,
    payments,
    quality,
    recommendations,
    telephony,
)
from services.gateway.routing import PROBLEM_RESPONSES, add_routes
from services.runtime.auth import TokenVerifier
from services.runtime.service import token_verifier


def _serve_problems_as_problem_json(app: FastAPI) -> None:
    """FastAPI documents every extra response under the route's media type (application/json); problems
    are application/problem+json, so the generated document is corrected once, when first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


# Seconds a firm's in-flight calls get to finish at shutdown; open WatchFirmEvents streams are then ended and
# the firms' systems resume from their cursors on another gateway.
FIRM_SHUTDOWN_GRACE_SECONDS = 5.0


def create_app(
    settings: GatewaySettings, clients: Clients | None = None, *, verifier: TokenVerifier | None = None
) -> FastAPI:
    """The gateway app. Without `clients`, its lifespan opens one gRPC channel per peer service and closes
    them on shutdown, and serves the firm endpoint over the same channels (services/gateway/firm_endpoint.py);
    with `clients` (tests), those are used as they are. Without `verifier`, tokens are verified against
    identity's JWKS fetched over gRPC."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if clients is not None:
            yield
            return
        connections = Connections(settings)
        app.state.clients = connections.clients
        app.state.inbox_waker = await notifications.InboxWaker.connect(settings)
        app.state.chat_waker = await ChatWaker.connect(settings)
        app.state.call_signals = await SignalRelay.connect(settings)
        app.state.export_files = await ExportFiles.connect(settings)
        firms = await start_firm_endpoint(settings, connections.channels, app.state.verifier)
        try:
            yield
        finally:
            if firms is not None:
                await firms.stop(FIRM_SHUTDOWN_GRACE_SECONDS)
            app.state.clients = None
            await connections.close()
            if app.state.inbox_waker is not None:
                await app.state.inbox_waker.close()
            if app.state.chat_waker is not None:
                await app.state.chat_waker.close()
            await app.state.call_signals.close()
            if app.state.export_files is not None:
                await app.state.export_files.close()

    app = FastAPI(
        title="counsel API",
        version="1",
        description="The public HTTP API of counsel (see API.md). Errors are application/problem+json.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # add_docs: served without a CDN
        redoc_url=None,
        responses=PROBLEM_RESPONSES,  # type: ignore[arg-type]
        # Metrics are Prometheus (RequestMiddleware) and logs are JSON lines; FastAPI's built-in
        # OpenTelemetry would look up the global providers on every request although none is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.clients = clients
    app.state.inbox_waker = None  # the inbox stream's wake-up from the event bus, opened by the lifespan
    app.state.chat_waker = None  # the chat sockets' wake-up from the event bus, opened by the lifespan
    # Online calls' signalling between gateway processes (over NATS once the lifespan connects it).
    app.state.call_signals = SignalRelay(settings)
    app.state.export_files = (
        None  # the exports bucket (services/gateway/export_files.py), opened by the lifespan
    )
    app.state.export_tasks = set()  # exports being produced in the background
    app.state.verifier = verifier or token_verifier(settings)
    _serve_problems_as_problem_json(app)
    install_problem_handlers(app)
    # Starlette runs the last added outermost: the access log and metrics see what the limits refused.
    app.add_middleware(
        RequestLimits,
        settings=settings,
        body_limits=[
            BodyLimit(documents.DRAFT_UPLOAD_PATH, documents.MAX_UPLOAD_REQUEST_BYTES),
            BodyLimit(payments.NOTIFICATION_PATH, payments.MAX_NOTIFICATION_BYTES),
            BodyLimit(onboarding.AGREEMENT_PATH, onboarding.MAX_AGREEMENT_REQUEST_BYTES),
            BodyLimit(onboarding.CREDENTIALS_PATH, onboarding.MAX_CREDENTIALS_REQUEST_BYTES),
            BodyLimit(telephony.RECEIPT_PATH, telephony.MAX_RECEIPT_BYTES),
        ],
    )
    app.add_middleware(RequestMiddleware)

    add_routes(
        app,
        health.router,
        auth.router,
        me.router,
        enterprise.router,
        # Before catalog's: GET /api/v1/lawyers/{lawyer_id} would take /api/v1/lawyers/credentials.
        onboarding.router,
        catalog.router,
        content.router,
        consultations.router,
        major_matters.router,
        complaints.router,
        chat.router,
        calls.router,
        notifications.router,
        orders.router,
        payments.router,
        recommendations.router,
        telephony.router,
        documents.router,
        booking.router,
        quality.router,
        codec.router,
    )
    if settings.dev_routes:  # never in prod (the default): they need no authentication
        add_routes(app, dev.router, payments.dev_router)
    add_docs(app)
    return app
