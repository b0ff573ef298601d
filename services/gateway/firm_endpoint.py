"""The firm endpoint: counsel's gRPC API for law firms' systems (issue 17 item 4; docs/integrating.md).

Firms integrate against the same protos the services serve, on one TLS port of the gateway process
(`COUNSEL_FIRM_GRPC_PORT`), which is the only gRPC entry reachable from outside. A firm's system proves
itself with a service token (IdentityService.IssueServiceToken: client credentials of its firm, rotated and
revoked by the firm's admin), sent as `authorization: Bearer` on every call. The endpoint

- answers only the firm-facing RPCs (services/runtime/policy.FIRM_ENDPOINT) and UNIMPLEMENTED for any other
  method, so the surface a firm sees is exactly what it may call;
- refuses a call without a firm's token (UNAUTHENTICATED) or with anyone else's (PERMISSION_DENIED: end users
  use the HTTP API), and limits each token's rate (RESOURCE_EXHAUSTED with retry_after_seconds);
- forwards the call's bytes unchanged to the owning service over the gateway's own mutual-TLS channel, with
  the firm's token, so the service decides with the same policy, roles and firm scope as for any caller, and
  passes the service's status, message and error details back as they are.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from opentelemetry.trace import Span, SpanKind

from services.gateway.config import GatewaySettings
from services.gateway.limits import TokenBuckets
from services.runtime.auth import TokenVerifier, bearer_token
from services.runtime.config import SettingsError
from services.runtime.context import access_token_var, correlation_id_var, new_correlation_id
from services.runtime.errors import (
    DomainError,
    InvalidArgument,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from services.runtime.grpc_server import error_trailers
from services.runtime.limits import text_problem
from services.runtime.metrics import GRPC_DURATION, GRPC_REQUESTS
from services.runtime.policy import FIRM_ENDPOINT, FIRM_TOKEN_EXCHANGE, service_descriptors
from services.runtime.tracing import tracer

log = logging.getLogger(__name__)
access_log = logging.getLogger("counsel.access")

# The longest one WatchFirmEvents stream (or any call without a deadline of its own) stays open; the firm's
# system then resumes from its last cursor, as after any disconnect.
LONGEST_CALL_SECONDS = 3600.0
METRICS_NAME = "firm_endpoint"


def firm_methods() -> dict[str, MethodDescriptor]:
    """Every method the endpoint forwards (`/package.Service/Method`) → its descriptor."""
    methods = {
        f"/{service.full_name}/{method.name}": method
        for service in service_descriptors()
        for method in service.methods
    }
    return {
        f"/{service}/{method}": methods[f"/{service}/{method}"]
        for service, names in FIRM_ENDPOINT.items()
        for method in names
    }


def unstorable_field(message: Message, prefix: str = "") -> tuple[str, str] | None:
    """The first text field of a request no service could store (services.runtime.limits.text_problem: a
    NUL), as (dotted field path, why), or None. The firm endpoint is the one place requests arrive over gRPC
    from outside, so it checks here what the HTTP gateway checks on every route."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entries = [(f"{path}.{key}", key, item) for key, item in value.items()]
        elif field.is_repeated:
            entries = [(f"{path}.{index}", None, item) for index, item in enumerate(value)]
        else:
            entries = [(path, None, value)]
        for where, key, item in entries:
            for text in (key, item):
                problem = text_problem(text) if isinstance(text, str) else None
                if problem is not None:
                    return where, problem
            if isinstance(item, Message):
                found = unstorable_field(item, f"{where}.")
                if found is not None:
                    return found
    return None


def owning_service(method: str) -> str:
    """`/counsel.booking.v1.BookingService/GetBooking` → "booking"."""
    return method.split(".")[1]


class FirmEndpoint(grpc.GenericRpcHandler):
    """The generic handler behind the firm endpoint's server: one forwarding behaviour per firm-facing method."""

    def __init__(
        self,
        channels: Mapping[str, grpc.aio.Channel],
        verifier: TokenVerifier,
        *,
        rate_per_token: float,
        burst_per_token: int,
    ) -> None:
        self.channels = channels
        self.verifier = verifier
        self.methods = firm_methods()
        self.requests = {
            path: message_factory.GetMessageClass(method.input_type) for path, method in self.methods.items()
        }
        self.buckets = TokenBuckets(rate_per_token, burst_per_token) if rate_per_token > 0 else None

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        descriptor = self.methods.get(method)
        if descriptor is None:
            return None  # UNIMPLEMENTED: not part of what a firm may call
        if descriptor.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream(method))
        return grpc.unary_unary_rpc_method_handler(self._unary(method))

    def _unary(self, method: str) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]:
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            with firm_call_span(method):
                async with self._forwarding(method, request, context) as timeout:
                    call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
                    call = self.channels[owning_service(method)].unary_unary(method)
                    reply: bytes = await call(request, timeout=timeout)
                    return reply
            raise AssertionError("unreachable: _forwarding never swallows an error")  # pragma: no cover

        return forward

    def _stream(self, method: str) -> Callable[[bytes, grpc.aio.ServicerContext], AsyncIterator[bytes]]:
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            with firm_call_span(method):
                async with self._forwarding(method, request, context) as timeout:
                    call: grpc.aio.UnaryStreamMultiCallable[bytes, bytes]
                    call = self.channels[owning_service(method)].unary_stream(method)
                    async for reply in call(request, timeout=timeout):
                        yield reply

        return forward

    async def authenticate(self, method: str, context: grpc.aio.ServicerContext) -> str:
        """The firm's token (verified, role firm_service), or "" for the token exchange."""
        authorization = dict(context.invocation_metadata() or ()).get("authorization")
        token = bearer_token(authorization if isinstance(authorization, str) else None)
        if method == FIRM_TOKEN_EXCHANGE:
            return ""
        if not token:
            raise Unauthenticated(
                "send the token IssueServiceToken gave your firm as 'authorization: Bearer'"
            )
        principal = await self.verifier.verify(token)
        if not principal.is_firm_system:
            raise PermissionDenied(
                "this endpoint serves law firms' systems (a service token); people use the HTTP API"
            )
        if self.buckets is not None:
            wait = self.buckets.take(principal.user_id)
            if wait > 0:
                raise RateLimited("too many calls; slow down", retry_after_seconds=max(1, math.ceil(wait)))
        return token

    def check_request(self, method: str, request: bytes) -> None:
        """INVALID_ARGUMENT naming the field for a request that does not parse as the method's message or
        carries text no service could store; the services then never meet either."""
        try:
            message = self.requests[method].FromString(request)
        except DecodeError:
            raise InvalidArgument(
                f"the request is not a {self.requests[method].DESCRIPTOR.full_name}"
            ) from None
        found = unstorable_field(message)
        if found is not None:
            raise InvalidArgument.for_field(*found)

    @contextlib.asynccontextmanager
    async def _forwarding(
        self, method: str, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[float]:
        """One forwarded call: authenticated, carrying the firm's token and a fresh correlation id, within
        the caller's deadline (at most LONGEST_CALL_SECONDS); the service's status, message and error details
        passed back as they are; metrics and one access-log line."""
        started, code = time.perf_counter(), grpc.StatusCode.OK
        correlation = correlation_id_var.set(new_correlation_id())
        token = access_token_var.set("")
        remaining = context.time_remaining()
        try:
            access_token_var.set(await self.authenticate(method, context))
            self.check_request(method, request)
            yield LONGEST_CALL_SECONDS if remaining is None else min(remaining, LONGEST_CALL_SECONDS)
        except DomainError as error:
            code = error.code
            await context.abort(code, error.message, trailing_metadata=error_trailers(error))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            passed_back = tuple(error.trailing_metadata() or ())  # abort() takes no grpc.aio.Metadata
            await context.abort(code, error.details() or "", trailing_metadata=passed_back)
        except grpc.aio.AbortError:
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("forwarding %s failed", method)
            await context.abort(code, "internal error")
        finally:
            rpc = method.rsplit("/", 1)[-1]
            elapsed = time.perf_counter() - started
            GRPC_REQUESTS.labels(METRICS_NAME, rpc, code.name).inc()
            GRPC_DURATION.labels(METRICS_NAME, rpc).observe(elapsed)
            access_log.info(
                "firm %s",
                rpc,
                extra={
                    "rpc": rpc,
                    "caller": "firm",
                    "code": code.name,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            access_token_var.reset(token)
            correlation_id_var.reset(correlation)


def firm_call_span(method: str) -> AbstractContextManager[Span]:
    """A firm's call is the root of its trace, like a request to the HTTP API: the firm's own `traceparent`
    is not adopted (it could splice its calls into others' traces)."""
    return tracer().start_as_current_span(
        f"firm {method.lstrip('/')}",
        kind=SpanKind.SERVER,
        record_exception=False,  # an abort with the service's status is how a call ends, not a fault
        set_status_on_exception=False,
    )


def firm_credentials(settings: GatewaySettings) -> grpc.ServerCredentials:
    """Server-side TLS for the firm endpoint: the public certificate named in the settings, or this process's
    own. Firms authenticate with tokens, so no client certificate is asked for."""
    if bool(settings.firm_tls_cert_file) != bool(settings.firm_tls_key_file):
        raise SettingsError("COUNSEL_FIRM_TLS_CERT_FILE and COUNSEL_FIRM_TLS_KEY_FILE go together")
    if settings.firm_tls_cert_file:
        try:
            cert = Path(settings.firm_tls_cert_file).read_bytes()
            key = Path(settings.firm_tls_key_file).read_bytes()
        except OSError as exc:
            raise SettingsError(f"cannot read the firm endpoint's TLS files: {exc}") from exc
    else:
        material = settings.tls()
        cert, key = material.cert, material.key
    return grpc.ssl_server_credentials([(key, cert)], require_client_auth=False)


async def start_firm_endpoint(
    settings: GatewaySettings, channels: Mapping[str, grpc.aio.Channel], verifier: TokenVerifier
) -> grpc.aio.Server | None:
    """Listen on the firm endpoint's port (None when it is turned off) and return the started server."""
    if not settings.firm_grpc_port:
        return None
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(
        (
            FirmEndpoint(
                channels,
                verifier,
                rate_per_token=settings.firm_rate_per_token,
                burst_per_token=settings.firm_burst_per_token,
            ),
        )
    )
    address = f"{settings.gateway_host}:{settings.firm_grpc_port}"
    if server.add_secure_port(address, firm_credentials(settings)) == 0:
        raise OSError(f"cannot listen on {address} (is the port already in use?)")
    await server.start()
    log.info("firm endpoint listening on %s", address)
    return server
