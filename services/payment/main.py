"""Entry point of the payment service; importable so tests run the real server in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.payment.v1 import payment_service_pb2, payment_service_pb2_grpc
from services.payment import events
from services.payment.config import PaymentSettings, configured_providers
from services.payment.invoices import InvoiceRenderer, ObjectStoreInvoices
from services.payment.models import DATA_KEYS, STAFF_READS, TABLES
from services.payment.providers.sandbox import SandboxProvider
from services.payment.refund_dispatcher import RefundDispatcher
from services.payment.sandbox_notifier import SandboxNotifier, http_delivery
from services.payment.server import PaymentServicer
from services.payment.store import PaymentStores
from services.payment.store.payments import AMOUNT_MISMATCHES, UNAPPLIED_PAYMENTS
from services.payment.store.sealed import seal_clear_rows
from services.payment.vouchers import VoucherSigner
from services.payment.workflow_link import OrderWorkflowLink
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.metrics import UNTIERED, export_deadlines
from services.runtime.service import service_runtime
from workflows.shared import ORDERS_QUEUE, task_queue

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

SERVICE = "payment"


async def serve(shared: Settings) -> None:
    settings = PaymentSettings.from_settings(shared)
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        export_deadlines(
            [("payment_hold", UNTIERED)]
        )  # at 0, so the first outcome of this process is an increase
        temporal = await rt.temporal()
        catalog = cast(
            "CatalogServiceAsyncStub",
            CatalogServiceStub(
                open_channel(
                    settings.catalog_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
                )
            ),
        )
        providers = configured_providers(settings)
        for name in providers:  # exported at 0, so the alert's increase() sees the very first one
            AMOUNT_MISMATCHES.labels(name)
            UNAPPLIED_PAYMENTS.labels(name)
        keys = DataKeys(rt.db, master_key(settings), DATA_KEYS)
        await keys.check()
        await seal_clear_rows(rt.db, keys)
        stores = PaymentStores.build(rt.db, rt.outbox, keys)
        renderer = InvoiceRenderer(settings.cache_dir)
        assert rt.bus is not None
        server = rt.grpc_server()
        server.add(
            PaymentServicer(
                stores,
                catalog,
                providers,
                VoucherSigner(settings.secret_key),
                settings,
                ObjectStoreInvoices(rt.bus.js, replicas=settings.jetstream_replicas),
                renderer,
            ),
            payment_service_pb2,
            payment_service_pb2_grpc,
        )
        order_link = OrderWorkflowLink(
            temporal,
            task_queue(settings.temporal_task_queue, ORDERS_QUEUE),
            settings.consultation_use_within,
            keys,
        )
        background = [
            rt.outbox_relay(),
            *rt.consumers(events.TABLE, order_link),
            RefundDispatcher(stores.refunds, providers).run(),
            rt.access_log_anchors(STAFF_READS),
        ]
        sandbox = providers.get("sandbox")
        if isinstance(sandbox, SandboxProvider):
            deliver = http_delivery(settings.notify_url("sandbox"), sandbox.ack.body)
            background.append(SandboxNotifier(stores.sandbox, sandbox, deliver).run())
        try:
            await rt.run(server, background=background)
        finally:
            renderer.close()
