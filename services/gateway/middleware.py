"""Per request: its trace's root span, the correlation id, RED metrics per route template, one JSON access-log line, and a
problem+json 500 for anything nobody handled. A plain ASGI middleware, so context variables set here are
seen by the route and by the gRPC client interceptor."""

from __future__ import annotations

import logging
import re
import time

from opentelemetry.trace import Span, SpanKind, StatusCode
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.problems import internal_error
from services.runtime.context import (
    CORRELATION_HEADER,
    access_token_var,
    correlation_id_var,
    new_correlation_id,
    principal_var,
)
from services.runtime.metrics import HTTP_DURATION, HTTP_REQUESTS
from services.runtime.tracing import tracer

access_log = logging.getLogger("counsel.access")
log = logging.getLogger(__name__)

# A caller's correlation id is adopted only when it cannot smuggle anything into logs or headers.
_SAFE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Label for requests that matched no route, so probing random paths cannot explode metric cardinality.
UNMATCHED_ROUTE = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched path template (`/api/v1/products/{product_id}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Each request is the root of its trace: a public caller's `traceparent` is not adopted (it could
        # splice its requests into others' traces). Named by its route once routing has matched one.
        with tracer().start_as_current_span(
            "HTTP", kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
        ) as span:
            await self._handle(scope, receive, send, span)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, span: Span) -> None:
        incoming = Headers(scope=scope).get(CORRELATION_HEADER, "")
        correlation_id = incoming if _SAFE_CORRELATION_ID.fullmatch(incoming) else new_correlation_id()
        correlation_token = correlation_id_var.set(correlation_id)
        access_token_token = access_token_var.set("")
        principal_token = principal_var.set(None)
        status = 500
        response_started = False

        async def send_with_correlation_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Correlation-Id"] = correlation_id
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_correlation_id)
        except Exception:
            log.exception(
                "unhandled error", extra={"route": route_template(scope), "method": scope["method"]}
            )
            if response_started:
                status = 500
            else:
                await internal_error()(scope, receive, send_with_correlation_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = str(scope["method"])
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_DURATION.labels(route, method).observe(elapsed)
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
            if span.is_recording():
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {"http.request.method": method, "http.route": route, "http.response.status_code": status}
                )
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
            principal_var.reset(principal_token)
            access_token_var.reset(access_token_token)
            correlation_id_var.reset(correlation_token)
