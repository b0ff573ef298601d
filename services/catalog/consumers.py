"""Catalog's view of orders, from payment and fulfilment events: who bought which product, who served it and
whether it finished. It decides who may review what (R-Q-1); the events are facts, applied idempotently by
the runtime's DurableConsumer (each event id once)."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2 as payment_events
from services.catalog.store.reviews import OrderRecords
from services.runtime.events import unpack

SUBJECTS = [
    "payment.order.created",
    "payment.order.paid",
    "payment.order.cancelled",
    "payment.order.refunded",
    "consultation.consultation.submitted",
    "consultation.consultation.assigned",
    "consultation.consultation.closed",
    "documents.docorder.completed",
]


class OrderEvents:
    """The handler of the `catalog-orders` consumer."""

    def __init__(self, store: OrderRecords) -> None:
        self.store = store

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        record = self.store.record_order_event
        kind = envelope.type
        if kind == "order.created":
            created = unpack(envelope, payment_events.OrderCreated)
            assert isinstance(created, payment_events.OrderCreated)
            await record(
                session,
                created.order_id,
                "created",
                client_id=created.client_id,
                tenant_id=envelope.tenant_id,
                product_id=created.product_id,
            )
        elif kind in ("order.paid", "order.cancelled", "order.refunded"):
            message_type = {
                "order.paid": payment_events.OrderPaid,
                "order.cancelled": payment_events.OrderCancelled,
                "order.refunded": payment_events.OrderRefunded,
            }[kind]
            fact: Message = unpack(envelope, message_type)
            await record(
                session,
                getattr(fact, "order_id"),  # noqa: B009 (three message types share the field)
                kind.removeprefix("order."),
                client_id=getattr(fact, "client_id"),  # noqa: B009
            )
        elif kind == "consultation.submitted":
            submitted = unpack(envelope, consultation_events.ConsultationSubmitted)
            assert isinstance(submitted, consultation_events.ConsultationSubmitted)
            if submitted.order_id:
                await record(session, submitted.order_id, "", consultation_id=submitted.consultation_id)
        elif kind == "consultation.assigned":
            assigned = unpack(envelope, consultation_events.ConsultationAssigned)
            assert isinstance(assigned, consultation_events.ConsultationAssigned)
            order_id = await self.store.order_of_consultation(session, assigned.consultation_id)
            lawyer_id = await self.store.lawyer_profile_id(session, assigned.lawyer_id)
            if order_id and lawyer_id:
                await record(session, order_id, "", lawyer_id=lawyer_id)
        elif kind == "consultation.closed":
            closed = unpack(envelope, consultation_events.ConsultationClosed)
            assert isinstance(closed, consultation_events.ConsultationClosed)
            order_id = await self.store.order_of_consultation(session, closed.consultation_id)
            if order_id:
                await record(session, order_id, "completed")
        elif kind == "docorder.completed":
            completed = unpack(envelope, documents_events.DocOrderCompleted)
            assert isinstance(completed, documents_events.DocOrderCompleted)
            if completed.order_id:
                await record(session, completed.order_id, "completed")
