"""Activities that tell the payment service what the order's workflow decided, over gRPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from temporalio import activity

from counsel.payment.v1 import payment_service_pb2 as pb
from workflows.shared import AdvanceOrderInput, RefundOrderInput

if TYPE_CHECKING:
    from counsel.payment.v1.payment_service_pb2_grpc import (
        PaymentInternalServiceAsyncStub,
        PaymentServiceAsyncStub,
    )


class PaymentActivities:
    def __init__(self, stub: PaymentServiceAsyncStub, internal: PaymentInternalServiceAsyncStub) -> None:
        self.stub = stub
        self.internal = internal

    @activity.defn(name="payment.expire_order")
    async def expire_order(self, order_id: str) -> str:
        """The order's status after its deadline: "paid" when a provider confirmed late, else "cancelled"."""
        reply = await self.internal.ExpireOrder(pb.ExpireOrderRequest(order_id=order_id))
        return reply.order.status

    @activity.defn(name="payment.issue_voucher")
    async def issue_voucher(self, order_id: str) -> None:
        await self.internal.IssueVoucher(pb.IssueVoucherRequest(order_id=order_id))

    @activity.defn(name="payment.issue_invoice")
    async def issue_invoice(self, order_id: str) -> None:
        await self.internal.IssueInvoice(pb.IssueInvoiceRequest(order_id=order_id))

    @activity.defn(name="payment.advance_order")
    async def advance_order(self, request: AdvanceOrderInput) -> None:
        fulfilment = (
            pb.Fulfilment(kind=request.fulfilment_kind, id=request.fulfilment_id)
            if request.fulfilment_id
            else None
        )
        await self.internal.AdvanceOrder(
            pb.AdvanceOrderRequest(order_id=request.order_id, status=request.status, fulfilment=fulfilment)
        )

    @activity.defn(name="payment.refund_order")
    async def refund_order(self, request: RefundOrderInput) -> None:
        """Refunds the order; one with nothing left to refund (an agent refunded it first) has nothing to
        compensate, which no retry would change."""
        try:
            await self.stub.RefundOrder(
                pb.RefundOrderRequest(
                    order_id=request.order_id,
                    amount=request.amount,
                    reason=request.reason,
                    idempotency_key=request.idempotency_key,
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            activity.logger.warning("refund refused: %s", exc.details())
