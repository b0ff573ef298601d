"""One trace per client request and its asynchronous consequences (issue 21 item 3): a consultation's
submission over HTTP, its classification and assignment by the workflow's activities, and its first
notification share one trace id — across the gateway, gRPC, the outbox and NATS, Temporal and the
activities' gRPC calls. The whole platform (`counsel up`) exports its spans over OTLP to a receiver in this
process, as it would to Jaeger or Tempo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer, TemporalDevServer
from tests.e2e.test_consultation_journey import QUESTION
from tests.support.journeys import login, no_5xx, wait_for
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.platform import running_platform

# What the trace must hold: (exporting process, span name) for each hop of the consultation's path.
HOPS = {
    ("counsel-gateway", "POST /api/v1/consultations"),
    ("counsel-consultation", "counsel.consultation.v1.ConsultationService/CreateConsultation"),
    ("counsel-consultation", "process consultation.submitted"),  # starts the workflow
    ("counsel-worker", "RunWorkflow:ConsultationWorkflow"),
    ("counsel-worker", "RunActivity:consultation.classify"),
    ("counsel-worker", "RunActivity:consultation.assign_lawyer"),
    ("counsel-consultation", "counsel.consultation.v1.ConsultationInternalService/AssignLawyer"),
    ("counsel-notification", "process consultation.submitted"),  # the client's first notification
    ("counsel-notification", "process consultation.assigned"),
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_platform(
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackProcess]:
    data_dir: Path = tmp_path_factory.mktemp("traced")
    # Spans leave each process within 100 ms rather than the SDK's 5 s batches.
    with running_platform(
        postgres_server,
        temporal_dev_server,
        data_dir,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as running:
        yield running


def test_submission_classification_assignment_and_first_notification_share_one_trace(
    traced_platform: StackProcess, receiver: OtlpReceiver
) -> None:
    with httpx.Client(
        base_url=traced_platform.base_url, timeout=30, event_hooks={"response": [no_5xx]}
    ) as http:
        client = login(http, "client@demo.counsel.test")
        created = http.post(
            "/api/v1/consultations",
            headers=client,
            json={"kind": "general", "subject": "被拖欠工资还被要求离职", "question": QUESTION},
        )
        assert created.status_code == 201, created.text

    def submission() -> ReceivedSpan | None:
        return next(
            (
                s
                for s in receiver.spans
                if (s.service, s.name) == ("counsel-gateway", "POST /api/v1/consultations")
            ),
            None,
        )

    root = wait_for(submission, timeout=30)
    assert root.parent_span_id == ""  # the request is the root of its trace

    def orphans(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        ids = {s.span_id for s in spans}
        return [s for s in spans if s != root and s.parent_span_id not in ids]

    def whole_path() -> list[ReceivedSpan] | None:
        spans = receiver.trace(root.trace_id)
        hops = {(s.service, s.name) for s in spans} >= HOPS
        return spans if hops and not orphans(spans) else None

    try:
        wait_for(whole_path, timeout=90)
    except AssertionError:
        spans = receiver.trace(root.trace_id)
        missing = HOPS - {(s.service, s.name) for s in spans}
        # Every span but the root hangs off another span of the same trace: nothing started one of its own.
        pytest.fail(f"the trace lacks {sorted(missing)}; spans without their parent: {orphans(spans)}")
