"""Entry point of the consultation service; importable so tests run the real server in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, cast

from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceStub
from counsel.catalog.v1 import catalog_service_pb2
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2, consultation_service_pb2_grpc
from counsel.identity.v1 import identity_service_pb2
from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceStub
from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceStub
from services.consultation import domain, events
from services.consultation.config import ConsultationSettings
from services.consultation.faq import FaqEntry, FaqSource
from services.consultation.models import DATA_KEYS, STAFF_READS, TABLES
from services.consultation.server import ConsultationServicer
from services.consultation.store import ConsultationStores
from services.consultation.store.sealed import seal_clear_rows
from services.consultation.telephony import SimulatedTelephony, TelephonyProvider
from services.consultation.telephony_aliyun import AliyunNumberPrivacy
from services.consultation.workflow_link import WorkflowLink
from services.legal_fields.classifier import default_classifier
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.metrics import SLA_BREACHES, UNTIERED, export_deadlines, keep_sla_timers
from services.runtime.service import service_runtime
from workflows.shared import CONSULTATION_QUEUE, task_queue

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub

SERVICE = "consultation"
# The deadlines this service's records show running (counsel_sla_timers_pending).
SLA_TIMER_KINDS = ("reply_24h",)


def catalog_faq(catalog: CatalogServiceAsyncStub) -> Callable[[], Awaitable[Sequence[FaqEntry]]]:
    """Fetch the approved FAQ entries (catalog articles of kind `faq`, published versions only)."""

    async def fetch() -> Sequence[FaqEntry]:
        entries: list[FaqEntry] = []
        cursor = ""
        while True:
            reply = await catalog.ListArticles(
                catalog_service_pb2.ListArticlesRequest(
                    kind="faq", page=paging_pb2.PageRequest(limit=100, cursor=cursor)
                )
            )
            entries.extend(
                FaqEntry(a.id, a.published.title, a.published.body)
                for a in reply.articles
                if a.HasField("published")
            )
            cursor = reply.page.next_cursor
            if not cursor:
                return entries

    return fetch


def telephony_of(settings: ConsultationSettings) -> TelephonyProvider:
    """The provider COUNSEL_TELEPHONY_PROVIDER names. The privacy-number provider binds the parties' own
    phone numbers, read from identity's contact details when a call is bridged."""
    if settings.telephony_provider == "simulated":
        return SimulatedTelephony()
    identity = cast(
        "IdentityInternalServiceAsyncStub",
        IdentityInternalServiceStub(
            open_channel(
                settings.identity_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
            )
        ),
    )

    async def phone_of(user_id: str) -> str:
        reply = await identity.GetUser(identity_service_pb2.GetUserRequest(user_id=user_id))
        return reply.user.phone

    return AliyunNumberPrivacy(settings.aliyun_pls(), phone_of)


async def serve(shared: Settings) -> None:
    settings = ConsultationSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        # Exported at 0 so that the very first missed reply (or complaint response) raises the alerts.
        SLA_BREACHES.labels("reply_24h")
        SLA_BREACHES.labels(domain.COMPLAINT_CLOCK)
        export_deadlines([("reply_24h", UNTIERED), (domain.COMPLAINT_CLOCK, UNTIERED)])
        temporal = await rt.temporal()
        payments = PaymentServiceStub(
            open_channel(
                settings.payment_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
            )
        )
        server = rt.grpc_server()
        catalog = cast(
            "CatalogServiceAsyncStub",
            CatalogServiceStub(
                open_channel(
                    settings.catalog_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        # A major matter's offline meeting is held for the client in booking (major_rpcs.py).
        booking = cast(
            "BookingInternalServiceAsyncStub",
            BookingInternalServiceStub(
                open_channel(
                    settings.booking_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await keys.check()
        await seal_clear_rows(rt.db, keys)
        stores = ConsultationStores.build(rt.db, rt.outbox, keys)
        server.add(
            ConsultationServicer(
                stores,
                payments,
                telephony=telephony_of(settings),
                faq=FaqSource(catalog_faq(catalog)),
                catalog=catalog,
                booking=booking,
            ),
            consultation_service_pb2,
            consultation_service_pb2_grpc,
        )
        link = WorkflowLink(temporal, task_queue(settings.temporal_task_queue, CONSULTATION_QUEUE))
        # Load the classifier and jieba's dictionary off the event loop now, not on the first question.
        warm_up = asyncio.create_task(asyncio.to_thread(lambda: default_classifier().classify("预热")))
        await rt.run(
            server,
            background=[
                rt.outbox_relay(),
                *rt.consumers(events.TABLE, events.HandlerContext(link, keys)),
                keep_sla_timers(stores.consultations, SLA_TIMER_KINDS),
                rt.access_log_anchors(STAFF_READS),
            ],
        )
        warm_up.cancel()
