"""Orders: buy a product tier, pay it, follow it, get its voucher. The payment service checks who may see
what (R-ACC-4) and every state transition; the gateway checks roles and shapes."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import Depends, Header, Query, Response, status

from counsel.common.v1 import paging_pb2
from counsel.payment.v1 import payment_service_pb2 as pb
from services.gateway import timeline
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.orders import (
    CancelOrder,
    CreateOrder,
    CreatePayment,
    CreateRefund,
    Order,
    OrderPage,
    Payment,
    Timeline,
    Voucher,
)
from services.runtime.context import Principal

router = api_router("orders")

CLIENTS = ("client", "client_admin")
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retry with the same key and body returns the first result; another body is 409.",
    ),
]
Client = Annotated[Principal, Depends(require_roles(*CLIENTS))]
OrderViewer = Annotated[Principal, Depends(require_roles(*CLIENTS, "agent", "supervisor"))]
Agent = Annotated[Principal, Depends(require_roles("agent", "supervisor"))]


@router.post("/api/v1/orders", response_model=Order, status_code=status.HTTP_201_CREATED)
async def create_order(
    body: CreateOrder, principal: Client, clients: ClientsDep, idempotency_key: IdempotencyKey = None
) -> Order:
    """An order at the catalog's current price of the tier, awaiting payment until `pay_before`."""
    reply = await clients.payment.CreateOrder(
        pb.CreateOrderRequest(
            product_id=body.product_id,
            tier_id=body.tier or "",
            requirements_json=json.dumps(body.requirements, ensure_ascii=False),
            booking_json=json.dumps(body.booking, ensure_ascii=False) if body.booking else "",
            idempotency_key=idempotency_key or "",
            invoice_title=body.invoice.title if body.invoice else "",
            invoice_tax_id=(body.invoice.tax_id or "") if body.invoice else "",
        )
    )
    return Order.from_proto(reply.order)


@router.get("/api/v1/orders", response_model=OrderPage)
async def list_orders(
    principal: OrderViewer,
    clients: ClientsDep,
    status: Annotated[
        str, Query(max_length=50, description="pending_payment|paid|in_service|completed|cancelled|refunded")
    ] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> OrderPage:
    reply = await clients.payment.ListOrders(
        pb.ListOrdersRequest(status=status, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return OrderPage(items=[Order.from_proto(o) for o in reply.orders], next_cursor=next_cursor(reply.page))


@router.get("/api/v1/orders/{order_id}", response_model=Order)
async def get_order(order_id: str, principal: OrderViewer, clients: ClientsDep) -> Order:
    reply = await clients.payment.GetOrder(pb.GetOrderRequest(order_id=order_id))
    return Order.from_proto(reply.order)


@router.get("/api/v1/orders/{order_id}/timeline", response_model=Timeline)
async def order_timeline(order_id: str, principal: OrderViewer, clients: ClientsDep) -> Timeline:
    """Every stage of the order (§9.2): payment's, then its fulfilment's as the owning service recorded
    them and the online calls it paid for outside a consultation, then the product's stages still pending
    (services/gateway/timeline.py)."""
    order = (await clients.payment.GetOrder(pb.GetOrderRequest(order_id=order_id))).order
    return Timeline.of(order, await timeline.order_timeline(clients, order))


@router.post("/api/v1/orders/{order_id}/cancel", response_model=Order)
async def cancel_order(
    order_id: str, principal: OrderViewer, clients: ClientsDep, body: CancelOrder | None = None
) -> Order:
    """Cancels an order that is not paid yet; a paid order is 409 (ask for a refund instead)."""
    reply = await clients.payment.CancelOrder(
        pb.CancelOrderRequest(order_id=order_id, reason=(body.reason if body else None) or "")
    )
    return Order.from_proto(reply.order)


@router.post("/api/v1/orders/{order_id}/refund", response_model=Order)
async def refund_order(
    order_id: str,
    principal: Agent,
    clients: ClientsDep,
    body: CreateRefund | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Order:
    """Full (no amount) or partial refund of a paid order, recorded in the ledger."""
    refund = body or CreateRefund()
    reply = await clients.payment.RefundOrder(
        pb.RefundOrderRequest(
            order_id=order_id,
            amount=refund.amount or 0,
            reason=refund.reason,
            idempotency_key=idempotency_key or "",
        )
    )
    return Order.from_proto(reply.order)


@router.post(
    "/api/v1/orders/{order_id}/payments", response_model=Payment, status_code=status.HTTP_201_CREATED
)
async def create_payment(
    order_id: str,
    body: CreatePayment,
    principal: Client,
    clients: ClientsDep,
    idempotency_key: IdempotencyKey = None,
) -> Payment:
    """Starts paying the order with one provider: where to pay (`pay_url`, `qr_code`)."""
    reply = await clients.payment.CreatePayment(
        pb.CreatePaymentRequest(order_id=order_id, method=body.method, idempotency_key=idempotency_key or "")
    )
    return Payment.from_proto(reply.payment)


@router.get("/api/v1/orders/{order_id}/voucher", response_model=Voucher)
async def order_voucher(order_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Voucher:
    """The digital voucher of a paid order (R-PAY-3), with a QR code of its verify link."""
    reply = await clients.payment.GetVoucher(pb.GetVoucherRequest(order_id=order_id))
    return Voucher.from_proto(reply.voucher)


@router.get(
    "/api/v1/orders/{order_id}/invoice",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The invoice PDF"}},
)
async def order_invoice(order_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Response:
    """The invoice as PDF (R-PAY-3), with its SHA-256 as `Repr-Digest` (RFC 9530)."""
    reply = await clients.payment.GetInvoice(pb.GetInvoiceRequest(order_id=order_id))
    digest = base64.b64encode(bytes.fromhex(reply.invoice.sha256)).decode()
    return Response(
        reply.pdf,
        media_type="application/pdf",
        headers={
            "Repr-Digest": f"sha-256=:{digest}:",
            "Content-Disposition": f'attachment; filename="{reply.invoice.number}.pdf"',
        },
    )
