"""Links each booking to its BookingWorkflow (`booking-<id>`) from the service's own events, through its
durable consumer `workflow-driver`, so a committed change always reaches the workflow, even if the process
dies right after the commit: `booking.held` starts it, and the facts people or payment caused (confirmed,
rescheduled, cancelled, checked in, completed) become signals."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from counsel.booking.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.booking.domain import POLICY, Policy, policy_for
from services.booking.models import BookingRow
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from services.runtime.temporal import signal_if_running, start_once
from workflows.shared import (
    BOOKING_WORKFLOW,
    BookingCancelledSignal,
    BookingConfirmedSignal,
    BookingRescheduledSignal,
    BookingWorkflowInput,
    booking_workflow_id,
)

EVENTS = ("held", "confirmed", "rescheduled", "cancelled", "checked_in", "completed")
SUBJECTS = [f"booking.booking.{name}" for name in EVENTS]


class WorkflowLink:
    def __init__(self, temporal: Client, task_queue: str, policy: Policy = POLICY) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self.policy = policy

    async def __call__(self, envelope: EventEnvelope, session: AsyncSession) -> None:
        kind = envelope.type
        if kind == "booking.held":
            row = await session.get(BookingRow, envelope.aggregate_id)
            if row is not None:
                await self._start(row)
        elif kind == "booking.confirmed":
            confirmed = unpack(envelope, events_pb2.BookingConfirmed)
            row = await session.get(BookingRow, confirmed.booking_id)
            order_id = row.order_id if row is not None else ""
            # The clocks after confirmation follow the paying product's terms (defaults without any).
            policy = policy_for(row.terms if row is not None else {}, self.policy)
            await self._signal(
                confirmed.booking_id,
                "confirmed",
                BookingConfirmedSignal(
                    order_id=order_id,
                    reminders=list(policy.reminders),
                    no_show_grace=policy.no_show_grace,
                    auto_complete_after=policy.auto_complete_after,
                ),
            )
        elif kind == "booking.rescheduled":
            moved = unpack(envelope, events_pb2.BookingRescheduled)
            await self._signal(
                moved.booking_id, "rescheduled", BookingRescheduledSignal(start=from_timestamp(moved.start))
            )
        elif kind == "booking.cancelled":
            cancelled = unpack(envelope, events_pb2.BookingCancelled)
            if cancelled.status == "cancelled":  # "expired" was decided by the workflow itself
                await self._signal(
                    cancelled.booking_id,
                    "cancelled",
                    BookingCancelledSignal(
                        reason=cancelled.reason, order_id=cancelled.order_id, refund_fen=cancelled.refund_fen
                    ),
                )
        elif kind == "booking.checked_in":
            await self._signal(unpack(envelope, events_pb2.BookingCheckedIn).booking_id, "checked_in")
        elif kind == "booking.completed":
            completed = unpack(envelope, events_pb2.BookingCompleted)
            if completed.status == "completed":
                await self._signal(completed.booking_id, "completed")

    async def _start(self, row: BookingRow) -> None:
        assert row.hold_expires_at is not None
        policy = policy_for(row.terms, self.policy)  # a booking with a product already follows its terms
        params = BookingWorkflowInput(
            booking_id=row.id,
            tenant_id=row.tenant_id,
            start=row.start,
            minutes=row.minutes,
            hold_expires_at=row.hold_expires_at,
            reminders=list(policy.reminders),
            no_show_grace=policy.no_show_grace,
            auto_complete_after=policy.auto_complete_after,
        )
        await start_once(
            self.temporal,
            BOOKING_WORKFLOW,
            params,
            id=booking_workflow_id(row.id),
            task_queue=self.task_queue,
        )

    async def _signal(self, booking_id: str, name: str, *args: object) -> None:
        await signal_if_running(self.temporal, booking_workflow_id(booking_id), name, *args)
