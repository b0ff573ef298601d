"""Drives each booking's BookingWorkflow from the service's own events: `booking.held` starts it
(idempotent: the workflow id is the business id) and the facts people or payment caused (confirmed,
rescheduled, cancelled, checked in, completed) become signals. Because the events come from the outbox, a
committed change always reaches its workflow, even if the process dies right after the commit."""

from __future__ import annotations

import contextlib
from typing import TypeVar

from google.protobuf.message import Message
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from counsel.booking.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.booking.domain import POLICY, Policy
from services.booking.models import BookingRow
from services.runtime.events import unpack
from services.runtime.records import from_timestamp
from workflows.shared import (
    BookingCancelledSignal,
    BookingConfirmedSignal,
    BookingRescheduledSignal,
    BookingWorkflowInput,
    booking_workflow_id,
)

M = TypeVar("M", bound=Message)

EVENTS = ("held", "confirmed", "rescheduled", "cancelled", "checked_in", "completed")
SUBJECTS = [f"booking.booking.{name}" for name in EVENTS]


class WorkflowDriver:
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
            confirmed = _payload(envelope, events_pb2.BookingConfirmed)
            row = await session.get(BookingRow, confirmed.booking_id)
            order_id = row.order_id if row is not None else ""
            await self._signal(confirmed.booking_id, "confirmed", BookingConfirmedSignal(order_id=order_id))
        elif kind == "booking.rescheduled":
            moved = _payload(envelope, events_pb2.BookingRescheduled)
            await self._signal(
                moved.booking_id, "rescheduled", BookingRescheduledSignal(start=from_timestamp(moved.start))
            )
        elif kind == "booking.cancelled":
            cancelled = _payload(envelope, events_pb2.BookingCancelled)
            if cancelled.status == "cancelled":  # "expired" was decided by the workflow itself
                await self._signal(
                    cancelled.booking_id,
                    "cancelled",
                    BookingCancelledSignal(
                        reason=cancelled.reason, order_id=cancelled.order_id, refund_fen=cancelled.refund_fen
                    ),
                )
        elif kind == "booking.checked_in":
            checked_in = _payload(envelope, events_pb2.BookingCheckedIn)
            await self._signal(checked_in.booking_id, "checked_in", None)
        elif kind == "booking.completed":
            completed = _payload(envelope, events_pb2.BookingCompleted)
            if completed.status == "completed":
                await self._signal(completed.booking_id, "completed", None)

    async def _start(self, row: BookingRow) -> None:
        assert row.hold_expires_at is not None
        params = BookingWorkflowInput(
            booking_id=row.id,
            tenant_id=row.tenant_id,
            start=row.start,
            minutes=row.minutes,
            hold_expires_at=row.hold_expires_at,
            reminders=list(self.policy.reminders),
            no_show_grace=self.policy.no_show_grace,
            auto_complete_after=self.policy.auto_complete_after,
        )
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.temporal.start_workflow(
                "BookingWorkflow",
                params,
                id=booking_workflow_id(row.id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def _signal(self, booking_id: str, name: str, arg: object) -> None:
        handle = self.temporal.get_workflow_handle(booking_workflow_id(booking_id))
        try:
            if arg is None:
                await handle.signal(name)
            else:
                await handle.signal(name, arg)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Not started yet (redelivered later) or already finished (nothing left to tell): only the
            # first is retried.
            description = await handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                raise


def _payload(envelope: EventEnvelope, message_type: type[M]) -> M:
    message = unpack(envelope, message_type)
    assert isinstance(message, message_type)
    return message
