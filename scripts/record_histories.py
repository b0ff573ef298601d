"""Record workflow histories for the replay test (tests/workflows/test_replay.py).

    python scripts/record_histories.py

Runs each scenario of ConsultationWorkflow, ComplaintWorkflow, OrderWorkflow and BookingWorkflow on the time-skipping test server with no-op
activities and writes tests/workflows/histories/<workflow>_<scenario>.json when that file does not exist: a
history recorded before a patched() change keeps guarding the workflows that ran the code of before, so it
is never overwritten. After such a change, add scenarios under new names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from deploy.local.servers import find_binary
from workflows.booking import BookingWorkflow
from workflows.complaints import ComplaintWorkflow
from workflows.consultation import ConsultationWorkflow
from workflows.orders import OrderWorkflow
from workflows.shared import (
    AdvanceOrderInput,
    AssignInput,
    AssignResult,
    BookingCancelledSignal,
    BookingConfirmedSignal,
    BookingReminderInput,
    BookingWorkflowInput,
    ClassifyInput,
    ClassifyResult,
    CloseConsultationInput,
    ComplaintReopened,
    ComplaintWorkflowInput,
    ConsultationWorkflowInput,
    EscalateComplaintInput,
    EscalateInput,
    EscalateResult,
    FulfilmentEnded,
    FulfilmentRef,
    FulfilmentRequest,
    MessagePosted,
    OrderWorkflowInput,
    RecordStageInput,
    RefundOrderInput,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "histories"


@activity.defn(name="consultation.record_stage")
async def record_stage(request: RecordStageInput) -> None:
    return None


@activity.defn(name="consultation.close")
async def close(request: CloseConsultationInput) -> None:
    return None


@activity.defn(name="consultation.classify")
async def classify(request: ClassifyInput) -> ClassifyResult:
    return ClassifyResult(legal_field="labour")


@activity.defn(name="consultation.assign_lawyer")
async def assign_lawyer(request: AssignInput) -> AssignResult:
    return AssignResult(lawyer_id="lawyer-a", reason="recorded")


@activity.defn(name="consultation.escalate")
async def escalate(request: EscalateInput) -> EscalateResult:
    return EscalateResult(already_answered=False, to_lawyer_id="lawyer-b", reason="recorded")


@activity.defn(name="consultation.escalate_complaint")
async def escalate_complaint(request: EscalateComplaintInput) -> bool:
    return True


@activity.defn(name="consultation.close_complaint")
async def close_complaint(complaint_id: str) -> str:
    return "closed"


@activity.defn(name="payment.expire_order")
async def expire_order(order_id: str) -> str:
    return "cancelled"


@activity.defn(name="payment.issue_voucher")
async def issue_voucher(order_id: str) -> None:
    return None


@activity.defn(name="payment.issue_invoice")
async def issue_invoice(order_id: str) -> None:
    return None


@activity.defn(name="documents.create_document_order")
async def create_document_order(request: FulfilmentRequest) -> FulfilmentRef:
    return FulfilmentRef(kind="document", id="rec-document")


@activity.defn(name="booking.confirm_booking")
async def confirm_booking(request: FulfilmentRequest) -> FulfilmentRef:
    return FulfilmentRef(kind="booking", id="rec-booking")


@activity.defn(name="payment.advance_order")
async def advance_order(request: AdvanceOrderInput) -> None:
    return None


@activity.defn(name="payment.refund_order")
async def refund_order(request: RefundOrderInput) -> None:
    return None


@activity.defn(name="booking.expire_hold")
async def expire_hold(booking_id: str) -> str:
    return "expired"


@activity.defn(name="booking.remind")
async def remind(request: BookingReminderInput) -> None:
    return None


@activity.defn(name="booking.mark_no_show")
async def mark_no_show(booking_id: str) -> None:
    return None


@activity.defn(name="booking.complete")
async def complete_booking(booking_id: str) -> None:
    return None


TASK_QUEUE = "record"


@asynccontextmanager
async def recording(workflows: list[type], activities: list[Any]) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server with a worker for `workflows` on TASK_QUEUE."""
    async with (
        await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=find_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        ) as env,
        Worker(env.client, task_queue=TASK_QUEUE, workflows=workflows, activities=activities),
    ):
        yield env


async def save(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Wait for the workflow to finish and write its history as `<name>.json`, unless one was recorded."""
    await handle.result()
    path = OUT / f"{name}.json"
    if not path.exists():
        path.write_text((await handle.fetch_history()).to_json())


async def record_consultations() -> None:
    async with recording(
        [ConsultationWorkflow], [record_stage, close, classify, assign_lawyer, escalate]
    ) as env:
        scenarios = [
            ("quiet_period", None, False),
            ("closed_by_client", "closed_by_client", False),
            ("answered_after_breach", "closed_by_client", True),
        ]
        for name, close_reason, breach_first in scenarios:
            params = ConsultationWorkflowInput(
                consultation_id=f"rec-{name}",
                tenant_id="t1",
                kind="professional",
                submitted_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
                reply_within=timedelta(hours=24),
            )
            handle = await env.client.start_workflow(
                ConsultationWorkflow.run, params, id=f"consultation-rec-{name}", task_queue=TASK_QUEUE
            )
            if breach_first:
                await env.sleep(timedelta(hours=25))
                await handle.signal(
                    ConsultationWorkflow.message_posted,
                    MessagePosted(author_role="lawyer", first_lawyer_reply=True),
                )
            if close_reason:
                await handle.signal(ConsultationWorkflow.close, close_reason)
            await save(handle, f"consultation_{name}")


async def record_complaints() -> None:
    async with recording([ComplaintWorkflow], [escalate_complaint, close_complaint]) as env:
        for name in ("breached_then_accepted", "reopened_then_unanswered"):
            params = ComplaintWorkflowInput(
                complaint_id=f"rec-{name}",
                tenant_id="t1",
                due_at=await env.get_current_time() + timedelta(hours=24),
            )
            handle = await env.client.start_workflow(
                ComplaintWorkflow.run, params, id=f"complaint-rec-{name}", task_queue=TASK_QUEUE
            )
            if name == "breached_then_accepted":
                await env.sleep(timedelta(hours=25))
                await handle.signal(ComplaintWorkflow.resolved)
                await handle.signal(ComplaintWorkflow.closed)
            else:
                await handle.signal(ComplaintWorkflow.resolved)
                await env.sleep(timedelta(days=1))
                due_at = await env.get_current_time() + timedelta(hours=24)
                await handle.signal(ComplaintWorkflow.reopened, ComplaintReopened(due_at=due_at))
                await env.sleep(timedelta(hours=2))
                await handle.signal(ComplaintWorkflow.resolved)
            await save(handle, f"complaint_{name}")


async def record_orders() -> None:
    """`order_paid.json` was recorded before the order waited for its fulfilment (it ended in service)."""
    activities = [
        expire_order,
        issue_voucher,
        issue_invoice,
        create_document_order,
        confirm_booking,
        advance_order,
        refund_order,
    ]
    consultation = FulfilmentRef(kind="consultation", id="rec-consultation")
    scenarios: list[tuple[str, str, list[FulfilmentRef | FulfilmentEnded] | None]] = [
        ("payment_timeout", "consultation", None),
        (
            "consultation_completed",
            "consultation",
            [consultation, FulfilmentEnded(kind="consultation", id=consultation.id, served=True)],
        ),
        ("consultation_not_served", "consultation", []),
        (
            "document_cancelled",
            "document",
            [FulfilmentEnded(kind="document", id="rec-document", served=False)],
        ),
        (
            "booking_part_refunded",
            "booking",
            [FulfilmentEnded(kind="booking", id="rec-booking", served=False, refund_fen=5990)],
        ),
    ]
    async with recording([OrderWorkflow], activities) as env:
        for name, category, facts in scenarios:
            params = OrderWorkflowInput(
                order_id=f"rec-{name}",
                tenant_id="t1",
                product_id="p1",
                category=category,
                tier={"id": "standard", "price": 19900, "reply_hours": 24},
                pay_before=await env.get_current_time() + timedelta(minutes=30),
                booking={"booking_id": "rec-booking"} if category == "booking" else {},
                fulfil_within=timedelta(days=30) if category == "consultation" else None,
            )
            handle = await env.client.start_workflow(
                OrderWorkflow.run, params, id=f"order-rec-{name}", task_queue=TASK_QUEUE
            )
            if facts is not None:
                await handle.signal(OrderWorkflow.paid, "pay-1")
            for fact in facts or []:
                if isinstance(fact, FulfilmentEnded):
                    await handle.signal(OrderWorkflow.fulfilment_ended, fact)
                else:
                    await handle.signal(OrderWorkflow.fulfilment_started, fact)
            await save(handle, f"order_{name}")


async def record_bookings() -> None:
    async with recording(
        [BookingWorkflow], [expire_hold, remind, mark_no_show, complete_booking, refund_order]
    ) as env:
        # `booking_cancelled_with_refund.json` was recorded while this workflow refunded a cancellation;
        # `cancelled_by_the_order` is the same story now that the booking's order refunds it.
        for name in ("hold_expired", "completed", "cancelled_with_refund", "cancelled_by_the_order"):
            now = await env.get_current_time()
            params = BookingWorkflowInput(
                booking_id=f"rec-{name}",
                tenant_id="t1",
                start=now + timedelta(days=3),
                minutes=60,
                hold_expires_at=now + timedelta(minutes=45),
            )
            handle = await env.client.start_workflow(
                BookingWorkflow.run, params, id=f"booking-rec-{name}", task_queue=TASK_QUEUE
            )
            if name != "hold_expired":
                await handle.signal(BookingWorkflow.confirmed, BookingConfirmedSignal(order_id="o1"))
            if name == "completed":
                await env.sleep(params.start - await env.get_current_time())
                await handle.signal(BookingWorkflow.checked_in)
                await handle.signal(BookingWorkflow.completed)
            if name.startswith("cancelled"):
                await env.sleep(timedelta(hours=30))
                await handle.signal(
                    BookingWorkflow.cancelled,
                    BookingCancelledSignal(reason="client_request", order_id="o1", refund_fen=59900),
                )
            await save(handle, f"booking_{name}")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    await record_consultations()
    await record_complaints()
    await record_orders()
    await record_bookings()


if __name__ == "__main__":
    asyncio.run(main())
