"""The one gRPC server bootstrap: mutual TLS, the authorization policy, health checking, reflection (dev
only), and the interceptors every service needs."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import SpanKind, StatusCode

from counsel.common.v1 import errors_pb2
from services.runtime.auth import TokenVerifier, bearer_token
from services.runtime.context import (
    CORRELATION_HEADER,
    access_token_var,
    correlation_id_var,
    new_correlation_id,
    principal_var,
)
from services.runtime.errors import DomainError, PermissionDenied, Unauthenticated
from services.runtime.metrics import GRPC_DURATION, GRPC_REQUESTS
from services.runtime.pki import TlsMaterial, identity_of
from services.runtime.policy import USER, Callers, callers_of
from services.runtime.tracing import extract, tracer

ERROR_DETAILS_KEY = "counsel-error-details-bin"
# The statuses that are the server's fault, so its span is marked failed (OpenTelemetry's RPC conventions);
# the others answer a caller's mistake (not found, invalid, denied) and the span is fine.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
access_log = logging.getLogger("counsel.access")
log = logging.getLogger(__name__)

UnaryHandler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def error_trailers(error: DomainError) -> tuple[tuple[str, bytes], ...]:
    details = errors_pb2.ErrorDetails(
        reason=error.reason,
        field_violations=[
            errors_pb2.FieldViolation(field=v.field, message=v.message) for v in error.violations
        ],
        retry_after_seconds=error.retry_after_seconds,
        members=error.members,
    )
    return ((ERROR_DETAILS_KEY, details.SerializeToString()),)


def calling_process(context: grpc.aio.ServicerContext) -> str:
    """The calling process's identity: the SPIFFE ID of the client certificate its mutual-TLS connection
    presented ("" when there is none, or it is not a counsel identity)."""
    for spiffe in context.auth_context().get("peer_spiffe_id", ()):
        return identity_of(spiffe.decode(errors="replace"))
    return ""


def authorize(callers: Callers | None, caller: str, has_token: bool, method: str) -> None:
    """The policy's word on this call (services/runtime/policy.py): Unauthenticated without a counsel
    identity or without the user token the entry asks for, PermissionDenied for a caller it does not name."""
    if not caller:
        raise Unauthenticated("connect with a counsel service certificate (mutual TLS)")
    if callers is None or caller not in callers:
        raise PermissionDenied(f"{caller} may not call {method}", reason="caller_not_allowed")
    if callers[caller] == USER and not has_token:
        raise Unauthenticated(f"{method} is called on behalf of a signed-in user; send their token")


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Per call: opens the call's span (a child of the caller's trace), adopts the caller's correlation id, decides whether the calling process may make this call
    (its mutual-TLS identity against the policy table), verifies the user's token into the principal
    context, records RED metrics and one JSON access-log line, and maps DomainError to a status with
    `ErrorDetails` in the trailers. Any other exception is logged and answered INTERNAL without details."""

    def __init__(self, service: str, verifier: TokenVerifier | None) -> None:
        self.service = service
        self.verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or (handler.unary_unary is None and handler.unary_stream is None):
            return handler
        full_method: str = handler_call_details.method
        metadata = dict(handler_call_details.invocation_metadata or ())
        if full_method.startswith("/grpc.health.") or full_method.startswith("/grpc.reflection."):
            return handler
        callers = callers_of(full_method)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(cast(StreamHandler, handler.unary_stream), full_method, metadata, callers),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        wrapped = self._wrap(cast(UnaryHandler, handler.unary_unary), full_method, metadata, callers)
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(
        self, inner: UnaryHandler, full_method: str, metadata: dict[str, Any], callers: Callers | None
    ) -> UnaryHandler:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self._call(full_method, metadata, context, callers):
                return await inner(request, context)
            raise AssertionError("unreachable: _call never swallows an error")  # pragma: no cover

        return handle

    def _wrap_stream(
        self, inner: StreamHandler, full_method: str, metadata: dict[str, Any], callers: Callers | None
    ) -> StreamHandler:
        """The same for a server-streaming call: the principal holds for the whole stream, and an error
        after some messages still ends the call with its status and details."""

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with self._call(full_method, metadata, context, callers):
                async for reply in inner(request, context):
                    yield reply

        return handle

    @contextlib.asynccontextmanager
    async def _call(
        self,
        full_method: str,
        metadata: dict[str, Any],
        context: grpc.aio.ServicerContext,
        callers: Callers | None,
    ) -> AsyncIterator[None]:
        # The call's span, a child of the caller's (its `traceparent` metadata), around everything the call
        # does and logs.
        with tracer().start_as_current_span(
            full_method.lstrip("/"),
            context=extract(metadata),
            kind=SpanKind.SERVER,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            method = full_method.rsplit("/", 1)[-1]
            correlation_token = correlation_id_var.set(
                str(metadata.get(CORRELATION_HEADER) or new_correlation_id())
            )
            principal_token = principal_var.set(None)
            access_token_token = access_token_var.set("")
            caller = calling_process(context)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                token = bearer_token(metadata.get("authorization"))
                authorize(callers, caller, bool(token), f"{self.service}.{method}")
                if token and self.verifier is not None:
                    principal_var.set(await self.verifier.verify(token))
                    access_token_var.set(token)  # forwarded when this call makes calls of its own
                yield
            except DomainError as error:
                code = error.code
                await context.abort(code, error.message, trailing_metadata=error_trailers(error))
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[assignment]
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s.%s", self.service, method)
                await context.abort(code, "internal error")
            finally:
                elapsed = time.perf_counter() - started
                if span.is_recording():
                    span.set_attributes(
                        {
                            "rpc.system": "grpc",
                            "rpc.method": full_method,
                            "rpc.grpc.status_code": code.value[0],
                        }
                    )
                    if code in SERVER_FAULTS:
                        span.set_status(StatusCode.ERROR, code.name)
                GRPC_REQUESTS.labels(self.service, method, code.name).inc()
                GRPC_DURATION.labels(self.service, method).observe(elapsed)
                access_log.info(
                    "grpc %s",
                    method,
                    extra={
                        "rpc": method,
                        "caller": caller,
                        "code": code.name,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
                access_token_var.reset(access_token_token)
                principal_var.reset(principal_token)
                correlation_id_var.reset(correlation_token)


class GrpcServer:
    """A grpc.aio server on mutual TLS with health (and reflection where enabled). Add servicers, then
    `start()`; `stop()` drains. Only a client whose certificate the counsel authority signed can connect;
    which calls it may make is the policy's to say (ServiceInterceptor).

    With `health_listen`, the health service alone is also served without TLS there: Kubernetes' gRPC
    probes cannot present a certificate. It answers nothing but SERVING / NOT_SERVING."""

    def __init__(
        self,
        service: str,
        listen: str,
        verifier: TokenVerifier | None,
        tls: TlsMaterial,
        *,
        reflection: bool = False,
        health_listen: str = "",
    ) -> None:
        self.service = service
        self.listen = listen
        self.tls = tls
        self.reflection = reflection
        self.health_listen = health_listen
        options = [("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 32 * 1024 * 1024)]
        self.server = grpc.aio.server(interceptors=[ServiceInterceptor(service, verifier)], options=options)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.probe_server: grpc.aio.Server | None = None
        if health_listen:
            self.probe_server = grpc.aio.server(options=options)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.probe_server)
        self.service_names: list[str] = []
        self.port = 0

    def add(self, servicer: Any, messages: ModuleType, stubs: ModuleType) -> None:
        """Serve `servicer` for every service its proto file declares — the public service and, where the
        file has one, the internal one beside it — e.g. `add(PaymentServicer(…), payment_service_pb2,
        payment_service_pb2_grpc)`. Who may call which of them is the policy's to say."""
        for service in messages.DESCRIPTOR.services_by_name.values():
            register = getattr(stubs, f"add_{service.name}Servicer_to_server")
            register(servicer, self.server)
            self.service_names.append(service.full_name)

    async def start(self) -> int:
        if self.reflection:
            reflection.enable_server_reflection(
                [
                    *self.service_names,
                    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                    reflection.SERVICE_NAME,
                ],
                self.server,
            )
        credentials = grpc.ssl_server_credentials(
            [(self.tls.key, self.tls.cert)], root_certificates=self.tls.ca, require_client_auth=True
        )
        self.port = self.server.add_secure_port(self.listen, credentials)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.listen} (is the port already in use?)")
        if self.probe_server is not None and self.probe_server.add_insecure_port(self.health_listen) == 0:
            raise OSError(f"cannot listen on {self.health_listen} (is the port already in use?)")
        await self.server.start()
        if self.probe_server is not None:
            await self.probe_server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def report_dependencies(self, dependencies: dict[str, bool], *, ready: bool) -> None:
        """Readiness: the full service names are SERVING while `ready` (the process can serve; see
        ServiceRuntime.readiness), and each dependency has its own entry (`postgres`, `nats`, `temporal`) for
        the aggregate view (`/readyz?verbose=1`, `counsel status`). The empty name stays SERVING while the
        process runs, so liveness probes do not restart a pod because its database is away."""

        def status(ok: bool) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
            return (
                health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            )

        for name, ok in dependencies.items():
            await self.health.set(name, status(ok))
        for name in self.service_names:
            await self.health.set(name, status(ready))

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.probe_server is not None:
            await self.probe_server.stop(0)
