"""The one workflow worker: every workflow and activity of counsel on the configured task queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceStub
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceStub
from counsel.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceStub
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics
from services.runtime.temporal import connect_temporal, worker_options
from workflows.activities.booking import BookingActivities
from workflows.activities.consultation import ConsultationActivities
from workflows.activities.documents import DocumentsActivities
from workflows.activities.identity import IdentityActivities
from workflows.activities.payment import PaymentActivities
from workflows.booking import BookingWorkflow
from workflows.consultation import ConsultationWorkflow
from workflows.documents import DocumentOrderWorkflow
from workflows.orders import OrderWorkflow
from workflows.shared import SIGNING_KEY_ROTATION_WORKFLOW_ID, SigningKeyRotationInput
from workflows.signing_keys import SigningKeyRotationWorkflow

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

WORKFLOWS = [
    ConsultationWorkflow,
    DocumentOrderWorkflow,
    OrderWorkflow,
    BookingWorkflow,
    SigningKeyRotationWorkflow,
]


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    consultation = ConsultationActivities(
        ConsultationServiceStub(
            open_channel(
                settings.consultation_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
            )
        )
    )
    documents_stub = DocumentsServiceStub(
        open_channel(settings.documents_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds)
    )
    booking_stub = BookingServiceStub(
        open_channel(settings.booking_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds)
    )
    payment = PaymentActivities(
        PaymentServiceStub(
            open_channel(
                settings.payment_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
            )
        ),
        documents_stub,
        booking_stub,
    )
    booking = BookingActivities(booking_stub)
    documents = DocumentsActivities(documents_stub)
    identity = IdentityActivities(
        IdentityServiceStub(
            open_channel(
                settings.identity_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
            )
        )
    )
    return [
        identity.rotate_signing_key,
        consultation.record_stage,
        consultation.close,
        consultation.classify,
        consultation.assign_lawyer,
        consultation.escalate,
        documents.record_stage,
        documents.record_breach,
        payment.expire_order,
        payment.issue_voucher,
        payment.issue_invoice,
        payment.start_fulfilment,
        payment.advance_order,
        payment.refund_order,
        booking.expire_hold,
        booking.remind,
        booking.mark_no_show,
        booking.complete,
    ]


async def start_standing_workflows(client: Client, settings: Settings) -> None:
    """The platform's own clocks that belong to no request: started here once; a running one is kept."""
    await client.start_workflow(
        SigningKeyRotationWorkflow.run,
        SigningKeyRotationInput(),
        id=SIGNING_KEY_ROTATION_WORKFLOW_ID,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def run_worker(settings: Settings) -> None:
    """Poll until SIGTERM/SIGINT, then finish in-flight activities and stop."""
    configure_logging("worker", settings.log_level)
    serve_metrics(settings.metrics_port_for("worker"), settings.metrics_host)
    client = await connect_temporal(settings)
    worker = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(settings),
        graceful_shutdown_timeout=timedelta(seconds=10),
        **worker_options(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with worker:
        await start_standing_workflows(client, settings)
        log.info("worker polling", extra={"task_queue": settings.temporal_task_queue})
        await stop.wait()
    log.info("worker stopped")
