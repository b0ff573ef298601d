"""OrderWorkflow (`order-<id>`): await payment until `pay_before` (timeout → the provider is re-queried,
then the order is cancelled) → voucher and invoice → fulfilment as a child workflow → refund as compensation when the
fulfilment is cancelled or fails (R-PAY-2, R-PAY-3).

Which fulfilment a paid order gets is decided by the `payment.start_fulfilment` activity: a document order
(created in the documents service, which runs its own `docorder-<id>` workflow; the payment service completes
the order on `documents.docorder.completed`); the held booking the order names, confirmed in the booking
service (which runs its own `booking-<id>` workflow; the payment service completes the order on
`booking.booking.completed`); None for a consultation (the consultation its client submits is linked from
the consultation service's event). A fulfilment that cannot be started (e.g. requirements the documents
service refuses, or a booking whose hold expired) is compensated by a refund."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        AdvanceOrderInput,
        FulfilmentOutcome,
        FulfilmentRef,
        FulfilmentRequest,
        OrderOutcome,
        OrderWorkflowInput,
        RefundOrderInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._stage = "pending_payment"
        self._payment_id: str | None = None
        self._cancel_reason: str | None = None
        self._paid_at: datetime | None = None

    async def _call(self, name: str, arg: object, result_type: type | None = None) -> object:
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            result_type=result_type,
        )

    @workflow.run
    async def run(self, params: OrderWorkflowInput) -> OrderOutcome:
        order_id = params.order_id
        if self._payment_id is None and self._cancel_reason is None:
            remaining = params.pay_before - workflow.now()
            if remaining > timedelta(0):
                with contextlib.suppress(TimeoutError):  # the deadline passing is a state, handled below
                    await workflow.wait_condition(
                        lambda: self._payment_id is not None or self._cancel_reason is not None,
                        timeout=remaining,
                    )
        if self._payment_id is None:
            if self._cancel_reason is not None:
                self._stage = "cancelled"
                return OrderOutcome(order_id=order_id, status="cancelled", reason=self._cancel_reason)
            # The deadline passed: the service re-queries the providers, then pays or cancels the order.
            status = await self._call("payment.expire_order", order_id, str)
            if status != "paid":
                self._stage = "cancelled"
                return OrderOutcome(order_id=order_id, status="cancelled", reason="payment_timeout")
            self._paid_at = workflow.now()
        self._stage = "paid"
        await self._call("payment.issue_voucher", order_id)
        await self._call("payment.issue_invoice", order_id)
        try:
            ref = await self._call(
                "payment.start_fulfilment",
                FulfilmentRequest(
                    order_id=order_id,
                    tenant_id=params.tenant_id,
                    product_id=params.product_id,
                    category=params.category,
                    tier=params.tier,
                    client_id=params.client_id,
                    requirements=params.requirements,
                    paid_at=self._paid_at,
                    booking=params.booking,
                ),
                FulfilmentRef,
            )
        except ActivityError:  # refused for good (retryable failures are retried by the policy)
            return await self._refund(order_id, "fulfilment_failed")
        assert ref is None or isinstance(ref, FulfilmentRef)
        await self._call(
            "payment.advance_order",
            AdvanceOrderInput(
                order_id=order_id,
                status="in_service",
                fulfilment_kind=ref.kind if ref else "",
                fulfilment_id=ref.id if ref else "",
            ),
        )
        self._stage = "in_service"
        if ref is None or ref.workflow is None:
            return OrderOutcome(order_id=order_id, status="in_service")
        try:
            outcome = await workflow.execute_child_workflow(
                ref.workflow,
                FulfilmentRequest(
                    order_id=order_id,
                    tenant_id=params.tenant_id,
                    product_id=params.product_id,
                    category=params.category,
                    tier=params.tier,
                ),
                id=ref.workflow_id or f"fulfilment-{order_id}",
                result_type=FulfilmentOutcome,
            )
        except ChildWorkflowError:
            outcome = FulfilmentOutcome(status="failed")
        if outcome.status == "completed":
            await self._call(
                "payment.advance_order", AdvanceOrderInput(order_id=order_id, status="completed")
            )
            self._stage = "completed"
            return OrderOutcome(order_id=order_id, status="completed")
        return await self._refund(order_id, f"fulfilment_{outcome.status}")

    async def _refund(self, order_id: str, reason: str) -> OrderOutcome:
        """Compensation: the client paid for a service it did not get."""
        await self._call(
            "payment.refund_order",
            RefundOrderInput(order_id=order_id, reason=reason, idempotency_key=str(workflow.uuid4())),
        )
        self._stage = "refunded"
        return OrderOutcome(order_id=order_id, status="refunded", reason=reason)

    @workflow.signal
    def paid(self, payment_id: str) -> None:
        """The payment service applied a payment of this order."""
        if self._payment_id is None:
            self._payment_id = payment_id
            self._paid_at = workflow.now()

    @workflow.signal
    def cancelled(self, reason: str) -> None:
        """The order was cancelled before it was paid (by the client or an agent)."""
        if self._cancel_reason is None:
            self._cancel_reason = reason

    @workflow.query
    def stage(self) -> str:
        return self._stage
