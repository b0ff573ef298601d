"""Orders, payments, vouchers and the ledger report as the public API shows them."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from counsel.common.v1 import timeline_pb2
from counsel.payment.v1 import payment_service_pb2 as pb
from services.gateway.schemas.common import INT32_MAX, Money, RequestModel, money, or_none, rfc3339
from services.gateway.schemas.consultations import Stage


class InvoiceBuyer(RequestModel):
    title: str = Field(min_length=1, max_length=200, description="The enterprise's registered name.")
    tax_id: str | None = Field(default=None, max_length=50, description="Unified social credit code.")


class CreateOrder(RequestModel):
    product_id: str = Field(min_length=1, max_length=200)
    tier: str | None = Field(default=None, max_length=200, description="A tier's id; optional with one tier.")
    requirements: dict[str, Any] = Field(default_factory=dict, description="Answers to requirement_fields.")
    booking: dict[str, Any] | None = Field(default=None, description="Booking details for booking products.")
    invoice: InvoiceBuyer | None = Field(default=None, description="The buyer printed on the invoice.")


class CreatePayment(RequestModel):
    method: Literal["alipay", "wechat", "bank", "sandbox"]


class CreateRefund(RequestModel):
    amount: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Fen to refund; all that is left when omitted."
    )
    reason: str = Field(default="agent_refund", min_length=1, max_length=200)


class CancelOrder(RequestModel):
    reason: str | None = Field(default=None, max_length=200)


class Fulfilment(BaseModel):
    kind: str
    id: str


class Order(BaseModel):
    id: str
    status: str
    amount: Money | None
    refunded: Money | None
    pay_before: str | None
    created_at: str | None
    product_id: str
    product_name: str | None
    product_version: int | None = Field(description="The approved product version bought.")
    category: str | None
    tier: str | None
    client_id: str
    fulfilment: Fulfilment | None
    status_reason: str | None = Field(
        description="Why it was cancelled or last refunded: a reason code (payment_timeout, client_request, "
        "fulfilment_failed, agent_refund, ...) or `stated` when a person typed it; null otherwise."
    )

    @classmethod
    def from_proto(cls, order: pb.Order) -> Order:
        return cls(
            id=order.id,
            status=order.status,
            amount=money(order, "amount"),
            refunded=money(order, "refunded"),
            pay_before=rfc3339(order, "pay_before"),
            created_at=rfc3339(order, "created_at"),
            product_id=order.product_id,
            product_name=or_none(order.product_name),
            product_version=order.product_version or None,
            category=or_none(order.category),
            tier=or_none(order.tier_id),
            client_id=order.client_id,
            fulfilment=Fulfilment(kind=order.fulfilment.kind, id=order.fulfilment.id)
            if order.HasField("fulfilment")
            else None,
            status_reason=or_none(order.status_reason),
        )


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None


class Timeline(BaseModel):
    order_id: str
    status: str
    stages: list[Stage]

    @classmethod
    def of(cls, order: pb.Order, stages: Sequence[timeline_pb2.TimelineStage]) -> Timeline:
        return cls(order_id=order.id, status=order.status, stages=[Stage.from_proto(s) for s in stages])


class Payment(BaseModel):
    payment_id: str
    order_id: str
    method: str
    status: str
    amount: Money | None
    pay_url: str | None
    qr_code: str | None
    qr_png_base64: str | None = Field(default=None, description="PNG of a QR code of qr_code, Base64.")

    @classmethod
    def from_proto(cls, payment: pb.Payment) -> Payment:
        return cls(
            payment_id=payment.id,
            order_id=payment.order_id,
            method=payment.method,
            status=payment.status,
            amount=money(payment, "amount"),
            pay_url=or_none(payment.pay_url),
            qr_code=or_none(payment.qr_code),
            qr_png_base64=base64.b64encode(payment.qr_png).decode() if payment.qr_png else None,
        )


class Voucher(BaseModel):
    code: str
    order_id: str
    amount: Money | None
    product_id: str
    issued_at: str | None
    verify_url: str
    qr_png_base64: str = Field(description="PNG of a QR code of verify_url, Base64.")

    @classmethod
    def from_proto(cls, voucher: pb.Voucher) -> Voucher:
        return cls(
            code=voucher.code,
            order_id=voucher.order_id,
            amount=money(voucher, "amount"),
            product_id=voucher.product_id,
            issued_at=rfc3339(voucher, "issued_at"),
            verify_url=voucher.verify_url,
            qr_png_base64=base64.b64encode(voucher.qr_png).decode(),
        )


class VoucherVerification(BaseModel):
    valid: bool
    order_id: str
    amount: Money | None
    issued_at: str | None

    @classmethod
    def from_proto(cls, voucher: pb.Voucher) -> VoucherVerification:
        return cls(
            valid=True,
            order_id=voucher.order_id,
            amount=money(voucher, "amount"),
            issued_at=rfc3339(voucher, "issued_at"),
        )


class LedgerReport(BaseModel):
    valid: bool
    checked: int
    first_broken_seq: int | None = Field(description="The first entry that breaks the chain, if any.")
    problem: str | None
