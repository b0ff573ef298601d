"""ConsultationService's online-call RPCs (§6.2.4.1, §6.2.4.4): a client calls an online lawyer in the
browser, the lawyer accepts, either party ends it. Part of ConsultationServicer (server.py).

A call is paid for (§6.2.4.1): by the order the client names, else the consultation's order, a retainer or an
unused phone consultation order of the client's enterprise (domain.online_call_spends); without one it is 409
order_required naming the catalog's phone consultation product to buy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from counsel.catalog.v1 import catalog_service_pb2
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.payment.v1 import payment_service_pb2
from services.consultation import domain
from services.consultation.models import OnlineCallRow
from services.consultation.store import ConsultationStores
from services.consultation.store.online_calls import CalledLawyer
from services.runtime.context import Principal, current_principal
from services.runtime.errors import Unavailable
from services.runtime.records import to_timestamp

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub
    from counsel.payment.v1.payment_service_pb2_grpc import PaymentServiceAsyncStub

# The client's paid orders looked through for one that pays for a call (a page of each paid status).
ORDERS_LOOKED_AT = 100


def online_call_proto(row: OnlineCallRow) -> pb.OnlineCall:
    return pb.OnlineCall(
        id=row.id,
        client_id=row.client_id,
        lawyer_id=row.lawyer_id,
        media=row.media,
        status=row.status,
        consultation_id=row.consultation_id,
        order_id=row.order_id,
        created_at=to_timestamp(row.created_at),
        started_at=to_timestamp(row.started_at),
        ended_at=to_timestamp(row.ended_at),
        duration_seconds=row.duration_seconds,
        outcome=row.outcome,
        ended_by=row.ended_by,
    )


def call_order(order: payment_service_pb2.Order) -> domain.CallOrder:
    return domain.CallOrder(order.id, order.status, order.category, order.consultation_kind)


class OnlineCallRpcs:
    stores: ConsultationStores
    catalog: CatalogServiceAsyncStub | None
    payments: PaymentServiceAsyncStub

    async def StartOnlineCall(
        self, request: pb.StartOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartOnlineCallResponse:
        principal = current_principal()
        domain.validate_start_online_call(principal, request.media)
        lawyer = await self._lawyer(request.lawyer_id)
        domain.require_callable_lawyer(
            lawyer.active if lawyer else None,
            lawyer.unavailable_reason if lawyer else "",
            lawyer.online if lawyer else False,
        )
        assert lawyer is not None and principal is not None
        order_id, spends = await self._paying_order(principal, request.order_id, request.consultation_id)
        call = await self.stores.online_calls.start(
            principal,
            CalledLawyer(lawyer.id, lawyer.user_id),
            request.media,
            request.consultation_id,
            order_id,
            spends,
        )
        return pb.StartOnlineCallResponse(call=online_call_proto(call))

    async def GetOnlineCall(
        self, request: pb.GetOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOnlineCallResponse:
        view = await self.stores.online_calls.get(current_principal(), request.call_id)
        return pb.GetOnlineCallResponse(call=online_call_proto(view.call), party=view.party)

    async def AcceptOnlineCall(
        self, request: pb.AcceptOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptOnlineCallResponse:
        call = await self.stores.online_calls.accept(current_principal(), request.call_id)
        return pb.AcceptOnlineCallResponse(call=online_call_proto(call))

    async def EndOnlineCall(
        self, request: pb.EndOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.EndOnlineCallResponse:
        call = await self.stores.online_calls.end(current_principal(), request.call_id, request.outcome)
        return pb.EndOnlineCallResponse(call=online_call_proto(call))

    async def ListOnlineCalls(
        self, request: pb.ListOnlineCallsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOnlineCallsResponse:
        if request.order_id:
            calls = await self.stores.online_calls.for_order(current_principal(), request.order_id)
        else:
            calls = await self.stores.online_calls.for_lawyer(current_principal(), request.status)
        return pb.ListOnlineCallsResponse(items=[online_call_proto(call) for call in calls])

    async def _paying_order(
        self, principal: Principal, order_id: str, consultation_id: str
    ) -> tuple[str, bool]:
        """(order id, whether the call uses it up) of the order that pays for the call: `order_id` when the
        client names one, else the consultation's order, a retainer, or the oldest unused phone consultation
        order of the enterprise. Conflict order_required, naming the product to buy, when none does."""
        store = self.stores.online_calls
        if order_id:
            named = await self._call_order(order_id)
            spends = domain.online_call_spends(named) if named else None
            if spends is None:
                raise domain.order_required(
                    await self._phone_product(),
                    "order_id is not a paid phone consultation order or retainer of your enterprise",
                )
            if spends and await store.spent_orders([order_id]):
                raise domain.order_required(
                    await self._phone_product(), "order_id has paid for a call already"
                )
            return order_id, spends
        own = await store.consultation_order(principal, consultation_id) if consultation_id else ""
        consultation_order = await self._call_order(own) if own else None
        listed = await self._paid_orders()
        retainers = [o for o in listed if o.category == "retainer"]
        phone_orders = [o for o in reversed(listed) if o.category != "retainer"]  # oldest first
        candidates = [*([consultation_order] if consultation_order else []), *retainers, *phone_orders]
        spent = await store.spent_orders([o.order_id for o in candidates])
        for candidate in candidates:
            spends = domain.online_call_spends(candidate)
            if spends is not None and not (spends and candidate.order_id in spent):
                return candidate.order_id, spends
        raise domain.order_required(
            await self._phone_product(),
            "no paid phone consultation order or retainer of your enterprise is left to pay for the call",
        )

    async def _call_order(self, order_id: str) -> domain.CallOrder | None:
        """The client's order (the payment service scopes it to the caller's enterprise); None when unknown."""
        try:
            reply = await self.payments.GetOrder(payment_service_pb2.GetOrderRequest(order_id=order_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return call_order(reply.order)

    async def _paid_orders(self) -> list[domain.CallOrder]:
        """The enterprise's paid orders (paid, in service), newest first, at most a page of each status."""
        found: list[payment_service_pb2.Order] = []
        for status in domain.PAID_ORDER_STATUSES:
            reply = await self.payments.ListOrders(
                payment_service_pb2.ListOrdersRequest(
                    status=status, page=paging_pb2.PageRequest(limit=ORDERS_LOOKED_AT)
                )
            )
            found.extend(reply.orders)
        found.sort(key=lambda order: order.created_at.ToDatetime(), reverse=True)
        return [call_order(order) for order in found]

    async def _phone_product(self) -> domain.ProductToBuy | None:
        """The catalog's phone consultation product; None when the catalog lists none."""
        if self.catalog is None:
            return None
        reply = await self.catalog.ListProducts(
            catalog_service_pb2.ListProductsRequest(category="consultation")
        )
        for product in reply.products:
            if product.consultation_kind == "phone":
                return domain.ProductToBuy(product.id, product.name)
        return None

    async def _lawyer(self, lawyer_id: str) -> catalog_service_pb2.Lawyer | None:
        """The catalog's lawyer, or None when there is none."""
        if self.catalog is None:
            raise Unavailable("the lawyer directory is not connected")
        if not lawyer_id:
            return None
        try:
            reply = await self.catalog.GetLawyer(catalog_service_pb2.GetLawyerRequest(lawyer_id=lawyer_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return reply.lawyer
