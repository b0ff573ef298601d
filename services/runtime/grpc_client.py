"""The one way to call a peer service: a mutual-TLS channel whose calls carry the correlation id, the trace
context and the caller's token and always have a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from services.runtime.context import CORRELATION_HEADER, access_token_var, current_correlation_id
from services.runtime.pki import TlsMaterial
from services.runtime.tracing import inject


def _propagating(details: grpc.aio.ClientCallDetails, default_timeout: float) -> grpc.aio.ClientCallDetails:
    metadata = list(details.metadata or [])
    keys = {key for key, _ in metadata}
    correlation_id = current_correlation_id()
    if correlation_id and CORRELATION_HEADER not in keys:
        metadata.append((CORRELATION_HEADER, correlation_id))
    token = access_token_var.get()
    if token and "authorization" not in keys:
        metadata.append(("authorization", f"Bearer {token}"))
    trace_context: dict[str, str] = {}
    inject(trace_context)
    metadata.extend(trace_context.items())
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else default_timeout,
        metadata=grpc.aio.Metadata(*metadata),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class PropagatingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_propagating(client_call_details, self.default_timeout), request)


class PropagatingStreamInterceptor(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """The same for server-streaming calls (e.g. a document download); the deadline bounds the whole stream."""

    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_propagating(client_call_details, self.default_timeout), request)


def open_channel(address: str, tls: TlsMaterial, *, default_timeout: float = 10.0) -> grpc.aio.Channel:
    """A mutual-TLS channel to a counsel service: this process presents its own certificate (its identity)
    and accepts only a server certificate the counsel authority signed for the address it dials."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )
    return grpc.aio.secure_channel(
        address,
        credentials,
        interceptors=[PropagatingInterceptor(default_timeout), PropagatingStreamInterceptor(default_timeout)],
        options=[("grpc.enable_retries", 1), ("grpc.keepalive_time_ms", 30_000)],
    )
