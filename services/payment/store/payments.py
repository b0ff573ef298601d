"""Payments of orders and the providers' notifications about them (R-PAY-1, R-PAY-2): exactly-once payment.

A notification's (provider, id) is claimed first, so a replay has no second effect; notifications of one
order serialise on the order's row lock (taken before its payments' as every writer takes them); what a
report does is decided by `domain.notification_effects`, and money reported paid is never refused; a partial
unique index allows one paid payment per order."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import Counter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.payment.v1 import events_pb2
from services.payment import domain
from services.payment.models import (
    TABLES,
    OrderRow,
    PaymentRow,
    ProviderNotificationRow,
    RefundRow,
    SandboxTransactionRow,
)
from services.payment.providers.base import Checkout, Notification
from services.payment.store.base import OrderView, locked_order, money, order_view, record_stage
from services.payment.store.ledger import append_ledger
from services.payment.store.orders import cancel_unpaid
from services.payment.store.sandbox import Sandbox
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.metrics import UNTIERED, count_deadline
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint, utcnow
from services.runtime.tenancy import require_visible

log = logging.getLogger(__name__)

AMOUNT_MISMATCHES = Counter(
    "counsel_payment_amount_mismatches_total",
    "Provider notifications whose amount or currency differs from the payment's (alert on any).",
    ["provider"],
)
UNAPPLIED_PAYMENTS = Counter(
    "counsel_payment_unapplied_payments_total",
    "Payments that succeeded for an order that was already paid or cancelled; they are due a refund.",
    ["provider"],
)

# A provider's query API: its record of a payment, or None when it has none.
Query = Callable[[str], Awaitable[Notification | None]]


class Payments:
    def __init__(self, db: Database, outbox: Outbox, sandbox: Sandbox) -> None:
        self.db = db
        self.outbox = outbox
        self.sandbox = sandbox

    async def create(
        self,
        principal: Principal,
        order_id: str,
        method: str,
        checkout: Any,
        idempotency_key: str,
    ) -> PaymentRow:
        """A payment of the whole order with `method`. `checkout(payment_id, order)` → Checkout (or an
        awaitable of one) asks the provider where to pay (possibly over its API, while the order's row is
        locked, so two payments of one order are never ordered at once). Conflict unless the order awaits
        payment."""
        payment_id = new_id()
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            require_visible(principal, row.tenant_id, (), "order")
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"payment:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(order_id, method),
                    payment_id,
                )
                if existing is not None:
                    payment = await session.get(PaymentRow, existing)
                    if payment is None:
                        raise NotFound("no such payment")
                    return payment
            now = utcnow()
            domain.check_payable(row.status, row.pay_before, now)
            where = checkout(payment_id, row)
            if inspect.isawaitable(where):
                where = await where
            assert isinstance(where, Checkout)
            payment = PaymentRow(
                id=payment_id,
                order_id=order_id,
                tenant_id=row.tenant_id,
                method=method,
                status="created",
                amount_fen=row.amount_fen,
                currency=row.currency,
                pay_url=where.pay_url,
                qr_code=where.qr_code,
                created_at=now,
            )
            session.add(payment)
            if method == "sandbox":  # the sandbox provider's own record of the trade
                session.add(
                    SandboxTransactionRow(
                        payment_id=payment_id,
                        trade_no=f"SBX{new_id()[:20].upper()}",
                        amount_fen=row.amount_fen,
                        currency=row.currency,
                        status="created",
                        created_at=now,
                    )
                )
            await session.flush()
            await append_ledger(
                session,
                row,
                domain.LedgerLine("payment_created", payment_id, row.amount_fen, {"method": method}),
            )
            return payment

    async def get(self, payment_id: str) -> PaymentRow:
        return await self.db.get(PaymentRow, payment_id, "payment")

    async def apply_notification(self, provider: str, note: Notification) -> str:
        """Apply a verified notification exactly once. Returns the outcome: applied, duplicate, ignored,
        closed, failed, unknown_payment, amount_mismatch or refund_due (see domain.notification_effects)."""
        table = ProviderNotificationRow.__table__  # type: ignore[attr-defined]
        # Providers repeat a notification until acknowledged, often many times at once: a repeat of one
        # already applied is answered from one indexed read, without queueing on the payment's row lock.
        # (A claim is committed together with its outcome, so a claim seen here is final.)
        async with self.db.read() as session:
            seen = await session.execute(
                select(table.c.notification_id).where(
                    table.c.provider == provider, table.c.notification_id == note.notification_id
                )
            )
            if seen.first() is not None:
                return "duplicate"
        async with self.db.transaction() as session:
            # Locks in the order every other writer takes them — the order, then its payments (cancelling an
            # order closes its open payments) — so a notification racing the order's cancellation waits
            # instead of deadlocking.
            order_id = (
                await session.execute(select(PaymentRow.order_id).where(PaymentRow.id == note.payment_id))
            ).scalar()
            order = await session.get(OrderRow, order_id, with_for_update=True) if order_id else None
            payment = (
                await session.exec(
                    select(PaymentRow).where(PaymentRow.id == note.payment_id).with_for_update()
                )
            ).first()
            if order is None or payment is None or payment.method != provider:
                log.warning("notification for an unknown payment", extra={"provider": provider})
                return "unknown_payment"
            claimed = await session.execute(
                pg_insert(table)
                .values(
                    provider=provider,
                    notification_id=note.notification_id,
                    payment_id=note.payment_id,
                    outcome="received",
                    received_at=utcnow(),
                )
                .on_conflict_do_nothing()
                .returning(table.c.notification_id)
            )
            if claimed.first() is None:
                return "duplicate"
            effects = domain.notification_effects(
                domain.RecordedPayment(
                    payment.id, payment.method, payment.status, payment.amount_fen, payment.currency
                ),
                order.status,
                domain.ReportedPayment(note.status, note.amount_fen, note.currency, note.provider_txn_id),
                refund_id=new_id(),
            )
            await self._carry_out(session, provider, order, payment, note, effects)
            await session.execute(
                table.update()
                .where(table.c.provider == provider, table.c.notification_id == note.notification_id)
                .values(outcome=effects.outcome)
            )
            # Last, just before the commit: the ledger's append lock is global, so it is held briefly.
            await append_ledger(session, order, *effects.ledger)
            return effects.outcome

    async def _carry_out(
        self,
        session: AsyncSession,
        provider: str,
        order: OrderRow,
        payment: PaymentRow,
        note: Notification,
        effects: domain.NotificationEffects,
    ) -> None:
        """Apply `effects` to the locked order and payment (all but the ledger entries, which the caller
        appends last)."""
        if effects.payment_status != payment.status:
            payment.status = effects.payment_status
            session.add(payment)
        if effects.outcome == "amount_mismatch":
            AMOUNT_MISMATCHES.labels(provider).inc()
            log.error(
                "payment amount mismatch",
                extra={"provider": provider, "payment_id": payment.id, "expected": payment.amount_fen},
            )
        if effects.money_received:
            payment.provider_txn_id = note.provider_txn_id
            payment.paid_at = utcnow()
        if effects.refund is not None:
            UNAPPLIED_PAYMENTS.labels(provider).inc()
            log.error("payment for an order that is %s", order.status, extra={"payment_id": payment.id})
            session.add(
                RefundRow(
                    id=effects.refund.refund_id,
                    order_id=order.id,
                    payment_id=payment.id,
                    amount_fen=effects.refund.amount_fen,
                    reason=effects.refund.reason,
                    status=effects.refund.status,
                    created_at=utcnow(),
                )
            )
        if not effects.pays_order:
            return
        await session.flush()  # the partial unique index refuses a second paid payment of the order here
        order.status = domain.next_order_status(order.status, "paid")
        count_deadline(session, "payment_hold", UNTIERED, kept=True)  # paid before the order expired
        order.paid_payment_id = payment.id
        session.add(order)
        await record_stage(session, order.id, "paid", "system")
        await self.outbox.add(
            session,
            "order.paid",
            events_pb2.OrderPaid(
                order_id=order.id,
                client_id=order.client_id,
                amount=money(payment.amount_fen, payment.currency),
                payment_id=payment.id,
            ),
            aggregate_id=order.id,
            tenant_id=order.tenant_id,
        )

    async def expire_order(self, order_id: str, queries: Mapping[str, Query] | None = None) -> OrderView:
        """The order's time to pay passed: each open payment is re-queried from its provider (`queries`
        by method; the sandbox's own records always) and one the provider reports paid is applied;
        otherwise the order is cancelled. Idempotent."""
        async with self.db.transaction() as session:
            row = await session.get(OrderRow, order_id)
            if row is None:
                raise NotFound("no such order")
            if row.status != "pending_payment":
                return await order_view(session, order_id)
            open_payments = (
                await session.exec(
                    select(PaymentRow).where(PaymentRow.order_id == order_id, PaymentRow.status == "created")
                )
            ).all()
        for payment in open_payments:
            query = self.sandbox.query if payment.method == "sandbox" else (queries or {}).get(payment.method)
            try:
                note = await query(payment.id) if query is not None else None
            except Exception:  # an unreachable provider must not keep the order open forever
                log.exception("re-query failed", extra={"payment_id": payment.id, "provider": payment.method})
                note = None
            if note is not None and note.status == "paid":
                await self.apply_notification(payment.method, note)
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            if row.status == "pending_payment":
                await cancel_unpaid(session, self.outbox, row, "payment_timeout", "system")
                count_deadline(session, "payment_hold", UNTIERED, kept=False)
            return await order_view(session, order_id)
