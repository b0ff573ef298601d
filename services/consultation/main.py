"""Entry point of the consultation service; importable so tests run the real server in-process."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from counsel.consultation.v1 import consultation_service_pb2
from counsel.consultation.v1.consultation_service_pb2_grpc import add_ConsultationServiceServicer_to_server
from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceStub
from services.consultation.classifier import default_classifier
from services.consultation.erasure import erase_user
from services.consultation.models import TABLES
from services.consultation.server import ConsultationServicer
from services.consultation.store import ConsultationStore
from services.consultation.workflow_starter import (
    REPLIED_SUBJECTS,
    SUBJECTS,
    WorkflowSignaller,
    WorkflowStarter,
)
from services.runtime import erasure
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.metrics import keep_sla_timers
from services.runtime.service import service_runtime

if TYPE_CHECKING:
    pass

SERVICE = "consultation"
# The deadlines this service's records show running (counsel_sla_timers_pending).
SLA_TIMER_KINDS = ("reply_24h",)
FULL_NAME = consultation_service_pb2.DESCRIPTOR.services_by_name["ConsultationService"].full_name


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        temporal = await rt.temporal()
        payments = PaymentServiceStub(
            open_channel(settings.payment_addr, default_timeout=settings.grpc_deadline_seconds)
        )
        server = rt.grpc_server()
        store = ConsultationStore(rt.db, rt.outbox)
        server.add(
            add_ConsultationServiceServicer_to_server,
            ConsultationServicer(store, temporal, payments),
            FULL_NAME,
        )
        # Load the classifier and jieba's dictionary off the event loop now, not on the first question.
        warm_up = asyncio.create_task(asyncio.to_thread(lambda: default_classifier().classify("预热")))
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                rt.consumer(
                    "workflow-starter", SUBJECTS, WorkflowStarter(temporal, settings.temporal_task_queue)
                ),
                rt.consumer("workflow-signaller", REPLIED_SUBJECTS, WorkflowSignaller(temporal)),
                keep_sla_timers(store.open_timers, SLA_TIMER_KINDS),
                rt.consumer("erasure", erasure.SUBJECTS, erase_user),
            ],
        )
        warm_up.cancel()
