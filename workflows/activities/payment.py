"""Activities that tell the payment service what the order's workflow decided, over gRPC, and start a paid
order's fulfilment in the service that owns it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from temporalio import activity
from temporalio.exceptions import ApplicationError

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.documents.v1 import documents_service_pb2 as docs_pb
from counsel.payment.v1 import payment_service_pb2 as pb
from services.runtime.forms import answer_text
from services.runtime.records import to_timestamp
from workflows.shared import AdvanceOrderInput, FulfilmentRef, FulfilmentRequest, RefundOrderInput

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceAsyncStub
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceAsyncStub
    from counsel.payment.v1.payment_service_pb2_grpc import (
        PaymentInternalServiceAsyncStub,
        PaymentServiceAsyncStub,
    )

# A refusal no retry can change: the order's fulfilment cannot be started and the order is refunded.
FINAL_CODES = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
)


class PaymentActivities:
    def __init__(
        self,
        stub: PaymentServiceAsyncStub,
        internal: PaymentInternalServiceAsyncStub,
        documents: DocumentsServiceAsyncStub | None = None,
        booking: BookingInternalServiceAsyncStub | None = None,
    ) -> None:
        self.stub = stub
        self.internal = internal
        self.documents = documents
        self.booking = booking

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

    @activity.defn(name="payment.start_fulfilment")
    async def start_fulfilment(self, request: FulfilmentRequest) -> FulfilmentRef | None:
        """Starts a paid order's fulfilment in its owning service. A document product gets a document order
        (CreateDocumentOrder is idempotent by order_id, so a retry returns the same one; the documents
        service takes the tier's clocks from the catalog and starts `docorder-<id>` itself). A consultation
        order is fulfilled by the consultation its client submits against it. A booking product confirms the
        held booking named in the order (`booking.booking_id`); one that expired, was cancelled or belongs to
        another enterprise is refused for good, and the order is refunded."""
        if request.category == "booking":
            return await self._confirm_booking(request)
        if request.category != "document":
            return None
        assert self.documents is not None, "the documents stub is needed to fulfil document orders"
        complexity = str(request.tier.get("complexity") or request.tier.get("id") or "")
        try:
            reply = await self.documents.CreateDocumentOrder(
                docs_pb.CreateDocumentOrderRequest(
                    order_id=request.order_id,
                    tenant_id=request.tenant_id,
                    client_id=request.client_id,
                    product_id=request.product_id,
                    complexity=complexity,
                    paid_at=to_timestamp(request.paid_at),
                    requirements={k: answer_text(v) for k, v in request.requirements.items()},
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in FINAL_CODES:
                raise ApplicationError(
                    f"documents refused the order: {exc.details()}", type=exc.code().name, non_retryable=True
                ) from None
            raise
        return FulfilmentRef(kind="document", id=reply.document_order.id)

    async def _confirm_booking(self, request: FulfilmentRequest) -> FulfilmentRef:
        assert self.booking is not None, "the booking stub is needed to fulfil booking orders"
        booking_id = str(request.booking.get("booking_id") or request.booking.get("id") or "")
        if not booking_id:
            raise ApplicationError("the order names no booking", type="INVALID_ARGUMENT", non_retryable=True)
        try:
            reply = await self.booking.ConfirmBooking(
                booking_pb.ConfirmBookingRequest(
                    booking_id=booking_id,
                    order_id=request.order_id,
                    tenant_id=request.tenant_id,
                    paid_fen=int(request.tier.get("price") or 0),
                    product_id=request.product_id,
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in FINAL_CODES:
                raise ApplicationError(
                    f"booking refused the order: {exc.details()}", type=exc.code().name, non_retryable=True
                ) from None
            raise
        return FulfilmentRef(kind="booking", id=reply.booking.id)

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
        await self.stub.RefundOrder(
            pb.RefundOrderRequest(
                order_id=request.order_id,
                amount=request.amount,
                reason=request.reason,
                idempotency_key=request.idempotency_key,
            )
        )
