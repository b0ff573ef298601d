"""The one tracing bootstrap: OpenTelemetry spans that follow a client request and its asynchronous
consequences as one trace — gateway → gRPC → the outbox (the envelope keeps the trace context) → consumers →
Temporal (the SDK's interceptor) → activities → gRPC.

Spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT names a collector (Jaeger, Tempo, an
OpenTelemetry Collector); the exporter reads the other standard OTEL_EXPORTER_OTLP_* variables (headers,
certificate, timeout) itself, the SDK OTEL_TRACES_SAMPLER and OTEL_RESOURCE_ATTRIBUTES. Without it the API's
no-op tracer stays: a span is a function call that records nothing, and no context is generated to pass on."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, MutableMapping
from importlib.metadata import version
from typing import TYPE_CHECKING

from opentelemetry import context, propagate, trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

from services.runtime.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

TRACER_NAME = "counsel"
# Where OTLP/HTTP receivers take spans, below the collector's base URL (the OTLP specification's path).
OTLP_TRACES_PATH = "/v1/traces"


def configure_tracing(settings: Settings, process: str) -> None:
    """Export this process's spans when OTEL_EXPORTER_OTLP_ENDPOINT is set, as `counsel-<process>`. The SDK
    takes one provider per process (a second is ignored), so a provider already installed — by an earlier
    call, or a test's in-memory one — is kept."""
    if not settings.otel_exporter_otlp_endpoint or tracing_on():
        return
    # Imported here: a process that exports nothing never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=process_resource(settings, process))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + OTLP_TRACES_PATH
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)


def process_resource(settings: Settings, process: str) -> Resource:
    """What a trace backend shows a span came from: `counsel-<process>` in the `counsel` namespace, this
    release, this environment, this host and process; OTEL_RESOURCE_ATTRIBUTES adds more (pod, node)."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create(
        {
            "service.name": f"counsel-{process}",
            "service.namespace": "counsel",
            "service.version": version("counsel"),
            "service.instance.id": f"{socket.gethostname()}-{os.getpid()}",
            "deployment.environment.name": settings.env,
        }
    )


def tracing_on() -> bool:
    """Whether this process records spans: an SDK provider is installed (configure_tracing, or a test)."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider | NoOpTracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Add the current trace context to `carrier` (W3C `traceparent`, `tracestate`); nothing without one."""
    propagate.inject(carrier)


def extract(carrier: Mapping[str, str]) -> context.Context:
    """The trace context `carrier` brings (an empty one when it brings none), to start a child span in."""
    return propagate.extract(carrier)


def current_trace_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, as trace backends show them; None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return trace.format_trace_id(span_context.trace_id), trace.format_span_id(span_context.span_id)
