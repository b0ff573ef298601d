"""Entry point of the payment service; importable so tests run the real server in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceStub
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceStub
from counsel.payment.v1 import payment_service_pb2, payment_service_pb2_grpc
from services.payment.config import PaymentSettings, configured_providers
from services.payment.erasure import erase_user
from services.payment.fulfilment_links import SUBJECTS as LINK_SUBJECTS
from services.payment.fulfilment_links import FulfilmentLinker
from services.payment.invoices import InvoiceRenderer, ObjectStoreInvoices
from services.payment.models import TABLES
from services.payment.providers.sandbox import SandboxProvider
from services.payment.refund_dispatcher import RefundDispatcher
from services.payment.sandbox_notifier import SandboxNotifier, http_delivery
from services.payment.server import PaymentServicer
from services.payment.store import PaymentStores
from services.payment.store.payments import AMOUNT_MISMATCHES, UNAPPLIED_PAYMENTS
from services.payment.timeline import OrderTimeline, booking_source, consultation_source, documents_source
from services.payment.vouchers import VoucherSigner
from services.payment.workflow_starter import SUBJECTS, OrderWorkflowStarter
from services.runtime import erasure
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.service import service_runtime

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceAsyncStub
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceAsyncStub

SERVICE = "payment"
# The durable consumers of this service (name → event subject suffixes): `counsel migrate` creates them as
# `payment-<name>`, and with NATS authorization on this service may read from these alone (deploy/nats_auth.py).
CONSUMERS = {"order-workflows": SUBJECTS, "fulfilment-links": LINK_SUBJECTS, "erasure": erasure.SUBJECTS}


async def serve(settings: Settings) -> None:
    payment_settings = PaymentSettings.from_settings(settings)
    async with service_runtime(settings, SERVICE, TABLES, consumers=CONSUMERS) as rt:
        temporal = await rt.temporal()
        catalog = cast(
            "CatalogServiceAsyncStub",
            CatalogServiceStub(
                open_channel(
                    settings.catalog_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        deadline = settings.grpc_deadline_seconds
        documents = cast(
            "DocumentsServiceAsyncStub",
            DocumentsServiceStub(
                open_channel(settings.documents_addr, settings.tls(), default_timeout=deadline)
            ),
        )
        consultation = cast(
            "ConsultationServiceAsyncStub",
            ConsultationServiceStub(
                open_channel(settings.consultation_addr, settings.tls(), default_timeout=deadline)
            ),
        )
        booking = cast(
            "BookingServiceAsyncStub",
            BookingServiceStub(open_channel(settings.booking_addr, settings.tls(), default_timeout=deadline)),
        )
        # The fulfilment's owners, asked for its stages when a client reads the order's timeline.
        timeline = OrderTimeline(
            catalog,
            {
                "document": documents_source(documents),
                "consultation": consultation_source(consultation),
                "booking": booking_source(booking),
            },
        )
        providers = configured_providers(payment_settings)
        for name in providers:  # exported at 0, so the alert's increase() sees the very first one
            AMOUNT_MISMATCHES.labels(name)
            UNAPPLIED_PAYMENTS.labels(name)
        stores = PaymentStores.build(rt.db, rt.outbox)
        renderer = InvoiceRenderer(settings.cache_dir)
        assert rt.bus is not None
        server = rt.grpc_server()
        server.add(
            PaymentServicer(
                stores,
                catalog,
                providers,
                VoucherSigner(settings.secret_key),
                payment_settings,
                ObjectStoreInvoices(rt.bus.js, replicas=settings.object_store_replicas),
                timeline,
                renderer,
            ),
            payment_service_pb2,
            payment_service_pb2_grpc,
        )
        background = [
            rt.outbox_relay(),
            rt.consumer("order-workflows", OrderWorkflowStarter(temporal, settings.temporal_task_queue)),
        ]
        background.append(rt.consumer("fulfilment-links", FulfilmentLinker(stores.fulfilments)))
        background.append(rt.consumer("erasure", erase_user))
        background.append(RefundDispatcher(stores.refunds, providers).run())
        sandbox = providers.get("sandbox")
        if isinstance(sandbox, SandboxProvider):
            deliver = http_delivery(payment_settings.notify_url("sandbox"), sandbox.ack.body)
            background.append(SandboxNotifier(stores.sandbox, sandbox, deliver).run())
        try:
            await rt.run(server, background=background)
        finally:
            renderer.close()
