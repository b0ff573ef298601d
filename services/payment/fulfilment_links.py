"""Links a paid order to what fulfils it, from the owning service's own events, so the order's
`fulfilment` and completion appear without a call between services:
- a consultation order's fulfilment is the consultation its client submits against it (API.md), from
  consultation's `consultation.submitted`;
- a document order (created for a paid document product by the order's workflow) completing, from
  documents' `docorder.completed`, completes the order;
- a document order cancelled (or failed) before completion, from documents' `docorder.cancelled`, refunds
  what is left of the order, exactly once (R-PAY-3: compensation);
- a booking order (its held booking confirmed by the order's workflow) is completed by booking's
  `booking.completed` (the meeting took place, or the client did not come: a no-show is not refunded), and
  ended by a cancellation that keeps part of the price (`booking.cancelled` with less than the order's amount
  to refund; the refund itself comes from the booking's workflow). A cancellation refunded in full leaves
  the order to its refund (→ refunded)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2 as booking_events
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from counsel.documents.v1 import events_pb2 as documents_events
from services.payment.models import OrderRow
from services.payment.store.fulfilments import Fulfilments
from services.runtime.events import unpack

SUBJECTS = [
    "consultation.consultation.submitted",
    "documents.docorder.completed",
    "documents.docorder.cancelled",
    "booking.booking.completed",
    "booking.booking.cancelled",
]


class FulfilmentLinker:
    def __init__(self, store: Fulfilments) -> None:
        self.store = store

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        if envelope.type == "booking.cancelled":
            booking_cancelled = unpack(envelope, booking_events.BookingCancelled)
            assert isinstance(booking_cancelled, booking_events.BookingCancelled)
            order = (
                await session.get(OrderRow, booking_cancelled.order_id)
                if booking_cancelled.order_id
                else None
            )
            if (
                order is not None
                and booking_cancelled.status == "cancelled"
                and booking_cancelled.refund_fen < order.amount_fen
            ):
                await self.store.complete_fulfilment(
                    session,
                    envelope.tenant_id,
                    booking_cancelled.order_id,
                    "booking",
                    booking_cancelled.booking_id,
                )
            return
        if envelope.type == "booking.completed":
            finished = unpack(envelope, booking_events.BookingCompleted)
            assert isinstance(finished, booking_events.BookingCompleted)
            if finished.order_id:
                await self.store.complete_fulfilment(
                    session, envelope.tenant_id, finished.order_id, "booking", finished.booking_id
                )
            return
        if envelope.type == "docorder.cancelled":
            cancelled = unpack(envelope, documents_events.DocOrderCancelled)
            assert isinstance(cancelled, documents_events.DocOrderCancelled)
            if cancelled.order_id:
                await self.store.refund_cancelled_fulfilment(
                    session,
                    envelope.tenant_id,
                    cancelled.order_id,
                    "document",
                    cancelled.document_order_id,
                )
            return
        if envelope.type == "docorder.completed":
            completed = unpack(envelope, documents_events.DocOrderCompleted)
            assert isinstance(completed, documents_events.DocOrderCompleted)
            if completed.order_id:
                await self.store.complete_fulfilment(
                    session, envelope.tenant_id, completed.order_id, "document", completed.document_order_id
                )
            return
        submitted = unpack(envelope, events_pb2.ConsultationSubmitted)
        assert isinstance(submitted, events_pb2.ConsultationSubmitted)
        if submitted.order_id:
            await self.store.link_fulfilment(
                session, envelope.tenant_id, submitted.order_id, "consultation", submitted.consultation_id
            )
