"""Links each booking to its BookingWorkflow (`booking-<id>`) from the service's own events, through its
durable consumer `workflow-driver` (services/booking/events.py), so a committed change always reaches the
workflow, even if the process dies right after the commit: `booking.held` starts it, and the facts people or payment caused (confirmed,
rescheduled, cancelled, checked in, completed) become signals."""

from __future__ import annotations

from temporalio.client import Client

from services.booking.domain import POLICY, Policy, policy_for
from services.booking.models import BookingRow
from services.runtime.keys import DataKeys
from services.runtime.temporal import signal_if_running, start_once
from workflows.shared import (
    BOOKING_WORKFLOW,
    BookingConfirmedSignal,
    BookingWorkflowInput,
    booking_workflow_id,
)


class WorkflowLink:
    """Starts and signals `booking-<id>`; services/booking/events.py says on which events."""

    def __init__(self, temporal: Client, task_queue: str, keys: DataKeys, policy: Policy = POLICY) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self.keys = keys  # the erasure consumer's handler destroys data keys (services/booking/events.py)
        self.policy = policy

    async def confirmed(self, booking_id: str, row: BookingRow | None) -> None:
        """Tell the workflow its booking is confirmed; the clocks after confirmation follow the paying
        product's terms (defaults without any)."""
        policy = policy_for(row.terms if row is not None else {}, self.policy)
        await self.signal(
            booking_id,
            "confirmed",
            BookingConfirmedSignal(
                order_id=row.order_id if row is not None else "",
                reminders=list(policy.reminders),
                no_show_grace=policy.no_show_grace,
                auto_complete_after=policy.auto_complete_after,
            ),
        )

    async def start(self, row: BookingRow) -> None:
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

    async def signal(self, booking_id: str, name: str, *args: object) -> None:
        await signal_if_running(self.temporal, booking_workflow_id(booking_id), name, *args)
