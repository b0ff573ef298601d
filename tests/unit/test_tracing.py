"""Traces (services/runtime/tracing.py): the trace context an event's envelope keeps is the one its consumer
continues, log lines name their trace, and a process without a collector records nothing."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from counsel.common.v1.event_pb2 import EventEnvelope
from services.runtime.config import load_settings
from services.runtime.logs import JsonFormatter
from services.runtime.tracing import (
    configure_tracing,
    current_trace_ids,
    extract,
    inject,
    process_resource,
    tracing_on,
)

pytestmark = pytest.mark.unit

# A provider of the test's own: spans are recorded without installing a process-wide provider.
TRACER = TracerProvider().get_tracer("test")


def test_the_trace_context_survives_the_envelope_round_trip() -> None:
    with TRACER.start_as_current_span("commit") as committing:
        envelope = EventEnvelope(id="e-1", type="consultation.submitted")
        inject(envelope.trace_context)
    received = EventEnvelope.FromString(envelope.SerializeToString())

    with TRACER.start_as_current_span("process", context=extract(received.trace_context)) as consuming:
        parent = consuming.parent  # type: ignore[attr-defined]
    assert consuming.get_span_context().trace_id == committing.get_span_context().trace_id
    assert parent is not None and parent.span_id == committing.get_span_context().span_id


def test_an_untraced_change_leaves_the_envelope_without_context() -> None:
    envelope = EventEnvelope(id="e-1")
    inject(envelope.trace_context)
    assert dict(envelope.trace_context) == {}
    assert not trace.get_current_span(extract(envelope.trace_context)).get_span_context().is_valid


def test_log_lines_carry_the_trace_and_span_ids_inside_a_span_only() -> None:
    formatter = JsonFormatter("consultation")
    record = logging.makeLogRecord({"msg": "assigned", "levelno": logging.INFO, "levelname": "INFO"})
    assert "trace_id" not in json.loads(formatter.format(record))
    with TRACER.start_as_current_span("call") as span:
        line = json.loads(formatter.format(record))
        assert current_trace_ids() == (line["trace_id"], line["span_id"])
    assert line["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
    assert line["span_id"] == trace.format_span_id(span.get_span_context().span_id)


def test_without_a_collector_nothing_is_recorded() -> None:
    configure_tracing(load_settings(env="test", otel_exporter_otlp_endpoint=""), "consultation")
    assert not tracing_on()
    with trace.get_tracer("counsel").start_as_current_span("call") as span:
        assert not span.is_recording()
    assert current_trace_ids() is None


def test_each_process_names_itself_in_its_spans() -> None:
    attributes = process_resource(load_settings(env="test"), "worker").attributes
    assert attributes["service.name"] == "counsel-worker"
    assert attributes["service.namespace"] == "counsel"
    assert attributes["deployment.environment.name"] == "test"
