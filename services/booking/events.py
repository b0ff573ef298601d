"""The events booking receives (its durable consumers, subject → handler), each applied once by the runtime's
DurableConsumer in the transaction that records its id:
- `workflow-driver`: the service's own booking events drive `booking-<id>` (workflow_link.py): `booking.held`
  starts it, and the facts people or payment caused (confirmed, rescheduled, cancelled, checked in,
  completed) become signals;
- `erasure`: a user's erasure (services/booking/erasure.py), destroying their data keys."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.booking.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.booking import erasure
from services.booking.models import BookingRow
from services.booking.workflow_link import WorkflowLink
from services.runtime.erasure import SUBJECT, shredding_erasure_handler
from services.runtime.events import ConsumerTable, consumer_subjects, unpack
from services.runtime.records import from_timestamp
from workflows.shared import BookingCancelledSignal, BookingRescheduledSignal


async def held(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    row = await session.get(BookingRow, envelope.aggregate_id)
    if row is not None:
        await link.start(row)


async def confirmed(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    booking_id = unpack(envelope, events_pb2.BookingConfirmed).booking_id
    await link.confirmed(booking_id, await session.get(BookingRow, booking_id))


async def rescheduled(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    moved = unpack(envelope, events_pb2.BookingRescheduled)
    await link.signal(
        moved.booking_id, "rescheduled", BookingRescheduledSignal(start=from_timestamp(moved.start))
    )


async def cancelled(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    cancellation = unpack(envelope, events_pb2.BookingCancelled)
    if cancellation.status == "cancelled":  # "expired" was decided by the workflow itself
        await link.signal(
            cancellation.booking_id,
            "cancelled",
            BookingCancelledSignal(
                reason=cancellation.reason,
                order_id=cancellation.order_id,
                refund_fen=cancellation.refund_fen,
            ),
        )


async def checked_in(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    await link.signal(unpack(envelope, events_pb2.BookingCheckedIn).booking_id, "checked_in")


async def completed(link: WorkflowLink, envelope: EventEnvelope, session: AsyncSession) -> None:
    completion = unpack(envelope, events_pb2.BookingCompleted)
    if completion.status == "completed":
        await link.signal(completion.booking_id, "completed")


TABLE: ConsumerTable[WorkflowLink] = {
    "workflow-driver": {
        "booking.booking.held": held,
        "booking.booking.confirmed": confirmed,
        "booking.booking.rescheduled": rescheduled,
        "booking.booking.cancelled": cancelled,
        "booking.booking.checked_in": checked_in,
        "booking.booking.completed": completed,
    },
    "erasure": {SUBJECT: shredding_erasure_handler(erasure.erase_user)},
}
# The durable consumers (name → subject suffixes) `counsel migrate` creates as `booking-<name>`; with NATS
# authorization on, booking may read from these alone (deploy/nats_auth.py).
CONSUMERS = consumer_subjects(TABLE)
