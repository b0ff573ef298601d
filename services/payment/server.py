"""PaymentService over gRPC. Orders are created by the payment capability; this serves reads."""

from __future__ import annotations

import grpc
from sqlmodel import col, select

from counsel.common.v1 import money_pb2, paging_pb2
from counsel.payment.v1 import payment_service_pb2 as pb
from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceServicer
from services.payment.models import OrderRow
from services.runtime.context import current_principal
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, PermissionDenied
from services.runtime.records import decode_cursor, encode_cursor, page_size, to_timestamp
from services.runtime.tenancy import require_visible, signed_in

STATUSES = ("pending_payment", "paid", "in_service", "completed", "cancelled", "refunded")
STAFF_WHO_SEE_ORDERS = ("agent", "supervisor")


def order_proto(row: OrderRow) -> pb.Order:
    return pb.Order(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        product_id=row.product_id,
        tier_id=row.tier_id,
        status=row.status,
        amount=money_pb2.Money(amount=row.amount_fen, currency=row.currency),
        pay_before=to_timestamp(row.pay_before),
        created_at=to_timestamp(row.created_at),
        fulfilment=pb.Fulfilment(kind=row.fulfilment_kind, id=row.fulfilment_id)
        if row.fulfilment_id
        else None,
    )


class PaymentServicer(PaymentServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetOrder(
        self, request: pb.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderResponse:
        row = await self.db.get(OrderRow, request.order_id, "order")
        require_visible(current_principal(), row.tenant_id, STAFF_WHO_SEE_ORDERS, "order")
        return pb.GetOrderResponse(order=order_proto(row))

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOrdersResponse:
        principal = signed_in(current_principal(), "list orders")
        if request.status and request.status not in STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(STATUSES)}")
        limit = page_size(request.page.limit)
        statement = select(OrderRow)
        if principal.is_client:
            statement = statement.where(OrderRow.tenant_id == principal.tenant_id)
        elif not principal.has_role(*STAFF_WHO_SEE_ORDERS):
            raise PermissionDenied("only clients and agents or supervisors list orders")
        if request.status:
            statement = statement.where(OrderRow.status == request.status)
        if request.page.cursor:
            (last_id,) = decode_cursor(request.page.cursor)
            statement = statement.where(col(OrderRow.id) < last_id)
        statement = statement.order_by(col(OrderRow.id).desc()).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else ""
        return pb.ListOrdersResponse(
            orders=[order_proto(r) for r in rows[:limit]],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )
