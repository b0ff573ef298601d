"""Orders (R-PAY-2, R-INFO-4): created awaiting payment, listed, cancelled while unpaid, moved on by their
workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.payment.v1 import events_pb2
from services.payment import domain
from services.payment.models import STAFF_READS, TABLES, OrderRow, PaymentRow
from services.payment.store.base import (
    OrderView,
    locked_order,
    money,
    order_view,
    record_stage,
    visible_order,
)
from services.payment.store.ledger import append_ledger
from services.payment.store.sealed import (
    BOOKING,
    BOOKING_FACTS,
    INVOICE_TAX_ID,
    INVOICE_TITLE,
    REQUIREMENTS,
    open_answers,
    order_subject,
    seal_answers,
)
from services.rules.reasons import reason_code
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, owner_subject
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    to_timestamp,
    utcnow,
)
from services.runtime.tenancy import require_visible


@dataclass(frozen=True)
class CreatedOrder:
    """The order a create returned, and whether this call created it (False: an Idempotency-Key replay)."""

    view: OrderView
    created: bool


async def cancel_unpaid(
    session: AsyncSession, outbox: Outbox, row: OrderRow, reason: str, actor: str
) -> None:
    """Cancel the locked unpaid order `row` in the caller's transaction: its open payments close, and the
    stage, the ledger entry and `order.cancelled` are recorded."""
    row.status = domain.next_order_status(row.status, "cancelled")
    row.status_reason = reason_code(reason)
    session.add(row)
    open_payments = (
        await session.exec(
            select(PaymentRow).where(PaymentRow.order_id == row.id, PaymentRow.status == "created")
        )
    ).all()
    for payment in open_payments:
        payment.status = domain.next_payment_status(payment.status, "closed")
        session.add(payment)
    await record_stage(session, row.id, "cancelled", actor)
    await append_ledger(
        session, row, domain.LedgerLine("order_cancelled", "", 0, {"reason": reason_code(reason)})
    )
    await outbox.add(
        session,
        "order.cancelled",
        events_pb2.OrderCancelled(order_id=row.id, client_id=row.client_id, reason=reason),
        aggregate_id=row.id,
        tenant_id=row.tenant_id,
        actor_id=actor,
    )


class Orders:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def create(
        self,
        principal: Principal,
        new: domain.NewOrder,
        pay_within: timedelta,
        idempotency_key: str,
        fingerprint: str,
        invoice_title: str = "",
        invoice_tax_id: str = "",
    ) -> CreatedOrder:
        """Store an order awaiting payment with its `order.created` event. A replay of the same
        Idempotency-Key and request returns the first order (created=False); another request → Conflict."""
        order_id = new_id()
        cipher = await self.keys.cipher(owner_subject(principal.tenant_id, principal.user_id))
        async with self.db.transaction() as session:
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session, TABLES, f"order:{principal.user_id}", idempotency_key, fingerprint, order_id
                )
                if existing is not None:
                    return CreatedOrder(await order_view(session, existing), False)
            now = utcnow()
            row = OrderRow(
                id=order_id,
                tenant_id=principal.tenant_id,
                client_id=principal.user_id,
                product_id=new.product_id,
                tier_id=str(new.tier["id"]),
                status="pending_payment",
                amount_fen=new.amount_fen,
                currency=new.currency,
                pay_before=now + pay_within,
                created_at=now,
                product_name=new.product_name,
                product_version=new.product_version,
                category=new.category,
                consultation_kind=new.consultation_kind,
                tier=new.tier,
                requirements=seal_answers(cipher, REQUIREMENTS, new.requirements),
                booking=seal_answers(cipher, BOOKING, new.booking, BOOKING_FACTS),
                invoice_title=cipher.seal(INVOICE_TITLE, invoice_title),
                invoice_tax_id=cipher.seal(INVOICE_TAX_ID, invoice_tax_id),
            )
            session.add(row)
            await session.flush()
            await record_stage(session, order_id, "pending_payment", principal.user_id, row.pay_before)
            await append_ledger(
                session, row, domain.LedgerLine("order_created", "", row.amount_fen, {"tier": row.tier_id})
            )
            await self.outbox.add(
                session,
                "order.created",
                events_pb2.OrderCreated(
                    order_id=order_id,
                    client_id=row.client_id,
                    product_id=row.product_id,
                    tier_id=row.tier_id,
                    amount=money(row.amount_fen, row.currency),
                    pay_before=to_timestamp(row.pay_before),
                ),
                aggregate_id=order_id,
                tenant_id=row.tenant_id,
                actor_id=principal.user_id,
            )
            return CreatedOrder(await order_view(session, order_id), True)

    async def get(self, principal: Principal | None, order_id: str) -> OrderView:
        """The order with its stages; NotFound when it does not exist or the caller may not see it. A staff
        member's read (its requirements are case material) is written to the staff access log."""
        async with self.db.transaction() as session:
            view = await visible_order(session, principal, order_id)
            row = view.row
            await STAFF_READS.record(session, principal, "order", row.id, row)
            return view

    async def requirements(self, order_id: str) -> dict[str, Any]:
        """The order's requirement answers in plaintext (ERASED_TEXT for erased ones), for its fulfilment;
        NotFound when there is no such order."""
        async with self.db.transaction() as session:
            row = await get_or_404(session, OrderRow, order_id, "order")
        return open_answers(await self.keys.cipher(order_subject(row)), REQUIREMENTS, row.requirements)

    async def page(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[OrderRow], str]:
        """One page of orders, newest first: a client's own enterprise's, or every order for staff."""
        query = select(OrderRow)
        if principal.is_client:
            query = query.where(OrderRow.tenant_id == principal.tenant_id)
        if status:
            query = query.where(OrderRow.status == status)
        query = newest_first(query, col(OrderRow.created_at), col(OrderRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    async def cancel(self, principal: Principal | None, order_id: str, reason: str) -> OrderView:
        """Cancel an unpaid order (idempotent for an order already cancelled); Conflict once it is paid."""
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            require_visible(principal, row.tenant_id, domain.STAFF_WHO_SEE_ORDERS, "order")
            if row.status != "cancelled":
                actor = principal.user_id if principal else "system"
                await cancel_unpaid(session, self.outbox, row, reason, actor)
            return await order_view(session, order_id)

    async def advance(self, order_id: str, status: str, kind: str, fulfilment_id: str) -> OrderView:
        """Move a paid order to in_service or completed and record what fulfils it, once (a consultation
        order's consultation is linked while the order is in service, as the stage `<kind>_started`);
        repeating a move is harmless."""
        domain.validate_advance(status)
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            target = domain.advance_to(row.status, status)
            linked = domain.links_fulfilment(row.status, row.fulfilment_id, kind, fulfilment_id)
            if linked:
                row.fulfilment_kind, row.fulfilment_id = kind, fulfilment_id
            if target is not None:
                row.status = target
                await record_stage(session, order_id, status, "system")
            elif linked:
                await record_stage(session, order_id, f"{kind}_started", "system")
            session.add(row)
            return await order_view(session, order_id)
