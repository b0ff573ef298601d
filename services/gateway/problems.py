"""RFC 9457 problem+json for every error the gateway answers. This is the only place that maps gRPC
statuses (and the runtime's DomainErrors) to HTTP statuses."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from counsel.common.v1 import errors_pb2
from services.gateway.validation import printable
from services.runtime.errors import DomainError
from services.runtime.grpc_server import ERROR_DETAILS_KEY
from services.runtime.limits import SURROGATE_MESSAGE

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://counsel.local/problems/"
# Seconds a client should wait before retrying a rate-limited call or one that met an unavailable dependency.
RATE_LIMIT_RETRY_AFTER = 1
UNAVAILABLE_RETRY_AFTER = 2

# gRPC status → (HTTP status, reason used when the service sent no ErrorDetails). Codes not listed are bugs
# (INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS, ...) and become a 500 without details.
GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid_argument"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "invalid_argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already_exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict"),
    grpc.StatusCode.ABORTED: (409, "conflict"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "permission_denied"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limited"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "unavailable"),
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.CANCELLED: (503, "unavailable"),
}
# For these the service's message is not meant for clients (it names hosts and transport errors).
_GENERIC_DETAIL = {
    503: "A service this request depends on is unavailable; retry later.",
}


def problem(
    status: int,
    detail: str = "",
    *,
    reason: str | None = None,
    errors: Sequence[dict[str, str]] = (),
    headers: dict[str, str] | None = None,
    members: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response. `reason` (lower snake case) becomes the problem `type` URI; `members` are
    extension members (RFC 9457 §3.2) added beside the standard ones, never in their place. Field names and
    messages may echo what a client sent (a misspelt field's name); unpaired surrogates in them are replaced,
    as they cannot be encoded."""
    phrase = HTTPStatus(status).phrase
    reason = (reason or phrase.replace(" ", "_")).lower()
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + reason,
        "title": phrase,
        "status": status,
        "detail": printable(detail or phrase),
    }
    if errors:
        body["errors"] = [{key: printable(value) for key, value in error.items()} for error in errors]
    for key, value in (members or {}).items():
        body.setdefault(key, printable(value))
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    if status == 429:
        all_headers.setdefault("Retry-After", str(RATE_LIMIT_RETRY_AFTER))
    if status == 503:
        all_headers.setdefault("Retry-After", str(UNAVAILABLE_RETRY_AFTER))
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_MEDIA_TYPE)


def internal_error() -> JSONResponse:
    """The answer to any unexpected exception: no traceback, no exception text (it is logged instead)."""
    return problem(500, "An unexpected error occurred; it has been logged.", reason="internal_error")


def _field_path(loc: Iterable[Any]) -> str:
    parts = [str(part) for part in loc]
    # FastAPI prefixes the request part the value came from; clients know fields by their own names.
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    raw = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in raw):
        message = next(
            (
                str(e.get("ctx", {}).get("error") or e.get("msg"))
                for e in raw
                if e.get("type") == "json_invalid"
            ),
            "JSON decode error",
        )
        return problem(
            400,
            "The request body is not valid JSON.",
            reason="malformed_request",
            errors=[{"field": "body", "message": message}],
        )
    errors = []
    for error in raw:
        field = _field_path(error.get("loc", ()))
        message = str(error.get("msg", "is not valid"))
        if error.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif error.get("type") == "string_unicode":  # pydantic's word for a lone surrogate in a str field
            message = SURROGATE_MESSAGE
        errors.append({"field": field, "message": message})
    return problem(422, "The request is not valid.", reason="validation_error", errors=errors)


def _error_details(exc: grpc.aio.AioRpcError) -> errors_pb2.ErrorDetails:
    details = errors_pb2.ErrorDetails()
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_DETAILS_KEY and isinstance(value, bytes):
            try:
                details.ParseFromString(value)
            except Exception:  # a garbled trailer must not turn a clear status into a 500
                log.warning("unreadable %s trailer", ERROR_DETAILS_KEY)
            break
    return details


def grpc_problem(exc: grpc.aio.AioRpcError) -> JSONResponse:
    code = exc.code()
    mapped = GRPC_TO_HTTP.get(code)
    if mapped is None:
        log.error("peer answered %s", code.name, extra={"grpc_code": code.name})
        return internal_error()
    status, default_reason = mapped
    if status >= 500:
        log.warning("peer answered %s", code.name, extra={"grpc_code": code.name})
    details = _error_details(exc)
    errors = [{"field": v.field, "message": v.message} for v in details.field_violations]
    detail = _GENERIC_DETAIL.get(status) or exc.details() or ""
    headers = {"Retry-After": str(details.retry_after_seconds)} if details.retry_after_seconds > 0 else None
    return problem(
        status,
        detail,
        reason=details.reason or default_reason,
        errors=errors,
        headers=headers,
        members=details.members,
    )


def domain_problem(error: DomainError) -> JSONResponse:
    """The gateway's own refusals (no token, missing role) use the runtime's errors and the same table."""
    status, _ = GRPC_TO_HTTP.get(error.code, (500, "internal_error"))
    if status >= 500:
        return internal_error()
    errors = [{"field": v.field, "message": v.message} for v in error.violations]
    headers = {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds > 0 else None
    return problem(
        status, error.message, reason=error.reason, errors=errors, headers=headers, members=error.members
    )


def http_problem(exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code >= 500:
        return internal_error()
    detail = (
        exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase else ""
    )
    if exc.status_code == 404 and not detail:
        detail = "There is no such resource."
    return problem(exc.status_code, detail, headers=dict(exc.headers or {}))


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers; unexpected exceptions are answered by the request middleware with
    `internal_error()` so that they are counted and logged once."""

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_problem(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return http_problem(exc)

    async def on_grpc(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, grpc.aio.AioRpcError)
        return grpc_problem(exc)

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return domain_problem(exc)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(grpc.aio.AioRpcError, on_grpc)
    app.add_exception_handler(DomainError, on_domain)
