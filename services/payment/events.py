"""The events payment receives (its durable consumers, subject → handler), each applied once by the runtime's
DurableConsumer in the transaction that records its id:
- `order-workflows`: the service's own order events start and signal `order-<id>` (workflow_link.py);
- `fulfilment-links`: the fulfilling services' events tell the order's workflow that its fulfilment started
  (a consultation submitted against a consultation order) or ended: a consultation closed (served when a
  lawyer answered or a call took place), a document order completed or cancelled, a booking completed (a
  no-show too: the lawyer was there) or cancelled with the refund its policy decided, an online call that used
  up its phone order ended (served: it was connected);
- `erasure`: a user's erasure (services/payment/erasure.py)."""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.payment.v1 import events_pb2
from services.payment import erasure
from services.payment.models import OrderRow
from services.payment.workflow_link import OrderWorkflowLink
from services.runtime.erasure import SUBJECT, shredding_erasure_handler
from services.runtime.events import ConsumerTable, consumer_subjects, unpack
from workflows.shared import FulfilmentEnded, FulfilmentRef

log = logging.getLogger(__name__)


async def _order(session: AsyncSession, envelope: EventEnvelope) -> OrderRow | None:
    row = await session.get(OrderRow, envelope.aggregate_id)
    if row is None:
        log.error("event for an unknown order", extra={"event_id": envelope.id})
    return row


async def order_created(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    row = await _order(session, envelope)
    if row is not None:
        await link.start(row)


async def order_paid(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    paid = unpack(envelope, events_pb2.OrderPaid)
    row = await _order(session, envelope)
    if row is not None:
        await link.start(row, paid_by=paid.payment_id)


async def order_cancelled(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    cancelled = unpack(envelope, events_pb2.OrderCancelled)
    if await _order(session, envelope) is not None:
        await link.cancelled(envelope.aggregate_id, cancelled.reason)


async def consultation_submitted(
    link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession
) -> None:
    submitted = unpack(envelope, consultation_events.ConsultationSubmitted)
    started = FulfilmentRef(kind="consultation", id=submitted.consultation_id)
    await link.fulfilment(session, envelope.tenant_id, submitted.order_id, "fulfilment_started", started)


async def consultation_closed(
    link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession
) -> None:
    closed = unpack(envelope, consultation_events.ConsultationClosed)
    end = FulfilmentEnded(kind="consultation", id=closed.consultation_id, served=closed.served)
    await link.fulfilment(session, envelope.tenant_id, closed.order_id, "fulfilment_ended", end)


async def document_order_completed(
    link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession
) -> None:
    completed = unpack(envelope, documents_events.DocOrderCompleted)
    end = FulfilmentEnded(kind="document", id=completed.document_order_id, served=True)
    await link.fulfilment(session, envelope.tenant_id, completed.order_id, "fulfilment_ended", end)


async def document_order_cancelled(
    link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession
) -> None:
    cancelled = unpack(envelope, documents_events.DocOrderCancelled)
    end = FulfilmentEnded(kind="document", id=cancelled.document_order_id, served=False)
    await link.fulfilment(session, envelope.tenant_id, cancelled.order_id, "fulfilment_ended", end)


async def booking_completed(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    completed = unpack(envelope, booking_events.BookingCompleted)
    end = FulfilmentEnded(kind="booking", id=completed.booking_id, served=True)
    await link.fulfilment(session, envelope.tenant_id, completed.order_id, "fulfilment_ended", end)


async def booking_cancelled(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    cancelled = unpack(envelope, booking_events.BookingCancelled)
    if cancelled.status != "cancelled":  # an expired hold was never paid for
        return
    end = FulfilmentEnded(
        kind="booking",
        id=cancelled.booking_id,
        served=False,
        refund_fen=cancelled.refund_fen,
        reason=f"booking_cancelled: {cancelled.reason}",
    )
    await link.fulfilment(session, envelope.tenant_id, cancelled.order_id, "fulfilment_ended", end)


async def online_call_ended(link: OrderWorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    ended = unpack(envelope, consultation_events.OnlineCallEnded)
    if not ended.spent_order:  # never connected (its order was given back) or paid for by a retainer
        return
    end = FulfilmentEnded(kind="online_call", id=ended.call_id, served=True)
    await link.fulfilment(session, envelope.tenant_id, ended.order_id, "fulfilment_ended", end)


TABLE: ConsumerTable[OrderWorkflowLink] = {
    "order-workflows": {
        "payment.order.created": order_created,
        "payment.order.paid": order_paid,
        "payment.order.cancelled": order_cancelled,
    },
    "fulfilment-links": {
        "consultation.consultation.submitted": consultation_submitted,
        "consultation.consultation.closed": consultation_closed,
        "consultation.online_call.ended": online_call_ended,
        "documents.docorder.completed": document_order_completed,
        "documents.docorder.cancelled": document_order_cancelled,
        "booking.booking.completed": booking_completed,
        "booking.booking.cancelled": booking_cancelled,
    },
    "erasure": {SUBJECT: shredding_erasure_handler(erasure.erase_user)},
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `payment-<name>`; with NATS
# authorization on, payment may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
