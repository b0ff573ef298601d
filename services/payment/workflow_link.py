"""Links each order to its OrderWorkflow (`order-<id>`) from events, through durable consumers, so a committed
change always reaches the workflow, even if the process dies right after the commit:
- the service's own events (consumer `order-workflows`): `order.created` starts the workflow, `order.paid`
  signals it (signal-with-start), `order.cancelled` tells it the client gave up;
- the fulfilling services' events (consumer `fulfilment-links`) tell it its fulfilment started (the
  consultation submitted against a consultation order) and ended: a consultation closed (served when a lawyer
  answered or a call took place), a document order completed or cancelled, a booking completed (a no-show
  too: the lawyer was there) or cancelled with the refund its policy decided. The workflow completes or
  refunds the order; an event naming another enterprise's order is ignored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2
from services.payment.models import OrderRow
from services.runtime.events import unpack
from services.runtime.temporal import signal_if_running, start_once
from workflows.shared import (
    ORDER_WORKFLOW,
    FulfilmentEnded,
    FulfilmentRef,
    OrderWorkflowInput,
    order_workflow_id,
)

log = logging.getLogger(__name__)

SUBJECTS = ["payment.order.created", "payment.order.paid", "payment.order.cancelled"]
FULFILMENT_SUBJECTS = [
    "consultation.consultation.submitted",
    "consultation.consultation.closed",
    "documents.docorder.completed",
    "documents.docorder.cancelled",
    "booking.booking.completed",
    "booking.booking.cancelled",
]


class OrderWorkflowLink:
    def __init__(self, temporal: Client, task_queue: str, consultation_use_within: timedelta) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self.consultation_use_within = consultation_use_within

    def workflow_input(self, row: OrderRow) -> OrderWorkflowInput:
        return OrderWorkflowInput(
            order_id=row.id,
            tenant_id=row.tenant_id,
            product_id=row.product_id,
            category=row.category,
            tier=row.tier,
            pay_before=row.pay_before,
            client_id=row.client_id,
            requirements=row.requirements,
            booking=row.booking,
            fulfil_within=self.consultation_use_within if row.category == "consultation" else None,
        )

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        row = await session.get(OrderRow, envelope.aggregate_id)
        if row is None:
            log.error("event for an unknown order", extra={"event_id": envelope.id})
            return
        workflow_id = order_workflow_id(row.id)
        if envelope.type == "order.cancelled":
            cancelled = unpack(envelope, events_pb2.OrderCancelled)
            # A workflow that has finished cancelled the order itself (its time to pay ran out).
            await signal_if_running(self.temporal, workflow_id, "cancelled", cancelled.reason)
            return
        paid = unpack(envelope, events_pb2.OrderPaid) if envelope.type == "order.paid" else None
        await start_once(
            self.temporal,
            ORDER_WORKFLOW,
            self.workflow_input(row),
            id=workflow_id,
            task_queue=self.task_queue,
            start_signal="paid" if paid else None,
            start_signal_args=[paid.payment_id] if paid else [],
        )


@dataclass(frozen=True)
class FulfilmentFact:
    """What an owner's event tells the order `order_id`'s workflow: the signal and its argument."""

    order_id: str
    signal: str
    arg: FulfilmentRef | FulfilmentEnded


def fulfilment_fact(envelope: EventEnvelope) -> FulfilmentFact | None:
    """The fact a fulfilling service's event carries for the order it fulfils; None when it names none."""
    if envelope.type == "consultation.submitted":
        submitted = unpack(envelope, consultation_events.ConsultationSubmitted)
        started = FulfilmentRef(kind="consultation", id=submitted.consultation_id)
        return FulfilmentFact(submitted.order_id, "fulfilment_started", started)
    end: FulfilmentEnded
    if envelope.type == "consultation.closed":
        closed = unpack(envelope, consultation_events.ConsultationClosed)
        order_id = closed.order_id
        end = FulfilmentEnded(kind="consultation", id=closed.consultation_id, served=closed.served)
    elif envelope.type in ("docorder.completed", "docorder.cancelled"):
        finished = (
            unpack(envelope, documents_events.DocOrderCompleted)
            if envelope.type == "docorder.completed"
            else unpack(envelope, documents_events.DocOrderCancelled)
        )
        order_id = finished.order_id
        end = FulfilmentEnded(
            kind="document", id=finished.document_order_id, served=envelope.type == "docorder.completed"
        )
    elif envelope.type == "booking.completed":
        completed = unpack(envelope, booking_events.BookingCompleted)
        order_id = completed.order_id
        end = FulfilmentEnded(kind="booking", id=completed.booking_id, served=True)
    elif envelope.type == "booking.cancelled":
        cancelled = unpack(envelope, booking_events.BookingCancelled)
        if cancelled.status != "cancelled":  # an expired hold was never paid for
            return None
        order_id = cancelled.order_id
        end = FulfilmentEnded(
            kind="booking",
            id=cancelled.booking_id,
            served=False,
            refund_fen=cancelled.refund_fen,
            reason=f"booking_cancelled: {cancelled.reason}",
        )
    else:
        return None
    return FulfilmentFact(order_id, "fulfilment_ended", end) if order_id else None


class FulfilmentLink:
    def __init__(self, temporal: Client) -> None:
        self.temporal = temporal

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        fact = fulfilment_fact(envelope)
        if fact is None:
            return
        order = await session.get(OrderRow, fact.order_id)
        if order is None or order.tenant_id != envelope.tenant_id:
            return
        arg = fact.arg
        if (
            isinstance(arg, FulfilmentEnded)
            and (arg.refund_fen or 0) >= order.amount_fen - order.refunded_fen
        ):
            arg = arg.model_copy(update={"refund_fen": None})  # all that is left
        delivered = await signal_if_running(self.temporal, order_workflow_id(order.id), fact.signal, arg)
        if not delivered and (order.status, order.fulfilment_kind, order.fulfilment_id) == (
            "in_service",
            arg.kind,
            arg.id,
        ):
            # Put in service before OrderWorkflow waited for its fulfilment, its workflow has ended: an agent
            # refunds the order if its fulfilment was cancelled (docs/architecture.md).
            log.warning("an order in service has no workflow to settle it", extra={"order_id": order.id})
