"""BookingWorkflow on the time-skipping test server (R-BK-1): the hold, the reminders 24 h and 1 h before,
the no-show grace period and the automatic completion are Temporal timers, and every branch is driven
here — hold expiry, payment winning the race, confirmation with reminders, check-in and completion,
no-show, reschedule, and cancellation inside and outside the free window (the amount the booking service's
policy decides, refunded by the booking's order: tests/workflows/test_order_workflow.py). Activities are
fakes registered by name."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.booking import domain
from workflows.booking import BookingWorkflow
from workflows.shared import (
    BookingCancelledSignal,
    BookingConfirmedSignal,
    BookingReminderInput,
    BookingRescheduledSignal,
    BookingWorkflowInput,
    RefundOrderInput,
    booking_workflow_id,
)

HOLD = timedelta(minutes=45)
PAID_FEN = 59900


class FakeServices:
    """The booking service's internal commands and payment's refund, as the workflow calls them."""

    def __init__(self, *, expire_status: str = "expired") -> None:
        self.expire_status = expire_status
        self.calls: list[tuple[str, datetime]] = []
        self.reminders: list[tuple[int, datetime]] = []
        self.refunds: list[RefundOrderInput] = []

    def _at(self) -> datetime:
        return activity.info().current_attempt_scheduled_time

    @activity.defn(name="booking.expire_hold")
    async def expire_hold(self, booking_id: str) -> str:
        self.calls.append(("expire_hold", self._at()))
        return self.expire_status

    @activity.defn(name="booking.remind")
    async def remind(self, request: BookingReminderInput) -> None:
        self.reminders.append((request.lead_minutes, self._at()))

    @activity.defn(name="booking.mark_no_show")
    async def mark_no_show(self, booking_id: str) -> None:
        self.calls.append(("mark_no_show", self._at()))

    @activity.defn(name="booking.complete")
    async def complete(self, booking_id: str) -> None:
        self.calls.append(("complete", self._at()))

    @activity.defn(name="payment.refund_order")
    async def refund_order(self, request: RefundOrderInput) -> None:
        self.refunds.append(request)

    def activities(self) -> list:
        return [self.expire_hold, self.remind, self.mark_no_show, self.complete, self.refund_order]


def worker(env: WorkflowEnvironment, services: FakeServices) -> Worker:
    return Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4().hex}",
        workflows=[BookingWorkflow],
        activities=services.activities(),
    )


async def start(env: WorkflowEnvironment, task_queue: str, starts_in: timedelta) -> WorkflowHandle:
    """A held booking starting `starts_in` from the server's now (`handle.params`), 60 minutes long."""
    now = await env.get_current_time()
    booking_id = uuid.uuid4().hex
    params = BookingWorkflowInput(
        booking_id=booking_id,
        tenant_id="tenant-1",
        start=now + starts_in,
        minutes=60,
        hold_expires_at=now + HOLD,
    )
    handle = await env.client.start_workflow(
        BookingWorkflow.run, params, id=booking_workflow_id(booking_id), task_queue=task_queue
    )
    handle.params = params  # type: ignore[attr-defined]
    return handle


def confirmed() -> BookingConfirmedSignal:
    return BookingConfirmedSignal(order_id="order-1")


async def test_an_unpaid_hold_expires_and_frees_the_slot(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        outcome = await handle.result()
    assert outcome.status == "expired"
    [(name, at)] = services.calls
    assert name == "expire_hold" and at >= handle.params.hold_expires_at  # type: ignore[attr-defined]
    assert services.reminders == [] and services.refunds == []


async def test_a_payment_that_wins_the_race_with_the_hold_timer_keeps_the_booking(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices(expire_status="confirmed")
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        await env.sleep(HOLD + timedelta(minutes=1))
        assert await handle.query(BookingWorkflow.status) == "confirmed"
        await handle.signal(BookingWorkflow.cancelled, BookingCancelledSignal(reason="client_request"))
        outcome = await handle.result()
    assert outcome.status == "cancelled"
    assert [name for name, _ in services.calls] == ["expire_hold"]


async def test_confirmed_reminders_check_in_and_completion(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(BookingWorkflow.confirmed, confirmed())
        await env.sleep(params.start - await env.get_current_time())  # to the meeting
        assert [lead for lead, _ in services.reminders] == [1440, 60]
        await handle.signal(BookingWorkflow.checked_in)
        await env.sleep(timedelta(minutes=50))
        await handle.signal(BookingWorkflow.completed)
        outcome = await handle.result()
    assert outcome.status == "completed" and outcome.reminders_sent == [1440, 60]
    day_before, hour_before = (at for _, at in services.reminders)
    assert day_before >= params.start - timedelta(hours=24)
    assert params.start - timedelta(hours=1) <= hour_before < params.start
    assert services.calls == [] and services.refunds == []  # no expiry, no no-show, no auto-completion


async def test_a_checked_in_meeting_without_a_summary_is_completed_a_day_after_its_end(
    env: WorkflowEnvironment,
) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(hours=5))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(BookingWorkflow.confirmed, confirmed())
        await env.sleep(params.start - await env.get_current_time())
        await handle.signal(BookingWorkflow.checked_in)
        outcome = await handle.result()
    assert outcome.status == "completed"
    [(name, at)] = services.calls
    assert name == "complete" and at >= params.start + timedelta(minutes=60) + timedelta(hours=24)
    # Booked 5 h ahead: the 24 h reminder's moment had passed, only the 1 h one is sent.
    assert [lead for lead, _ in services.reminders] == [60]


async def test_nobody_checks_in_within_the_grace_period_is_a_no_show(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=2))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(BookingWorkflow.confirmed, confirmed())
        outcome = await handle.result()
    assert outcome.status == "no_show"
    [(name, at)] = services.calls
    assert name == "mark_no_show" and at >= params.start + timedelta(minutes=30)
    assert services.refunds == []  # a no-show is not refunded


async def test_a_reschedule_moves_the_reminders_and_the_meeting(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(BookingWorkflow.confirmed, confirmed())
        await env.sleep(timedelta(hours=50))  # the first 24 h reminder went out
        assert [lead for lead, _ in services.reminders] == [1440]
        new_start = params.start + timedelta(days=2)
        await handle.signal(BookingWorkflow.rescheduled, BookingRescheduledSignal(start=new_start))
        outcome = await handle.result()  # nobody checks in at the new time
    assert outcome.status == "no_show"
    assert [lead for lead, _ in services.reminders] == [1440, 1440, 60]
    _, second_day_before = services.reminders[1]
    assert second_day_before >= new_start - timedelta(hours=24)
    [(name, at)] = services.calls
    assert name == "mark_no_show" and at >= new_start + timedelta(minutes=30)


async def test_the_paying_products_terms_set_the_reminders_and_the_no_show_grace(
    env: WorkflowEnvironment,
) -> None:
    """Product terms (catalog parameters reminder_hours="48,2", no_show_grace_minutes="10") arrive with the
    confirmation and replace the input's defaults."""
    policy = domain.policy_for({"reminder_hours": "48,2", "no_show_grace_minutes": "10"})
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(
            BookingWorkflow.confirmed,
            BookingConfirmedSignal(
                order_id="order-1",
                reminders=list(policy.reminders),
                no_show_grace=policy.no_show_grace,
                auto_complete_after=policy.auto_complete_after,
            ),
        )
        outcome = await handle.result()
    assert outcome.status == "no_show" and outcome.reminders_sent == [2880, 120]
    two_days_before, two_hours_before = (at for _, at in services.reminders)
    assert two_days_before >= params.start - timedelta(hours=48)
    assert params.start - timedelta(hours=2) <= two_hours_before < params.start - timedelta(hours=1)
    [(name, at)] = services.calls
    assert name == "mark_no_show"
    assert params.start + timedelta(minutes=10) <= at < params.start + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("cancel_before_start", "refund"),
    [(timedelta(hours=30), PAID_FEN), (timedelta(hours=3), PAID_FEN // 2)],
    ids=["inside the free window", "outside the free window"],
)
async def test_cancelling_a_paid_booking_ends_it_with_the_refund_the_policy_decided(
    env: WorkflowEnvironment, cancel_before_start: timedelta, refund: int
) -> None:
    """The refund is the order's to make (OrderWorkflow, from `booking.cancelled`), never this workflow's
    too: a booking confirmed before that change refunded here, and its recorded history still replays
    (tests/workflows/histories/booking_cancelled_with_refund.json)."""
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        params = handle.params  # type: ignore[attr-defined]
        await handle.signal(BookingWorkflow.confirmed, confirmed())
        await env.sleep(params.start - cancel_before_start - await env.get_current_time())
        now = await env.get_current_time()
        # The amount is the booking service's decision at the moment of the cancel (domain policy).
        decided = domain.cancellation_refund("confirmed", PAID_FEN, params.start, now)
        assert decided == refund
        await handle.signal(
            BookingWorkflow.cancelled,
            BookingCancelledSignal(reason="client_request", order_id="order-1", refund_fen=decided),
        )
        outcome = await handle.result()
    assert (outcome.status, outcome.refund_fen) == ("cancelled", refund)
    assert services.refunds == [] and services.calls == []


async def test_cancelling_a_held_booking_refunds_nothing(env: WorkflowEnvironment) -> None:
    services = FakeServices()
    async with worker(env, services) as w:
        handle = await start(env, w.task_queue, timedelta(days=3))
        await handle.signal(BookingWorkflow.cancelled, BookingCancelledSignal(reason="client_request"))
        outcome = await handle.result()
    assert outcome.status == "cancelled"
    assert services.calls == [] and services.refunds == [] and services.reminders == []
