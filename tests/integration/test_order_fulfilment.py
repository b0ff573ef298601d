"""An order's fulfilment across the real path (R-PAY-3), on real PostgreSQL, NATS and Temporal: the payment
service's own events start and pay the order's workflow, the fulfilling services' events reach it as signals
(services/payment/events.py), and OrderWorkflow completes or refunds the order through its
activities, which here act on the real stores (the services' gRPC is tested elsewhere). A document order
cancelled in the documents service goes documents' outbox → relay → JetStream → payment's durable consumer
→ the workflow, and the order is refunded exactly once, even when the event is redelivered or replayed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import select as select_rows
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import documents_service_pb2 as docs_pb
from counsel.documents.v1 import events_pb2 as documents_events
from deploy.local.servers import NatsServer, PostgresServer, TemporalDevServer
from services.documents.models import DATA_KEYS as DOCUMENT_DATA_KEYS
from services.documents.models import TABLES as DOCUMENT_TABLES
from services.documents.server import DocumentsServicer
from services.documents.store import DocumentsStores, NewOrder
from services.payment import domain
from services.payment import events as payment_events
from services.payment.models import DATA_KEYS as PAYMENT_DATA_KEYS
from services.payment.models import TABLES as PAYMENT_TABLES
from services.payment.models import RefundRow
from services.payment.providers.base import Checkout, Notification
from services.payment.store import PaymentStores
from services.payment.store.base import OrderView
from services.payment.vouchers import VoucherSigner
from services.payment.workflow_link import OrderWorkflowLink
from services.runtime.config import Settings
from services.runtime.context import Principal, principal_var
from services.runtime.db import Database
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind
from services.runtime.keys import DataKeys, master_key
from services.runtime.records import utcnow
from services.runtime.service import cancel_all
from tests.support.factories import deliver, envelope
from tests.support.platform import isolated_settings, migrated_databases
from workflows.orders import OrderWorkflow
from workflows.shared import (
    AdvanceOrderInput,
    FulfilmentRef,
    FulfilmentRequest,
    OrderWorkflowInput,
    RefundOrderInput,
    order_workflow_id,
)

TENANT = "tenant-1"
CLIENT = Principal("client-1", tenant_id=TENANT, roles=frozenset({"client"}))
SUPERVISOR = Principal("supervisor-1", roles=frozenset({"supervisor"}))
AGENT = Principal("agent-1", roles=frozenset({"agent"}))
PRICE = 99900
DOCUMENT = domain.ProductSnapshot(
    product_id="doc-contract-drafting",
    name="合同起草",
    category="document",
    currency="CNY",
    tiers=({"id": "simple", "price": PRICE, "complexity": "simple"},),
)
CONSULTATION = domain.ProductSnapshot(
    product_id="consult-professional",
    name="专业法律咨询",
    category="consultation",
    consultation_kind="professional",
    currency="CNY",
    tiers=({"id": "standard", "price": PRICE, "reply_hours": 24},),
)
BOOKING = domain.ProductSnapshot(
    product_id="booking-at-firm",
    name="到所面谈",
    category="booking",
    currency="CNY",
    tiers=({"id": "60min", "price": PRICE},),
)


class StoreActivities:
    """OrderWorkflow's activities acting straight on the stores, as the services' RPCs would."""

    def __init__(self, documents: DocumentsStores, payment: PaymentStores) -> None:
        self.documents = documents
        self.payment = payment

    @activity.defn(name="payment.expire_order")
    async def expire_order(self, order_id: str) -> str:
        return (await self.payment.payments.expire_order(order_id)).row.status

    @activity.defn(name="payment.issue_voucher")
    async def issue_voucher(self, order_id: str) -> None:
        await self.payment.vouchers.issue(order_id, VoucherSigner("s" * 32))

    @activity.defn(name="payment.issue_invoice")
    async def issue_invoice(self, order_id: str) -> None:
        """The invoice's PDF and storage are tests/integration/test_payment_store.py's."""

    @activity.defn(name="payment.advance_order")
    async def advance_order(self, request: AdvanceOrderInput) -> None:
        await self.payment.orders.advance(
            request.order_id, request.status, request.fulfilment_kind, request.fulfilment_id
        )

    @activity.defn(name="payment.refund_order")
    async def refund_order(self, request: RefundOrderInput) -> None:
        await self.payment.refunds.refund_order(
            None, request.order_id, request.amount, request.reason, request.idempotency_key
        )

    @activity.defn(name="documents.create_document_order")
    async def create_document_order(self, request: FulfilmentRequest) -> FulfilmentRef:
        await self.documents.staff.upsert_staff("lawyer-1", "lawyer", "licence-1")
        created = await self.documents.orders.create(
            NewOrder(
                order_id=request.order_id,
                tenant_id=request.tenant_id,
                client_id=request.client_id,
                product_id=request.product_id,
                complexity="simple",
                paid_at=request.paid_at or utcnow(),
                acknowledge_within=timedelta(minutes=30),
                draft_within=timedelta(hours=24),
                revision_window=timedelta(days=3),
                requirements={},
            )
        )
        return FulfilmentRef(kind="document", id=created.view.row.id)

    @activity.defn(name="booking.confirm_booking")
    async def confirm_booking(self, request: FulfilmentRequest) -> FulfilmentRef:
        return FulfilmentRef(kind="booking", id=str(request.booking["booking_id"]))

    def all(self) -> list[Any]:
        return [
            self.expire_order,
            self.issue_voucher,
            self.issue_invoice,
            self.advance_order,
            self.refund_order,
            self.create_document_order,
            self.confirm_booking,
        ]


@dataclass
class Services:
    settings: Settings
    bus: EventBus
    documents: DocumentsStores
    payment: PaymentStores
    payment_db: Database
    temporal: Client
    task_queue: str

    async def paid(self, product: domain.ProductSnapshot, booking: dict[str, Any] | None = None) -> OrderView:
        """An order of `product` paid through the sandbox, its workflow driven by payment's own events, once
        it is in service."""
        created = await self.payment.orders.create(
            CLIENT,
            domain.new_order(product, "", {}, booking or {}),
            domain.DEFAULT_PAY_WITHIN,
            "",
            "",
        )
        order_id = created.view.row.id
        payment = await self.payment.payments.create(
            CLIENT,
            order_id,
            "sandbox",
            lambda payment_id, order: Checkout(pay_url="http://127.0.0.1/pay"),
            "",
        )
        note = Notification(f"n-{order_id}", payment.id, "SBX1", payment.amount_fen, "CNY", "paid")
        assert await self.payment.payments.apply_notification("sandbox", note) == "applied"
        async with self.payment_db.transaction() as session:
            payloads = await session.scalars(
                select(PAYMENT_TABLES.outbox.c.payload).order_by(PAYMENT_TABLES.outbox.c.seq)
            )
            for payload in list(payloads):
                envelope = EventEnvelope.FromString(payload)
                if envelope.aggregate_id == order_id:
                    await deliver(payment_events.TABLE["order-workflows"], self.link(), envelope, session)
        return await self.settled(order_id, "in_service")

    def link(self) -> OrderWorkflowLink:
        return OrderWorkflowLink(self.temporal, self.task_queue, timedelta(days=30), self.payment.orders.keys)

    async def tell(self, envelope: EventEnvelope) -> None:
        """A fulfilling service's event, as payment's `fulfilment-links` consumer hands it to its handler."""
        async with self.payment_db.transaction() as session:
            await deliver(payment_events.TABLE["fulfilment-links"], self.link(), envelope, session)

    async def settled(self, order_id: str, status: str) -> OrderView:
        for _ in range(150):
            view = await self.payment.orders.get(CLIENT, order_id)
            if view.row.status == status:
                return view
            await asyncio.sleep(0.1)
        raise AssertionError(f"order {order_id} is {view.row.status}, not {status}")

    async def outcome(self, order_id: str) -> str:
        """How the order's workflow ended it."""
        handle = self.temporal.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))
        return (await asyncio.wait_for(handle.result(), timeout=30)).status


@pytest.fixture
async def services(
    postgres_server: PostgresServer,
    nats_server: NatsServer,
    temporal_dev_server: TemporalDevServer,
    unique_name: str,
) -> AsyncIterator[Services]:
    settings = isolated_settings(
        postgres_server, nats_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, "documents", "payment") as databases:
        bus = await EventBus.connect(settings, name="order-fulfilment-test")
        temporal = await Client.connect(temporal_dev_server.address, data_converter=pydantic_data_converter)
        documents_db = databases["documents"]
        documents = DocumentsStores.build(
            documents_db,
            Outbox("documents", settings, DOCUMENT_TABLES),
            DataKeys(documents_db, master_key(settings), DOCUMENT_DATA_KEYS),
        )
        payment_db = databases["payment"]
        payment = PaymentStores.build(
            payment_db,
            Outbox("payment", settings, PAYMENT_TABLES),
            DataKeys(payment_db, master_key(settings), PAYMENT_DATA_KEYS),
        )
        async with Worker(
            temporal,
            task_queue=unique_name,
            workflows=[OrderWorkflow],
            activities=StoreActivities(documents, payment).all(),
        ):
            yield Services(settings, bus, documents, payment, databases["payment"], temporal, unique_name)
        await bus.js.delete_stream(settings.nats_stream)
        await bus.close()


async def refunds(services: Services, order_id: str) -> list[tuple[int, str]]:
    async with services.payment_db.transaction() as session:
        rows = (await session.exec(select_rows(RefundRow).where(RefundRow.order_id == order_id))).all()
    return [(r.amount_fen, r.reason) for r in rows]


async def test_only_a_supervisor_cancels_a_document_order_with_a_reason(services: Services) -> None:
    document_order_id = (await services.paid(DOCUMENT)).row.fulfilment_id
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
    assert reply.document_order.status_reason == "stated"  # typed words: kept in the stage, not on the order
    with pytest.raises(Conflict):  # nothing moves a cancelled order on
        await services.documents.orders.acknowledge(AGENT, document_order_id, "")
    async with services.documents.orders.db.transaction() as session:
        published = await session.scalar(
            select(func.count()).where(DOCUMENT_TABLES.outbox.c.subject.like("%.docorder.cancelled"))
        )
    assert published == 1  # the repeated cancel published nothing more


async def test_a_cancelled_document_order_refunds_its_order_once_over_nats(services: Services) -> None:
    view = await services.paid(DOCUMENT)
    order_id, document_order_id = view.row.id, view.row.fulfilment_id
    handlers = bind(payment_events.TABLE["fulfilment-links"], services.link())
    refunded = asyncio.Event()

    async def cancelled(envelope: EventEnvelope, session: AsyncSession) -> None:
        await handlers["documents.docorder.cancelled"](envelope, session)
        refunded.set()

    consumer = DurableConsumer(
        "fulfilment-links",
        services.bus,
        services.payment_db,
        PAYMENT_TABLES,
        {**handlers, "documents.docorder.cancelled": cancelled},
    )
    relay = OutboxRelay(services.documents.orders.db, services.documents.orders.outbox, services.bus)
    await services.documents.orders.cancel(SUPERVISOR, document_order_id, "律师无法按要求起草")
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
    try:
        await asyncio.wait_for(refunded.wait(), timeout=30)
        # JetStream redelivers the same event (e.g. the ack was lost): published again under a new
        # message id so that the stream's own deduplication does not hide it from the consumer.
        async with services.documents.orders.db.transaction() as session:
            payload = await session.scalar(
                select(DOCUMENT_TABLES.outbox.c.payload).where(
                    DOCUMENT_TABLES.outbox.c.subject.like("%.docorder.cancelled")
                )
            )
        subject = services.documents.orders.outbox.subject("docorder.cancelled")
        await services.bus.publish(subject, payload, "redelivery-1")
        assert await consumer.handle(payload, "documents.docorder.cancelled") == "duplicate"
        assert await services.outcome(order_id) == "refunded"
    finally:
        await cancel_all(tasks, "test")
    # Replayed to the handler itself, past the consumer's record of processed events: the workflow has
    # settled the order and is gone, so nothing happens twice.
    await services.tell(EventEnvelope.FromString(payload))

    view = await services.payment.orders.get(CLIENT, order_id)
    assert view.row.status == "refunded" and view.row.refunded_fen == PRICE
    assert await refunds(services, order_id) == [(PRICE, "fulfilment_cancelled")]
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
    view = await services.paid(DOCUMENT)
    order_id, document_order_id = view.row.id, view.row.fulfilment_id
    cancelled = documents_events.DocOrderCancelled(document_order_id=document_order_id, order_id=order_id)
    await services.tell(envelope("docorder.cancelled", cancelled, tenant_id="tenant-9"))
    other = documents_events.DocOrderCancelled(document_order_id="d-other", order_id=order_id)
    await services.tell(envelope("docorder.cancelled", other, tenant_id=TENANT))
    await asyncio.sleep(1)
    assert (await services.payment.orders.get(CLIENT, order_id)).row.status == "in_service"
    assert await refunds(services, order_id) == []


async def test_a_completed_document_order_completes_the_order_it_fulfils(services: Services) -> None:
    view = await services.paid(DOCUMENT)
    order_id, document_order_id = view.row.id, view.row.fulfilment_id

    def completed(document_order_id: str, tenant_id: str = TENANT) -> EventEnvelope:
        done = documents_events.DocOrderCompleted(document_order_id=document_order_id, order_id=order_id)
        return envelope("docorder.completed", done, tenant_id=tenant_id)

    await services.tell(completed("d-other"))  # not this order's fulfilment
    await services.tell(completed(document_order_id, tenant_id="tenant-9"))  # another enterprise's event
    await asyncio.sleep(1)
    assert (await services.payment.orders.get(CLIENT, order_id)).row.status == "in_service"
    await services.tell(completed(document_order_id))
    assert await services.outcome(order_id) == "completed"
    await services.tell(completed(document_order_id))  # a redelivery changes nothing
    view = await services.payment.orders.get(CLIENT, order_id)
    assert view.row.status == "completed"
    assert [s.stage for s in view.stages][-2:] == ["in_service", "completed"]


async def test_a_consultation_submitted_against_a_paid_order_becomes_its_fulfilment_and_ends_it(
    services: Services,
) -> None:
    """API.md: a consultation order's fulfilment is the consultation submitted against it — the first one
    (the consultation service lets only one spend an order); closed, served, it completes the order."""
    order_id = (await services.paid(CONSULTATION)).row.id

    def submitted(consultation_id: str, tenant_id: str = TENANT) -> EventEnvelope:
        message = consultation_events.ConsultationSubmitted(
            consultation_id=consultation_id, kind="professional", order_id=order_id
        )
        return envelope("consultation.submitted", message, tenant_id=tenant_id)

    await services.tell(submitted("c-other", tenant_id="tenant-9"))  # another enterprise's event
    await services.tell(submitted("c-1"))
    await services.tell(submitted("c-2"))  # the first consultation stays the fulfilment

    async def linked() -> OrderView:
        for _ in range(150):
            view = await services.payment.orders.get(CLIENT, order_id)
            if view.row.fulfilment_id:
                return view
            await asyncio.sleep(0.1)
        raise AssertionError("the consultation was never linked")

    view = await linked()
    assert (view.row.fulfilment_kind, view.row.fulfilment_id) == ("consultation", "c-1")
    assert view.stages[-1].stage == "consultation_started"
    closed = consultation_events.ConsultationClosed(consultation_id="c-1", order_id=order_id, served=True)
    await services.tell(envelope("consultation.closed", closed, tenant_id=TENANT))
    assert await services.outcome(order_id) == "completed"
    assert await refunds(services, order_id) == []


async def test_a_connected_online_call_that_used_up_a_phone_order_completes_it_once(
    services: Services,
) -> None:
    """Issue 24: a phone order pays for one call. A call never connected gives the order back (it stays in
    service, waiting); the connected call's end completes it, once, however often the end is redelivered."""
    order_id = (await services.paid(CONSULTATION)).row.id

    def ended(call_id: str, spent_order: bool) -> EventEnvelope:
        message = consultation_events.OnlineCallEnded(
            call_id=call_id, order_id=order_id, spent_order=spent_order
        )
        return envelope("online_call.ended", message, tenant_id=TENANT, aggregate_id=call_id)

    await services.tell(ended("call-unanswered", spent_order=False))
    await services.tell(
        envelope(
            "online_call.ended",
            consultation_events.OnlineCallEnded(call_id="call-x", order_id=order_id, spent_order=True),
            tenant_id="tenant-9",  # another enterprise's event
        )
    )
    await asyncio.sleep(1)
    handle = services.temporal.get_workflow_handle_for(OrderWorkflow.run, order_workflow_id(order_id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert (await services.payment.orders.get(CLIENT, order_id)).row.status == "in_service"

    connected = ended("call-1", spent_order=True)
    await services.tell(connected)
    assert await services.outcome(order_id) == "completed"
    await services.tell(connected)  # redelivered
    await services.tell(ended("call-1", spent_order=True))
    view = await services.payment.orders.get(CLIENT, order_id)
    assert (view.row.status, view.row.fulfilment_kind, view.row.fulfilment_id) == (
        "completed",
        "online_call",
        "call-1",
    )
    assert [s.stage for s in view.stages].count("completed") == 1
    assert await refunds(services, order_id) == []


async def test_a_consultation_closed_before_it_was_served_refunds_its_order(services: Services) -> None:
    order_id = (await services.paid(CONSULTATION)).row.id
    submitted = consultation_events.ConsultationSubmitted(consultation_id="c-1", order_id=order_id)
    await services.tell(envelope("consultation.submitted", submitted, tenant_id=TENANT))
    closed = consultation_events.ConsultationClosed(consultation_id="c-1", order_id=order_id, served=False)
    await services.tell(envelope("consultation.closed", closed, tenant_id=TENANT))
    assert await services.outcome(order_id) == "refunded"
    assert await refunds(services, order_id) == [(PRICE, "fulfilment_cancelled")]


async def test_a_finished_booking_completes_the_order_that_confirmed_it(services: Services) -> None:
    """R-BK-1: `booking.completed` (completed or no_show: the lawyer was there) completes the order, once."""
    order_id = (await services.paid(BOOKING, {"booking_id": "b-1"})).row.id

    def finished(booking_id: str, tenant_id: str = TENANT) -> EventEnvelope:
        message = booking_events.BookingCompleted(booking_id=booking_id, status="no_show", order_id=order_id)
        return envelope("booking.completed", message, tenant_id=tenant_id)

    await services.tell(finished("b-other"))  # not this order's booking
    await services.tell(finished("b-1", tenant_id="tenant-9"))  # another enterprise's event
    await asyncio.sleep(1)
    assert (await services.payment.orders.get(CLIENT, order_id)).row.status == "in_service"
    await services.tell(finished("b-1"))
    assert await services.outcome(order_id) == "completed"
    assert await refunds(services, order_id) == []


@pytest.mark.parametrize(("refund", "status"), [(0, "completed"), (50000, "completed"), (PRICE, "refunded")])
async def test_a_cancelled_booking_refunds_its_order_by_its_policy(
    services: Services, refund: int, status: str
) -> None:
    """The booking service decided the refund (its cancellation policy); the order makes it: a late
    cancellation keeps part of the price (the order is complete), a free one refunds it all."""
    order_id = (await services.paid(BOOKING, {"booking_id": "b-9"})).row.id
    cancelled = booking_events.BookingCancelled(
        booking_id="b-9", status="cancelled", reason="client_request", order_id=order_id, refund_fen=refund
    )
    await services.tell(envelope("booking.cancelled", cancelled, tenant_id=TENANT))
    assert await services.outcome(order_id) == status
    view = await services.payment.orders.get(CLIENT, order_id)
    assert (view.row.status, view.row.refunded_fen) == (status, refund)
    reason = "booking_cancelled: client_request"  # the client's refund notice says why
    assert await refunds(services, order_id) == ([(refund, reason)] if refund else [])


async def test_an_orders_workflow_names_the_held_booking_and_carries_nothing_the_client_typed(
    services: Services,
) -> None:
    """docs/privacy.md, "Workflow histories": the history is sealed with the platform's payload key, which
    no erasure destroys, so the workflow's input names the held booking by id alone — the address and the
    needs stay sealed in payment with the owner's data key."""
    booking = {
        "booking_id": "b-7",
        "lawyer_id": "lawyer-1",
        "address": "北京市朝阳区某路1号",
        "needs": "劳动纠纷",
    }
    order_id = (await services.paid(BOOKING, booking)).row.id
    history = await services.temporal.get_workflow_handle(order_workflow_id(order_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [params] = await services.temporal.data_converter.decode(started.input.payloads, [OrderWorkflowInput])
    assert params.booking == {"booking_id": "b-7"} and params.requirements == {}
