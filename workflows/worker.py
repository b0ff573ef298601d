"""The workflow worker process: a Worker per domain task queue (workflows.shared), each with its domain's
workflows and the activities they call, so a backlog in one domain never delays another's tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceStub, BookingServiceStub
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogInternalServiceStub
from counsel.consultation.v1.consultation_service_pb2_grpc import (
    ConsultationInternalServiceStub,
    ConsultationServiceStub,
)
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsInternalServiceStub, DocumentsServiceStub
from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceStub
from counsel.payment.v1.payment_service_pb2_grpc import PaymentInternalServiceStub, PaymentServiceStub
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.keys import master_key
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics
from services.runtime.temporal import connect_temporal, worker_options
from services.runtime.tracing import configure_tracing
from workflows.activities.booking import BookingActivities
from workflows.activities.catalog import CatalogActivities
from workflows.activities.consultation import ConsultationActivities
from workflows.activities.documents import DocumentsActivities
from workflows.activities.identity import IdentityActivities
from workflows.activities.payment import PaymentActivities
from workflows.booking import BookingWorkflow
from workflows.complaints import ComplaintWorkflow
from workflows.consultation import ConsultationWorkflow
from workflows.documents import DocumentOrderWorkflow
from workflows.orders import OrderWorkflow
from workflows.qualifications import QualificationDeadlineWorkflow
from workflows.shared import (
    BOOKING_QUEUE,
    CONSULTATION_QUEUE,
    DOCUMENTS_QUEUE,
    ORDERS_QUEUE,
    PLATFORM_QUEUE,
    SIGNING_KEY_ROTATION_WORKFLOW_ID,
    SigningKeyRotationInput,
    task_queue,
)
from workflows.signing_keys import SigningKeyRotationWorkflow

log = logging.getLogger(__name__)

WORKFLOWS = [
    ConsultationWorkflow,
    ComplaintWorkflow,
    DocumentOrderWorkflow,
    OrderWorkflow,
    BookingWorkflow,
    SigningKeyRotationWorkflow,
    QualificationDeadlineWorkflow,
]

# A domain's workflows and the activities they call.
Domain = tuple[list[type], list[Callable[..., Any]]]


def domains_for(settings: Settings) -> dict[str, Domain]:
    """Each task queue's workflows and activities, the activities calling the services over gRPC."""

    def channel(address: str) -> grpc.aio.Channel:
        return open_channel(address, settings.tls(), default_timeout=settings.grpc_deadline_seconds)

    # One channel per service, shared by its public and its internal stub.
    consultation_channel = channel(settings.consultation_addr)
    documents_channel = channel(settings.documents_addr)
    booking_channel = channel(settings.booking_addr)
    payment_channel = channel(settings.payment_addr)
    consultation = ConsultationActivities(
        ConsultationServiceStub(consultation_channel), ConsultationInternalServiceStub(consultation_channel)
    )
    documents = DocumentsActivities(
        DocumentsServiceStub(documents_channel),
        DocumentsInternalServiceStub(documents_channel),
        PaymentInternalServiceStub(payment_channel),
    )
    booking = BookingActivities(
        BookingServiceStub(booking_channel), BookingInternalServiceStub(booking_channel)
    )
    payment = PaymentActivities(
        PaymentServiceStub(payment_channel), PaymentInternalServiceStub(payment_channel)
    )
    identity = IdentityActivities(IdentityInternalServiceStub(channel(settings.identity_addr)))
    catalog = CatalogActivities(CatalogInternalServiceStub(channel(settings.catalog_addr)))
    return {
        ORDERS_QUEUE: (
            [OrderWorkflow],
            [
                payment.expire_order,
                payment.issue_voucher,
                payment.issue_invoice,
                payment.advance_order,
                payment.refund_order,
                documents.create_document_order,
                booking.confirm_booking,
            ],
        ),
        CONSULTATION_QUEUE: (
            [ConsultationWorkflow, ComplaintWorkflow],
            [
                consultation.record_stage,
                consultation.close,
                consultation.classify,
                consultation.assign_lawyer,
                consultation.escalate,
                consultation.escalate_complaint,
                consultation.close_complaint,
            ],
        ),
        DOCUMENTS_QUEUE: ([DocumentOrderWorkflow], [documents.record_stage, documents.record_breach]),
        BOOKING_QUEUE: (
            [BookingWorkflow],
            [booking.expire_hold, booking.remind, booking.mark_no_show, booking.complete],
        ),
        PLATFORM_QUEUE: (
            [SigningKeyRotationWorkflow, QualificationDeadlineWorkflow],
            [identity.rotate_signing_key, catalog.warn_agreement_ending, catalog.refresh_lawyer_standing],
        ),
    }


def workers_for(client: Client, settings: Settings) -> list[Worker]:
    """A Worker per domain queue, and one on the single queue of before (`temporal_task_queue` itself) with
    every workflow and activity, for the workflows started there: a workflow keeps the queue it started on.
    That one can go once `temporal workflow count --query "TaskQueue='<queue>' AND
    ExecutionStatus='Running'"` says 0 (the signing-key rotation started there is restarted on `platform`
    by terminating it)."""
    domains = domains_for(settings)
    options = {"graceful_shutdown_timeout": timedelta(seconds=10), **worker_options(settings)}
    workers = [
        Worker(
            client,
            task_queue=task_queue(settings.temporal_task_queue, name),
            workflows=workflows,
            activities=activities,
            **options,
        )
        for name, (workflows, activities) in domains.items()
    ]
    workers.append(
        Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=[activity for _, activities in domains.values() for activity in activities],
            **options,
        )
    )
    return workers


async def start_standing_workflows(client: Client, settings: Settings) -> None:
    """The platform's own clocks that belong to no request: started here once; a running one is kept."""
    await client.start_workflow(
        SigningKeyRotationWorkflow.run,
        SigningKeyRotationInput(),
        id=SIGNING_KEY_ROTATION_WORKFLOW_ID,
        task_queue=task_queue(settings.temporal_task_queue, PLATFORM_QUEUE),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def run_worker(settings: Settings) -> None:
    """Poll until SIGTERM/SIGINT, then finish in-flight activities and stop. MasterKeyError before anything
    starts without the master key (no payload may reach Temporal unsealed)."""
    master_key(settings)
    configure_logging("worker", settings.log_level)
    configure_tracing(settings, "worker")
    serve_metrics(settings.metrics_port_for("worker"), settings.metrics_host)
    client = await connect_temporal(settings)
    workers = workers_for(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        await start_standing_workflows(client, settings)
        log.info("worker polling", extra={"task_queues": [w.task_queue for w in workers]})
        await stop.wait()
    log.info("worker stopped")
