"""PaymentService over gRPC: proto in → domain/store → proto out. No SQL here."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING

import grpc

from counsel.catalog.v1 import catalog_service_pb2
from counsel.common.v1 import paging_pb2, timeline_pb2
from counsel.payment.v1 import payment_service_pb2 as pb
from counsel.payment.v1.payment_service_pb2_grpc import PaymentInternalServiceServicer, PaymentServiceServicer
from services.payment import domain
from services.payment.config import PaymentSettings
from services.payment.invoices import InvoiceRenderer, InvoiceStorage
from services.payment.models import STAFF_READS, InvoiceRow, OrderRow, PaymentRow, VoucherRow
from services.payment.providers.base import (
    Checkout,
    InvalidNotification,
    Notification,
    Provider,
    ProviderUnavailable,
)
from services.payment.store import PaymentStores
from services.payment.store.base import OrderView, money
from services.payment.store.payments import Query
from services.payment.vouchers import VoucherSigner, qr_png, voucher_code
from services.rules.forms import RequirementSpec, answer_text
from services.runtime.context import current_principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unimplemented
from services.runtime.records import page_size, request_fingerprint, to_timestamp, utcnow
from services.runtime.tenancy import own_records, signed_in

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

log = logging.getLogger(__name__)

STATUSES = domain.ORDER_STATUSES
STAFF_WHO_SEE_ORDERS = domain.STAFF_WHO_SEE_ORDERS
FINAL_STATUSES = ("completed", "cancelled", "refunded")
ACCEPTED_OUTCOMES = ("applied", "duplicate", "ignored", "closed", "failed", "refund_due")


def order_proto(row: OrderRow, view: OrderView | None = None) -> pb.Order:
    order = pb.Order(
        id=row.id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        product_id=row.product_id,
        tier_id=row.tier_id,
        status=row.status,
        amount=money(row.amount_fen, row.currency),
        pay_before=to_timestamp(row.pay_before),
        created_at=to_timestamp(row.created_at),
        fulfilment=pb.Fulfilment(kind=row.fulfilment_kind, id=row.fulfilment_id)
        if row.fulfilment_id
        else None,
        product_name=row.product_name,
        category=row.category,
        refunded=money(row.refunded_fen, row.currency),
        consultation_kind=row.consultation_kind,
        product_version=row.product_version,
        status_reason=row.status_reason,
    )
    reply_hours = row.tier.get("reply_hours") if isinstance(row.tier, dict) else None
    if isinstance(reply_hours, int):
        order.reply_hours = reply_hours
    if view is not None:
        last = len(view.stages) - 1
        for i, stage in enumerate(view.stages):
            done = i < last or row.status in FINAL_STATUSES
            order.stages.append(
                timeline_pb2.TimelineStage(
                    stage=stage.stage,
                    status="done" if done else "current",
                    entered_at=to_timestamp(stage.entered_at),
                    due_at=to_timestamp(stage.due_at),
                    actor=stage.actor,
                )
            )
    return order


def payment_proto(row: PaymentRow) -> pb.Payment:
    return pb.Payment(
        id=row.id,
        order_id=row.order_id,
        method=row.method,
        status=row.status,
        amount=money(row.amount_fen, row.currency),
        pay_url=row.pay_url,
        qr_code=row.qr_code,
        created_at=to_timestamp(row.created_at),
        qr_png=qr_png(row.qr_code) if row.qr_code else b"",
    )


def product_snapshot(product: catalog_service_pb2.Product) -> domain.ProductSnapshot:
    tiers = []
    for tier in product.tiers:
        item: dict[str, object] = {"id": tier.id, "name": tier.name, "price": tier.price.amount}
        if tier.complexity:
            item["complexity"] = tier.complexity
        for name in ("delivery_hours", "revision_days", "acknowledge_minutes", "reply_hours"):
            if tier.HasField(name):
                item[name] = getattr(tier, name)
        tiers.append(item)
    return domain.ProductSnapshot(
        product_id=product.id,
        name=product.name,
        category=product.category,
        consultation_kind=product.consultation_kind,
        currency=product.price.currency or "CNY",
        tiers=tuple(tiers),
        requirement_fields=tuple(
            RequirementSpec(f.name, f.type, f.required, tuple(f.choices)) for f in product.requirement_fields
        ),
        version=product.version,
    )


class PaymentServicer(PaymentServiceServicer, PaymentInternalServiceServicer):
    def __init__(
        self,
        stores: PaymentStores,
        catalog: CatalogServiceAsyncStub,
        providers: dict[str, Provider],
        signer: VoucherSigner,
        settings: PaymentSettings,
        invoices: InvoiceStorage | None = None,
        renderer: InvoiceRenderer | None = None,
    ) -> None:
        self.stores = stores
        self.catalog = catalog
        self.providers = providers
        self.signer = signer
        self.settings = settings
        self.invoices = invoices
        self.renderer = renderer

    # -- orders ------------------------------------------------------------------------------------
    async def ListStaffAccess(
        self, request: pb.ListStaffAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStaffAccessResponse:
        entries = await STAFF_READS.of_caller(
            self.stores.orders.db, current_principal(), page_size(request.limit)
        )
        return pb.ListStaffAccessResponse(entries=entries)

    async def GetOrder(
        self, request: pb.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderResponse:
        view = await self.stores.orders.get(current_principal(), request.order_id)
        return pb.GetOrderResponse(order=order_proto(view.row, view))

    async def GetOrderTimeline(
        self, request: pb.GetOrderTimelineRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderTimelineResponse:
        raise Unimplemented("the gateway joins the order's timeline: GET /api/v1/orders/{id}/timeline")

    async def ListOrders(
        self, request: pb.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOrdersResponse:
        principal = signed_in(current_principal(), "list orders")
        if request.status and request.status not in STATUSES:
            raise InvalidArgument.for_field("status", f"must be one of {', '.join(STATUSES)}")
        if not principal.is_client and not principal.has_role(*STAFF_WHO_SEE_ORDERS):
            raise PermissionDenied("only clients and agents or supervisors list orders")
        rows, next_cursor = await self.stores.orders.page(
            principal, request.status, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListOrdersResponse(
            orders=[order_proto(r) for r in rows], page=paging_pb2.PageResponse(next_cursor=next_cursor)
        )

    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateOrderResponse:
        principal = domain.require_client(current_principal(), "order services")
        requirements = domain.parse_json_object(request.requirements_json, "requirements")
        booking = domain.parse_json_object(request.booking_json, "booking")
        if not request.product_id:
            raise InvalidArgument.for_field("product_id", "must not be empty")
        try:
            reply = await self.catalog.GetProduct(
                catalog_service_pb2.GetProductRequest(product_id=request.product_id)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument.for_field("product_id", "no such product") from exc
            raise
        new = domain.new_order(product_snapshot(reply.product), request.tier_id, requirements, booking)
        fingerprint = request_fingerprint(
            request.product_id,
            request.tier_id,
            requirements,
            booking,
            request.invoice_title,
            request.invoice_tax_id,
        )
        created = await self.stores.orders.create(
            principal,
            new,
            self.settings.pay_within,
            request.idempotency_key,
            fingerprint,
            request.invoice_title.strip()[:200],
            request.invoice_tax_id.strip()[:50],
        )
        return pb.CreateOrderResponse(order=order_proto(created.view.row, created.view))

    async def CancelOrder(
        self, request: pb.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelOrderResponse:
        principal = current_principal()
        reason = request.reason or ("client_request" if principal else "cancelled")
        view = await self.stores.orders.cancel(principal, request.order_id, reason)
        return pb.CancelOrderResponse(order=order_proto(view.row, view))

    def _queries(self) -> dict[str, Query]:
        """Each provider's query API, where it has one."""
        now = utcnow()
        queries: dict[str, Query] = {}

        def bind(query: Callable[[str, datetime], Awaitable[Notification | None]]) -> Query:
            return lambda payment_id: query(payment_id, now)

        for name, provider in self.providers.items():
            query = getattr(provider, "query", None)
            if query is not None:
                queries[name] = bind(query)
        return queries

    async def ExpireOrder(
        self, request: pb.ExpireOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExpireOrderResponse:
        domain.require_internal(current_principal())
        view = await self.stores.payments.expire_order(request.order_id, self._queries())
        return pb.ExpireOrderResponse(order=order_proto(view.row, view))

    async def AdvanceOrder(
        self, request: pb.AdvanceOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.AdvanceOrderResponse:
        domain.require_internal(current_principal())
        view = await self.stores.orders.advance(
            request.order_id, request.status, request.fulfilment.kind, request.fulfilment.id
        )
        return pb.AdvanceOrderResponse(order=order_proto(view.row, view))

    async def RefundOrder(
        self, request: pb.RefundOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefundOrderResponse:
        principal = current_principal()
        if principal is not None and not principal.has_role(*domain.STAFF_WHO_REFUND):
            raise PermissionDenied("refunds are made by agents")
        view = await self.stores.refunds.refund_order(
            principal,
            request.order_id,
            request.amount,
            request.reason or "agent_refund",
            request.idempotency_key,
        )
        return pb.RefundOrderResponse(order=order_proto(view.row, view))

    # -- payments ----------------------------------------------------------------------------------
    async def CreatePayment(
        self, request: pb.CreatePaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePaymentResponse:
        principal = domain.require_client(current_principal(), "pay orders")
        method = domain.require_method(request.method)
        provider = self.providers.get(method)
        if provider is None:
            raise Conflict(f"{method} is not available on this platform", reason="provider_unavailable")
        notify_url = self.settings.notify_url(method)

        async def checkout(payment_id: str, order: OrderRow) -> Checkout:
            try:
                where = provider.checkout(
                    payment_id, order.amount_fen, order.currency, order.product_name, notify_url, utcnow()
                )
                return await where if inspect.isawaitable(where) else where
            except ProviderUnavailable as exc:
                raise Conflict(str(exc), reason="provider_unavailable") from exc

        payment = await self.stores.payments.create(
            principal, request.order_id, method, checkout, request.idempotency_key
        )
        return pb.CreatePaymentResponse(payment=payment_proto(payment))

    async def ExportPaymentData(
        self, request: pb.ExportPaymentDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportPaymentDataResponse:
        """A client's own orders with their stages, vouchers and invoices (metadata); staff buy nothing."""
        principal = signed_in(current_principal(), "export your data")
        reply = pb.ExportPaymentDataResponse()
        for row in await own_records(principal, self.stores.orders.page):
            view = await self.stores.orders.get(principal, row.id)
            reply.orders.append(order_proto(view.row, view))
            if answers := await self.stores.orders.requirements(row.id):
                reply.requirements.append(
                    pb.OrderRequirements(
                        order_id=row.id, answers={name: answer_text(v) for name, v in answers.items()}
                    )
                )
            with suppress(NotFound):
                reply.vouchers.append(self._voucher_proto(await self.stores.vouchers.get(principal, row.id)))
            invoice = await self.stores.invoices.issued_for(principal, row.id)
            if invoice is not None:
                reply.invoices.append(invoice_proto(invoice))
        return reply

    async def HandleNotification(
        self, request: pb.HandleNotificationRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleNotificationResponse:
        provider = self.providers.get(request.provider)
        if provider is None:
            return pb.HandleNotificationResponse(accepted=False, outcome="unknown_provider")
        try:
            note = provider.parse_notification(
                {k.lower(): v for k, v in request.headers.items()}, request.body, utcnow()
            )
        except InvalidNotification as exc:
            log.warning("refused a notification", extra={"provider": provider.name, "why": str(exc)})
            return pb.HandleNotificationResponse(accepted=False, outcome="bad_signature")
        outcome = await self.stores.payments.apply_notification(provider.name, note)
        accepted = outcome in ACCEPTED_OUTCOMES
        return pb.HandleNotificationResponse(
            accepted=accepted,
            outcome=outcome,
            ack_body=provider.ack.body if accepted else "",
            ack_content_type=provider.ack.content_type,
        )

    async def SandboxPay(
        self, request: pb.SandboxPayRequest, context: grpc.aio.ServicerContext
    ) -> pb.SandboxPayResponse:
        if "sandbox" not in self.providers:
            raise NotFound("the sandbox provider exists only in dev and test")
        payment = await self.stores.sandbox.pay(request.payment_id)
        return pb.SandboxPayResponse(payment=payment_proto(payment))

    # -- vouchers ----------------------------------------------------------------------------------
    def _voucher_proto(self, row: VoucherRow) -> pb.Voucher:
        code = voucher_code(row.id, row.signature)
        verify_url = f"{self.settings.public_url}/api/v1/vouchers/{code}/verify"
        return pb.Voucher(
            code=code,
            order_id=row.order_id,
            amount=money(row.amount_fen, row.currency),
            issued_at=to_timestamp(row.issued_at),
            product_id=row.product_id,
            verify_url=verify_url,
            qr_png=qr_png(verify_url),
        )

    async def IssueVoucher(
        self, request: pb.IssueVoucherRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueVoucherResponse:
        domain.require_internal(current_principal())
        return pb.IssueVoucherResponse(
            voucher=self._voucher_proto(await self.stores.vouchers.issue(request.order_id, self.signer))
        )

    async def GetVoucher(
        self, request: pb.GetVoucherRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetVoucherResponse:
        principal = signed_in(current_principal(), "see vouchers")
        return pb.GetVoucherResponse(
            voucher=self._voucher_proto(await self.stores.vouchers.get(principal, request.order_id))
        )

    async def VerifyVoucher(
        self, request: pb.VerifyVoucherRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyVoucherResponse:
        voucher = await self.stores.vouchers.verify(request.code, self.signer)
        return pb.VerifyVoucherResponse(voucher=self._voucher_proto(voucher))

    async def VerifyLedger(
        self, request: pb.VerifyLedgerRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyLedgerResponse:
        principal = current_principal()
        if principal is not None and not principal.has_role("supervisor"):
            raise PermissionDenied("only supervisors verify the ledger")
        report = await self.stores.ledger.verify()
        return pb.VerifyLedgerResponse(
            valid=report.valid,
            checked=report.checked,
            first_broken_seq=report.first_broken_seq,
            problem=report.problem,
        )

    # -- invoices ----------------------------------------------------------------------------------
    def _storage(self) -> InvoiceStorage:
        if self.invoices is None:
            raise Conflict("invoices are not available", reason="invoices_unavailable")
        return self.invoices

    def _renderer(self) -> InvoiceRenderer:
        if self.renderer is None:
            raise Conflict("invoices are not available", reason="invoices_unavailable")
        return self.renderer

    async def IssueInvoice(
        self, request: pb.IssueInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueInvoiceResponse:
        domain.require_internal(current_principal())
        invoice = await self.stores.invoices.issue(
            request.order_id,
            self.settings.invoice_seller_name,
            self.settings.invoice_seller_tax_id,
            self._storage(),
            self._renderer(),
        )
        return pb.IssueInvoiceResponse(invoice=invoice_proto(invoice))

    async def GetOrderRequirements(
        self, request: pb.GetOrderRequirementsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOrderRequirementsResponse:
        domain.require_internal(current_principal())
        answers = await self.stores.orders.requirements(request.order_id)
        return pb.GetOrderRequirementsResponse(
            requirements={name: answer_text(value) for name, value in answers.items()}
        )

    async def GetInvoice(
        self, request: pb.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetInvoiceResponse:
        principal = signed_in(current_principal(), "see invoices")
        document = await self.stores.invoices.get(principal, request.order_id, self._storage())
        return pb.GetInvoiceResponse(invoice=invoice_proto(document.invoice), pdf=document.pdf)


def invoice_proto(row: InvoiceRow) -> pb.Invoice:
    return pb.Invoice(
        number=row.number,
        order_id=row.order_id,
        amount=money(row.amount_fen, row.currency),
        tax=money(row.tax_fen, row.currency),
        issued_at=to_timestamp(row.issued_at),
        sha256=row.sha256,
    )
