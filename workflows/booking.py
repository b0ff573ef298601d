"""BookingWorkflow (`booking-<id>`, R-BK-1): hold the slot until `hold_expires_at` (unpaid → expired, the
slot is freed) → confirmed once the booking's order is paid → reminders to the client and the lawyer
24 h and 1 h before (again after a reschedule) → check-in by the lawyer within the grace period after
the start (else no-show) → completion with the lawyer's summary (completed automatically a day after the
end otherwise) → the completion event asks the client for a rating. A cancellation of a paid booking is
refunded by the booking's order (OrderWorkflow), by the amount the booking service's cancellation policy
decided.

Started by the booking service on its own `booking.held` event; the facts people cause (confirmed,
rescheduled, cancelled, checked in, completed) arrive as signals from that service's events."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        BOOKING_WORKFLOW,
        BookingCancelledSignal,
        BookingConfirmedSignal,
        BookingOutcome,
        BookingReminderInput,
        BookingRescheduledSignal,
        BookingWorkflowInput,
        RefundOrderInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# A reminder whose moment had passed by more than this when the workflow got there (the meeting was
# booked or confirmed later than that) is skipped rather than sent late.
REMINDER_TOLERANCE = timedelta(minutes=5)
AUTO_SUMMARY = "（系统自动完成）Completed automatically: the lawyer checked in but recorded no summary."
# Before this change the booking's own workflow refunded a cancelled paid booking; the order's workflow does
# now, from the cancellation's event. Bookings confirmed before it still refund here.
REFUND_BY_ORDER = "cancellation-refunded-by-the-order"


@workflow.defn(name=BOOKING_WORKFLOW)
class BookingWorkflow:
    def __init__(self) -> None:
        self._status = "held"
        self._start: datetime | None = None
        self._order_id = ""
        self._confirmed = False
        self._cancel: BookingCancelledSignal | None = None
        self._reschedules = 0
        self._checked_in = False
        self._completed = False
        self._reminders_sent: list[int] = []
        self._terms: BookingConfirmedSignal | None = None

    async def _call(self, name: str, arg: object, result_type: type | None = None) -> object:
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            result_type=result_type,
        )

    async def _wait(self, condition: Callable[[], bool], until: datetime) -> bool:
        """Wait for `condition` until the moment `until`; True when it came true, False when time ran out."""
        remaining = until - workflow.now()
        if condition():
            return True
        if remaining <= timedelta(0):
            return False
        with contextlib.suppress(TimeoutError):  # time running out is a state, handled by the caller
            await workflow.wait_condition(condition, timeout=remaining)
        return condition()

    def _outcome(self, params: BookingWorkflowInput, status: str, refund_fen: int = 0) -> BookingOutcome:
        self._status = status
        return BookingOutcome(
            booking_id=params.booking_id,
            status=status,
            refund_fen=refund_fen,
            reminders_sent=list(self._reminders_sent),
        )

    @workflow.run
    async def run(self, params: BookingWorkflowInput) -> BookingOutcome:
        booking_id = params.booking_id
        if self._start is None:
            self._start = params.start
        # 1. The hold: paid in time (confirmed) or released.
        await self._wait(lambda: self._confirmed or self._cancel is not None, params.hold_expires_at)
        if not self._confirmed:
            if self._cancel is not None:
                return self._outcome(params, "cancelled")
            # The service expires a still-held booking; a payment that won the race keeps it confirmed.
            status = await self._call("booking.expire_hold", booking_id, str)
            if status != "confirmed":
                return self._outcome(params, "expired")
            self._confirmed = True
        self._status = "confirmed"
        # Confirmed by an order whose workflow refunds a cancellation (False when replaying one confirmed
        # before: that workflow ended in service, so the refund stays here).
        order_refunds = workflow.patched(REFUND_BY_ORDER)
        # 2. Reminders and the meeting; a reschedule starts this part again from the new start.
        while self._cancel is None:
            version = self._reschedules
            start = self._start

            def interrupted(version: int = version) -> bool:
                return self._cancel is not None or self._reschedules != version

            moved = False
            # The paying product's terms, when the confirmation brought them, else the input's defaults.
            terms = self._terms
            reminders = terms.reminders if terms and terms.reminders is not None else params.reminders
            grace = terms.no_show_grace if terms and terms.no_show_grace is not None else params.no_show_grace
            auto_complete = (
                terms.auto_complete_after
                if terms and terms.auto_complete_after is not None
                else params.auto_complete_after
            )
            for lead in sorted(reminders, reverse=True):
                if await self._wait(interrupted, start - lead):
                    moved = True
                    break
                if workflow.now() < start and start - lead >= workflow.now() - REMINDER_TOLERANCE:
                    lead_minutes = int(lead.total_seconds() // 60)
                    await self._call(
                        "booking.remind",
                        BookingReminderInput(booking_id=booking_id, lead_minutes=lead_minutes),
                    )
                    self._reminders_sent.append(lead_minutes)
            if moved:
                continue
            arrived = await self._wait(
                lambda: self._checked_in or self._completed or interrupted(), start + grace
            )
            if self._cancel is not None:
                break
            if not (self._checked_in or self._completed):
                if arrived:  # rescheduled before anyone checked in
                    continue
                await self._call("booking.mark_no_show", booking_id)
                return self._outcome(params, "no_show")
            end = start + timedelta(minutes=params.minutes)
            if not await self._wait(lambda: self._completed, end + auto_complete):
                await self._call("booking.complete", booking_id)
            return self._outcome(params, "completed")
        # 3. Cancelled after confirmation: the order refunds what the policy allows.
        cancel = self._cancel
        assert cancel is not None
        order_id = cancel.order_id or self._order_id
        if cancel.refund_fen > 0 and order_id and not order_refunds:
            await self._call(
                "payment.refund_order",
                RefundOrderInput(
                    order_id=order_id,
                    reason=f"booking_cancelled: {cancel.reason}",
                    amount=cancel.refund_fen,
                    idempotency_key=str(workflow.uuid4()),
                ),
            )
        return self._outcome(params, "cancelled", cancel.refund_fen)

    @workflow.signal
    def confirmed(self, signal: BookingConfirmedSignal) -> None:
        """The booking's order was paid and the booking service confirmed it."""
        self._confirmed = True
        self._order_id = signal.order_id
        self._terms = signal

    @workflow.signal
    def rescheduled(self, signal: BookingRescheduledSignal) -> None:
        self._start = signal.start
        self._reschedules += 1

    @workflow.signal
    def cancelled(self, signal: BookingCancelledSignal) -> None:
        if self._cancel is None:
            self._cancel = signal

    @workflow.signal
    def checked_in(self) -> None:
        self._checked_in = True

    @workflow.signal
    def completed(self) -> None:
        self._completed = True

    @workflow.query
    def status(self) -> str:
        return self._status
