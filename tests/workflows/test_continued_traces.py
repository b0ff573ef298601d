"""Traces through a workflow (services/runtime/temporal.py): what the workflow does at once for the request
that started it stays in that request's trace; what it does after a wait (here the 24 h reply clock's
escalations) starts a trace of its own with a span link to the workflow's, so a trace does not grow for days."""

from __future__ import annotations

import uuid
from datetime import timedelta

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.runtime.temporal import ContinuedTraces
from tests.workflows.test_consultation_workflow import FakeConsultationService
from workflows.consultation import ConsultationWorkflow
from workflows.shared import ConsultationWorkflowInput, consultation_workflow_id


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def test_work_after_a_timer_starts_a_trace_linked_to_the_workflows(env: WorkflowEnvironment) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    # The platform's interceptors in the platform's order (connect_temporal) on the test's tracer, and the
    # test server's own (time skipping while a result is awaited).
    config = env.client.config()
    tracing = [ContinuedTraces(tracer), TracingInterceptor(tracer)]
    client = Client(**config | {"interceptors": [*tracing, *config["interceptors"]]})
    service = FakeConsultationService()
    async with Worker(
        client, task_queue="traced", workflows=[ConsultationWorkflow], activities=service.activities
    ):
        consultation_id = uuid.uuid4().hex
        handle = await client.start_workflow(  # by the traced client: the request's trace
            ConsultationWorkflow.run,
            ConsultationWorkflowInput(
                consultation_id=consultation_id,
                tenant_id="tenant-1",
                kind="professional",
                submitted_at=await env.get_current_time(),  # the 24 h clock runs from now
                reply_within=timedelta(hours=24),
                auto_close_after=timedelta(days=7),
            ),
            id=consultation_workflow_id(consultation_id),
            task_queue="traced",
        )
        await handle.result()

    spans = exporter.get_finished_spans()
    (started,) = named(spans, "StartWorkflow:ConsultationWorkflow")
    request_trace = started.context.trace_id
    for at_once in ("RunActivity:consultation.classify", "RunActivity:consultation.assign_lawyer"):
        assert [s.context.trace_id for s in named(spans, at_once)] == [request_trace]

    escalations = named(spans, "RunActivity:consultation.escalate")
    continued = named(spans, "ContinueWorkflow:ConsultationWorkflow")
    assert len(escalations) == len(service.escalations) == 2
    assert len(continued) >= 2  # each escalation, and the stages recorded after the waits
    for escalation in escalations:
        (root,) = [s for s in continued if s.context.span_id == escalation.parent.span_id]
        assert root.parent is None and root.context.trace_id != request_trace
        assert [link.context.trace_id for link in root.links] == [request_trace]
