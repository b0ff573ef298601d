"""OrderWorkflow (`order-<id>`): the whole order process in one place (R-PAY-2, R-PAY-3).

await payment until `pay_before` (timeout → the provider is re-queried, then the order is cancelled) →
voucher and invoice → start the fulfilment through its owner's activity (a document order is created in the
documents service, the held booking the order names is confirmed in the booking service; a consultation
order's consultation is started by its client, within the order's `fulfil_within`) → in service → wait for
the fulfilment's end, a signal the payment service's fulfilment-links consumer sends from the owner's event
→ complete, or refund as compensation when the fulfilment could not be started, was cancelled, failed or
was never served.

The owners run their fulfilments in workflows of their own (`docorder-<id>`, `booking-<id>`,
`consultation-<id>`), each of which ends, so the wait for the end needs no timer of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        ORDER_WORKFLOW,
        AdvanceOrderInput,
        FulfilmentEnded,
        FulfilmentRef,
        FulfilmentRequest,
        OrderOutcome,
        OrderWorkflowInput,
        RefundOrderInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# The activity that starts a product category's fulfilment in the service that owns it.
STARTS = {"document": "documents.create_document_order", "booking": "booking.confirm_booking"}
# The categories whose fulfilment the client starts (the consultation submitted against the order).
STARTED_BY_CLIENT = {"consultation"}
# Before this change the order ended `in_service` after `payment.start_fulfilment`, and the payment service
# completed it from the owner's events; histories recorded so still replay through that branch.
FULFILMENT_IN_WORKFLOW = "order-waits-for-its-fulfilment"


@workflow.defn(name=ORDER_WORKFLOW)
class OrderWorkflow:
    def __init__(self) -> None:
        self._stage = "pending_payment"
        self._payment_id: str | None = None
        self._cancel_reason: str | None = None
        self._paid_at: datetime | None = None
        self._fulfilment: FulfilmentRef | None = None
        self._ends: dict[tuple[str, str], FulfilmentEnded] = {}

    async def _call(self, name: str, arg: object, result_type: type | None = None) -> object:
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            result_type=result_type,
        )

    async def _wait(self, condition: Callable[[], bool], within: timedelta | None) -> bool:
        """Wait for `condition` (for ever when `within` is None); False when the time ran out first."""
        with contextlib.suppress(TimeoutError):  # time running out is a state, handled by the caller
            await workflow.wait_condition(condition, timeout=within)
        return condition()

    @workflow.run
    async def run(self, params: OrderWorkflowInput) -> OrderOutcome:
        order_id = params.order_id
        if self._payment_id is None and self._cancel_reason is None:
            remaining = params.pay_before - workflow.now()
            if remaining > timedelta(0):
                await self._wait(
                    lambda: self._payment_id is not None or self._cancel_reason is not None, remaining
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
        request = FulfilmentRequest(
            order_id=order_id,
            tenant_id=params.tenant_id,
            product_id=params.product_id,
            category=params.category,
            tier=params.tier,
            client_id=params.client_id,
            paid_at=self._paid_at,
            booking=params.booking,
        )
        if not workflow.patched(FULFILMENT_IN_WORKFLOW):
            return await self._started_by_payment(request)
        return await self._fulfil(params, request)

    async def _fulfil(self, params: OrderWorkflowInput, request: FulfilmentRequest) -> OrderOutcome:
        """Start the fulfilment (or wait for its client to), wait for its end, then complete or refund."""
        order_id = params.order_id
        if params.category in STARTS:
            try:
                ref = await self._call(STARTS[params.category], request, FulfilmentRef)
            except ActivityError:  # refused for good (retryable failures are retried by the policy)
                return await self._refund(order_id, "fulfilment_failed")
            assert isinstance(ref, FulfilmentRef)
            self._fulfilment = ref
        else:
            await self._advance(order_id, "in_service")
            if params.category not in STARTED_BY_CLIENT:  # e.g. a retainer: in service for its term
                return OrderOutcome(order_id=order_id, status="in_service")
            if not await self._wait(lambda: self._fulfilment is not None, params.fulfil_within):
                return await self._refund(order_id, "fulfilment_not_served")
        await self._advance(order_id, "in_service", self._fulfilment)
        await workflow.wait_condition(lambda: self._end() is not None)
        end = self._end()
        assert end is not None
        if not end.served and end.refund_fen != 0:
            refunded = await self._refund(order_id, end.reason, end.refund_fen or 0)
            if end.refund_fen is None:
                return refunded
        await self._advance(order_id, "completed")
        return OrderOutcome(order_id=order_id, status="completed")

    async def _started_by_payment(self, request: FulfilmentRequest) -> OrderOutcome:
        """The process as recorded before FULFILMENT_IN_WORKFLOW: `payment.start_fulfilment`, in service."""
        try:
            ref = await self._call("payment.start_fulfilment", request, FulfilmentRef)
        except ActivityError:
            return await self._refund(request.order_id, "fulfilment_failed")
        assert ref is None or isinstance(ref, FulfilmentRef)
        await self._advance(request.order_id, "in_service", ref)
        return OrderOutcome(order_id=request.order_id, status="in_service")

    def _end(self) -> FulfilmentEnded | None:
        """The end of this order's fulfilment, once its owner has recorded it."""
        if self._fulfilment is None:
            return None
        return self._ends.get((self._fulfilment.kind, self._fulfilment.id))

    async def _advance(self, order_id: str, status: str, fulfilment: FulfilmentRef | None = None) -> None:
        await self._call(
            "payment.advance_order",
            AdvanceOrderInput(
                order_id=order_id,
                status=status,
                fulfilment_kind=fulfilment.kind if fulfilment else "",
                fulfilment_id=fulfilment.id if fulfilment else "",
            ),
        )
        self._stage = status

    async def _refund(self, order_id: str, reason: str, amount: int = 0) -> OrderOutcome:
        """Compensation: the client paid for a service it did not get (`amount` fen; 0 = all that is left)."""
        await self._call(
            "payment.refund_order",
            RefundOrderInput(
                order_id=order_id, reason=reason, amount=amount, idempotency_key=str(workflow.uuid4())
            ),
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

    @workflow.signal
    def fulfilment_started(self, ref: FulfilmentRef) -> None:
        """The client started the order's fulfilment (submitted the consultation against it); the first
        one is the order's."""
        if self._fulfilment is None:
            self._fulfilment = ref

    @workflow.signal
    def fulfilment_ended(self, end: FulfilmentEnded) -> None:
        """The fulfilment's owner recorded its end. An end can overtake its start (both come from events),
        and one of another fulfilment than the order's is never waited for."""
        self.fulfilment_started(FulfilmentRef(kind=end.kind, id=end.id))
        self._ends.setdefault((end.kind, end.id), end)

    @workflow.query
    def stage(self) -> str:
        return self._stage
