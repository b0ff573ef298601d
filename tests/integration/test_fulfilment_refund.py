"""A document order cancelled in the documents service refunds the paid order it fulfils (R-PAY-3
compensation), across the real path: documents' outbox → relay → JetStream → payment's durable consumer, on
real PostgreSQL and NATS. The refund happens exactly once, even when the event is redelivered or replayed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import select as select_rows

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import documents_service_pb2 as docs_pb
from deploy.local.servers import NatsServer, PostgresServer
from services.documents.models import TABLES as DOCUMENT_TABLES
from services.documents.server import DocumentsServicer
from services.documents.store import DocumentsStore, NewOrder
from services.payment import domain
from services.payment.fulfilment_links import SUBJECTS, FulfilmentLinker
from services.payment.models import TABLES as PAYMENT_TABLES
from services.payment.models import RefundRow
from services.payment.providers.base import Checkout, Notification
from services.payment.store import PaymentStores
from services.runtime.config import Settings
from services.runtime.context import Principal, principal_var
from services.runtime.db import Database
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay
from services.runtime.records import utcnow
from services.runtime.service import cancel_all
from tests.support.platform import isolated_settings, migrated_databases

TENANT = "tenant-1"
CLIENT = Principal("client-1", tenant_id=TENANT, roles=frozenset({"client"}))
SUPERVISOR = Principal("supervisor-1", roles=frozenset({"supervisor"}))
AGENT = Principal("agent-1", roles=frozenset({"agent"}))
PRODUCT = domain.ProductSnapshot(
    product_id="doc-contract-drafting",
    name="合同起草",
    category="document",
    currency="CNY",
    tiers=({"id": "simple", "price": 99900, "complexity": "simple"},),
)


@dataclass
class Services:
    settings: Settings
    bus: EventBus
    documents: DocumentsStore
    payment: PaymentStores
    payment_db: Database


@pytest.fixture
async def services(
    postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str
) -> AsyncIterator[Services]:
    settings = isolated_settings(postgres_server, nats_server, name=unique_name)
    async with migrated_databases(settings, "documents", "payment") as databases:
        bus = await EventBus.connect(settings, name="fulfilment-refund-test")
        yield Services(
            settings,
            bus,
            DocumentsStore(databases["documents"], Outbox("documents", settings, DOCUMENT_TABLES)),
            PaymentStores.build(databases["payment"], Outbox("payment", settings, PAYMENT_TABLES)),
            databases["payment"],
        )
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()


async def paid_document_order(services: Services) -> tuple[str, str]:
    """A paid order whose document order is in service: (order id, document order id)."""
    created = await services.payment.orders.create(
        CLIENT, domain.new_order(PRODUCT, "simple", {}, {}), domain.DEFAULT_PAY_WITHIN, "", ""
    )
    order_id = created.view.row.id
    payment = await services.payment.payments.create(
        CLIENT, order_id, "sandbox", lambda payment_id, order: Checkout(pay_url="http://127.0.0.1/pay"), ""
    )
    note = Notification("n-1", payment.id, "SBX1", payment.amount_fen, "CNY", "paid")
    assert await services.payment.payments.apply_notification("sandbox", note) == "applied"
    await services.documents.upsert_staff("lawyer-1", "lawyer", "licence-1")
    document, _ = await services.documents.create(
        NewOrder(
            order_id=order_id,
            tenant_id=TENANT,
            client_id=CLIENT.user_id,
            product_id=PRODUCT.product_id,
            complexity="simple",
            paid_at=utcnow(),
            acknowledge_within=timedelta(minutes=30),
            draft_within=timedelta(hours=24),
            revision_window=timedelta(days=3),
            requirements={},
        )
    )
    await services.payment.orders.advance(order_id, "in_service", "document", document.row.id)
    return order_id, document.row.id


async def refunds(services: Services, order_id: str) -> list[tuple[int, str]]:
    async with services.payment_db.transaction() as session:
        rows = (await session.exec(select_rows(RefundRow).where(RefundRow.order_id == order_id))).all()
    return [(r.amount_fen, r.reason) for r in rows]


async def test_only_a_supervisor_cancels_a_document_order_with_a_reason(services: Services) -> None:
    _, document_order_id = await paid_document_order(services)
    servicer = DocumentsServicer(services.documents, None, None, None)  # type: ignore[arg-type]
    request = docs_pb.CancelDocumentOrderRequest(document_order_id=document_order_id, reason="客户要求")
    for principal in (CLIENT, AGENT):
        token = principal_var.set(principal)
        try:
            with pytest.raises(PermissionDenied):
                await servicer.CancelDocumentOrder(request, None)  # type: ignore[arg-type]
        finally:
            principal_var.reset(token)
    token = principal_var.set(SUPERVISOR)
    try:
        with pytest.raises(InvalidArgument) as missing:
            await servicer.CancelDocumentOrder(
                docs_pb.CancelDocumentOrderRequest(document_order_id=document_order_id, reason=" "),
                None,  # type: ignore[arg-type]
            )
        assert [v.field for v in missing.value.violations] == ["reason"]
        reply = await servicer.CancelDocumentOrder(request, None)  # type: ignore[arg-type]
        again = await servicer.CancelDocumentOrder(request, None)  # type: ignore[arg-type]
    finally:
        principal_var.reset(token)
    assert reply.document_order.stage == again.document_order.stage == "cancelled"
    assert reply.document_order.stages[-1].stage == "cancelled"
    with pytest.raises(Conflict):  # nothing moves a cancelled order on
        await services.documents.acknowledge(AGENT, document_order_id, "")
    async with services.documents.db.transaction() as session:
        published = await session.scalar(
            select(func.count()).where(DOCUMENT_TABLES.outbox.c.subject.like("%.docorder.cancelled"))
        )
    assert published == 1  # the repeated cancel published nothing more


async def test_a_cancelled_document_order_refunds_its_order_once_over_nats(services: Services) -> None:
    order_id, document_order_id = await paid_document_order(services)
    linker = FulfilmentLinker(services.payment.fulfilments)
    handled: list[str] = []
    refunded = asyncio.Event()

    async def handler(envelope: EventEnvelope, session: object) -> None:
        await linker(envelope, session)  # type: ignore[arg-type]
        handled.append(envelope.type)
        if envelope.type == "docorder.cancelled":
            refunded.set()

    consumer = DurableConsumer(
        "fulfilment-links",
        services.bus,
        services.payment_db,
        PAYMENT_TABLES,
        SUBJECTS,
        handler,
    )
    relay = OutboxRelay(services.documents.db, services.documents.outbox, services.bus)
    await services.documents.cancel(SUPERVISOR, document_order_id, "律师无法按要求起草")
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
    try:
        await asyncio.wait_for(refunded.wait(), timeout=30)
        # JetStream redelivers the same event (e.g. the ack was lost): published again under a new
        # message id so that the stream's own deduplication does not hide it from the consumer.
        async with services.documents.db.transaction() as session:
            payload = await session.scalar(
                select(DOCUMENT_TABLES.outbox.c.payload).where(
                    DOCUMENT_TABLES.outbox.c.subject.like("%.docorder.cancelled")
                )
            )
        subject = services.documents.outbox.subject("docorder.cancelled")
        await services.bus.publish(subject, payload, "redelivery-1")
        assert await consumer.handle(payload) == "duplicate"
    finally:
        await cancel_all(tasks, "test")
    envelope = EventEnvelope()
    envelope.ParseFromString(payload)
    # Replayed to the handler itself, past the consumer's record of processed events: the refund's own key.
    async with services.payment_db.transaction() as session:
        await linker(envelope, session)

    view = await services.payment.orders.get(CLIENT, order_id)
    assert view.row.status == "refunded" and view.row.refunded_fen == 99900
    assert await refunds(services, order_id) == [(99900, "fulfilment_cancelled")]
    assert (await services.payment.ledger.events(order_id)).count("refunded") == 1
    balances = await services.payment.ledger.balances()
    assert balances.get(domain.REVENUE, 0) == 0 and balances.get("cash:sandbox", 0) == 0
    assert (await services.payment.ledger.verify()).valid
    async with services.payment_db.transaction() as session:
        refunded_events = await session.scalar(
            select(func.count()).where(PAYMENT_TABLES.outbox.c.subject.like("%.order.refunded"))
        )
    assert refunded_events == 1  # the client is told once
    # The order's workflow recording the fulfilment late changes nothing: a refunded order stays refunded.
    assert (await services.payment.orders.advance(order_id, "in_service", "", "")).row.status == "refunded"


async def test_a_cancellation_of_another_tenants_or_fulfilments_order_refunds_nothing(
    services: Services,
) -> None:
    order_id, document_order_id = await paid_document_order(services)
    linker = FulfilmentLinker(services.payment.fulfilments)
    await services.documents.cancel(SUPERVISOR, document_order_id, "重复下单")
    async with services.documents.db.transaction() as session:
        payload = await session.scalar(
            select(DOCUMENT_TABLES.outbox.c.payload).where(
                DOCUMENT_TABLES.outbox.c.subject.like("%.docorder.cancelled")
            )
        )
    envelope = EventEnvelope()
    envelope.ParseFromString(payload)
    foreign = EventEnvelope()
    foreign.CopyFrom(envelope)
    foreign.tenant_id = "tenant-9"
    async with services.payment_db.transaction() as session:
        await linker(foreign, session)
    assert (await services.payment.orders.get(CLIENT, order_id)).row.status == "in_service"
    assert await refunds(services, order_id) == []
