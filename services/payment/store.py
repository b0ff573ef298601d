"""Payment persistence: one transaction per change, with its stage, its ledger entry and its outbox event.

Exactly-once payment (R-PAY-2): a notification's (provider, id) is claimed first, so a replay has no
second effect; notifications of one order serialise on the order's row lock (taken before its payments'
as every writer takes them); what a report does is decided by domain.decide_notification, and money
reported paid is never refused; a partial unique index allows one paid payment per order. Every payment event is appended to the hash-chained ledger (R-PAY-4)
under one advisory lock, so the chain never forks."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1 import money_pb2
from counsel.payment.v1 import events_pb2
from services.payment import domain
from services.payment.invoices import InvoiceData, InvoiceRenderer, InvoiceStorage, sha256_hex, tax_included
from services.payment.models import (
    TABLES,
    InvoiceRow,
    LedgerEntryRow,
    LedgerPostingRow,
    OrderRow,
    OrderStageRow,
    PaymentRow,
    ProviderNotificationRow,
    RefundRow,
    SandboxTransactionRow,
    VoucherRow,
)
from services.payment.providers.base import Checkout, Notification
from services.payment.vouchers import VoucherSigner, split_code, voucher_payload
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from services.runtime.events import Outbox
from services.runtime.records import (
    claim_idempotency_key,
    new_id,
    newest_first,
    page_of,
    request_fingerprint,
    to_timestamp,
    utcnow,
)
from services.runtime.tenancy import require_visible

log = logging.getLogger(__name__)

LEDGER_LOCK = 0x70A7_1ED6  # advisory lock key of the ledger's append
# One ledger entry to append: event, order, payment id, amount, data, postings (`_append_ledger`'s arguments).
LedgerAppend = tuple[str, "OrderRow", str, int, dict[str, Any], list[tuple[str, int]]]
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
REFUSED_REFUNDS = Counter(
    "counsel_payment_refused_refunds_total",
    "Refunds a provider refused: reversed in the ledger; the money is still owed to the client.",
)
SANDBOX_RETRY_BACKOFF = (1, 2, 5, 15, 60, 300)


# A provider's query API: its record of a payment, or None when it has none.
Query = Callable[[str], Awaitable[Notification | None]]


Difference = domain.Difference


@dataclass
class OrderView:
    row: OrderRow
    stages: list[OrderStageRow]


def _money(amount: int, currency: str) -> money_pb2.Money:
    return money_pb2.Money(amount=amount, currency=currency)


class PaymentStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox
        self._invoicing: dict[str, asyncio.Future[InvoiceRow]] = {}  # order id → its invoice in the making

    # -- orders ------------------------------------------------------------------------------------
    async def create_order(
        self,
        principal: Principal,
        new: domain.NewOrder,
        pay_within: timedelta,
        idempotency_key: str,
        fingerprint: str,
        invoice_title: str = "",
        invoice_tax_id: str = "",
    ) -> tuple[OrderView, bool]:
        """Store an order awaiting payment with its `order.created` event. A replay of the same
        Idempotency-Key and request returns the first order (created=False); another request → Conflict."""
        order_id = new_id()
        async with self.db.transaction() as session:
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session, TABLES, f"order:{principal.user_id}", idempotency_key, fingerprint, order_id
                )
                if existing is not None:
                    return await self._view(session, existing), False
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
                category=new.category,
                tier=new.tier,
                requirements=new.requirements,
                booking=new.booking,
                invoice_title=invoice_title,
                invoice_tax_id=invoice_tax_id,
            )
            session.add(row)
            await session.flush()
            await self._stage(session, order_id, "pending_payment", principal.user_id, row.pay_before)
            await self._append_ledger(
                session, "order_created", row, "", row.amount_fen, {"tier": row.tier_id}, []
            )
            await self.outbox.add(
                session,
                "order.created",
                events_pb2.OrderCreated(
                    order_id=order_id,
                    client_id=row.client_id,
                    product_id=row.product_id,
                    tier_id=row.tier_id,
                    amount=_money(row.amount_fen, row.currency),
                    pay_before=to_timestamp(row.pay_before),
                ),
                aggregate_id=order_id,
                tenant_id=row.tenant_id,
                actor_id=principal.user_id,
            )
            return await self._view(session, order_id), True

    async def get_order(self, principal: Principal | None, order_id: str) -> OrderView:
        async with self.db.transaction() as session:
            view = await self._view(session, order_id)
        require_visible(principal, view.row.tenant_id, domain.STAFF_WHO_SEE_ORDERS, "order")
        return view

    async def list_orders(
        self, principal: Principal, status: str, limit: int, cursor: str
    ) -> tuple[list[OrderRow], str]:
        query = select(OrderRow)
        if principal.is_client:
            query = query.where(OrderRow.tenant_id == principal.tenant_id)
        if status:
            query = query.where(OrderRow.status == status)
        query = newest_first(query, col(OrderRow.created_at), col(OrderRow.id), cursor, limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(query)).all())
        return page_of(rows, limit)

    async def cancel_order(self, principal: Principal | None, order_id: str, reason: str) -> OrderView:
        """Cancel an unpaid order (idempotent for an order already cancelled); Conflict once it is paid."""
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            require_visible(principal, row.tenant_id, domain.STAFF_WHO_SEE_ORDERS, "order")
            if row.status == "cancelled":
                return await self._view(session, order_id)
            await self._cancel(session, row, reason, principal.user_id if principal else "system")
            return await self._view(session, order_id)

    async def _cancel(self, session: AsyncSession, row: OrderRow, reason: str, actor: str) -> None:
        row.status = domain.next_order_status(row.status, "cancelled")
        session.add(row)
        open_payments = (
            await session.exec(
                select(PaymentRow).where(PaymentRow.order_id == row.id, PaymentRow.status == "created")
            )
        ).all()
        for payment in open_payments:
            payment.status = domain.next_payment_status(payment.status, "closed")
            session.add(payment)
        await self._stage(session, row.id, "cancelled", actor, None)
        await self._append_ledger(
            session, "order_cancelled", row, "", 0, {"reason": domain.ledger_reason(reason)}, []
        )
        await self.outbox.add(
            session,
            "order.cancelled",
            events_pb2.OrderCancelled(order_id=row.id, client_id=row.client_id, reason=reason),
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            actor_id=actor,
        )

    async def advance_order(self, order_id: str, status: str, kind: str, fulfilment_id: str) -> OrderView:
        """Move a paid order to in_service (with its fulfilment) or completed; repeating a move is harmless."""
        if status not in ("in_service", "completed"):
            raise InvalidArgument.for_field("status", "must be in_service or completed")
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            if row.status in ("refunded", "cancelled"):
                # e.g. the fulfilment was cancelled and refunded before the workflow recorded it: final.
                return await self._view(session, order_id)
            if row.status != status:
                row.status = domain.next_order_status(row.status, status)
                if kind and fulfilment_id:
                    row.fulfilment_kind, row.fulfilment_id = kind, fulfilment_id
                session.add(row)
                await self._stage(session, order_id, status, "system", None)
            return await self._view(session, order_id)

    async def link_fulfilment(
        self, session: AsyncSession, tenant_id: str, order_id: str, kind: str, fulfilment_id: str
    ) -> bool:
        """Record what fulfils a paid order (e.g. the consultation submitted against it), once, in the
        caller's transaction. Returns False when the order is not this tenant's, not paid, or linked."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id or row.fulfilment_id:
            return False
        if row.status not in ("paid", "in_service"):
            return False
        row.fulfilment_kind, row.fulfilment_id = kind, fulfilment_id
        session.add(row)
        await self._stage(session, order_id, f"{kind}_started", "system", None)
        return True

    async def complete_fulfilment(
        self, session: AsyncSession, tenant_id: str, order_id: str, kind: str, fulfilment_id: str
    ) -> bool:
        """The order's fulfilment finished: an in-service order fulfilled by it becomes completed, once, in
        the caller's transaction. Returns False for another tenant's or another fulfilment's order, or one
        not in service (already completed or refunded)."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id or row.status != "in_service":
            return False
        if (row.fulfilment_kind, row.fulfilment_id) != (kind, fulfilment_id):
            return False
        row.status = domain.next_order_status(row.status, "completed")
        session.add(row)
        await self._stage(session, order_id, "completed", "system", None)
        return True

    # -- payments ----------------------------------------------------------------------------------
    async def create_payment(
        self,
        principal: Principal,
        order_id: str,
        method: str,
        checkout: Any,
        idempotency_key: str,
    ) -> PaymentRow:
        """A payment of the whole order with `method`. `checkout(payment_id, order)` → Checkout (or an
        awaitable of one) asks
        the provider where to pay (possibly over its API, while the order's row is locked, so two payments
        of one order are never ordered at once). Conflict unless the order awaits payment."""
        payment_id = new_id()
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
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
            if row.status != "pending_payment":
                raise Conflict(f"a {row.status} order cannot be paid", reason="order_not_payable")
            now = utcnow()
            if row.pay_before <= now:
                raise Conflict("the order's time to pay has passed", reason="order_not_payable")
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
            await self._append_ledger(
                session, "payment_created", row, payment_id, row.amount_fen, {"method": method}, []
            )
            return payment

    async def apply_notification(self, provider: str, note: Notification) -> str:
        """Apply a verified notification exactly once. Returns the outcome: applied, duplicate, ignored,
        closed, failed, unknown_payment, amount_mismatch or refund_due (see domain.decide_notification)."""
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
            outcome, ledger = await self._apply(session, provider, order, payment, note)
            await session.execute(
                table.update()
                .where(table.c.provider == provider, table.c.notification_id == note.notification_id)
                .values(outcome=outcome)
            )
            # Last, just before the commit: the ledger's append lock is global, so it is held briefly.
            await self._append_ledger_entries(session, ledger)
            return outcome

    async def _apply(
        self, session: AsyncSession, provider: str, order: OrderRow, payment: PaymentRow, note: Notification
    ) -> tuple[str, list[LedgerAppend]]:
        """Carry out the notification's decision (domain.decide_notification) on the locked order and
        payment: the outcome, and the ledger entries the caller appends."""
        amount_matches = note.amount_fen == payment.amount_fen and note.currency == payment.currency
        decision = domain.decide_notification(payment.status, order.status, note.status, amount_matches)
        if decision.payment_status != payment.status:
            payment.status = decision.payment_status
            session.add(payment)
        if decision.outcome == "amount_mismatch":
            AMOUNT_MISMATCHES.labels(provider).inc()
            log.error(
                "payment amount mismatch",
                extra={"provider": provider, "payment_id": payment.id, "expected": payment.amount_fen},
            )
            reported = {
                "expected": payment.amount_fen,
                "reported": note.amount_fen,
                "currency": note.currency,
            }
            return "amount_mismatch", [("amount_mismatch", order, payment.id, note.amount_fen, reported, [])]
        if decision.outcome not in ("applied", "refund_due"):
            return decision.outcome, []
        payment.provider_txn_id = note.provider_txn_id
        payment.paid_at = utcnow()
        notified: LedgerAppend = (
            "notified",
            order,
            payment.id,
            note.amount_fen,
            {"provider_txn_id": note.provider_txn_id},
            [],
        )
        if decision.outcome == "refund_due":
            return "refund_due", [notified, *self._owe_back(session, provider, order, payment)]
        await session.flush()  # the partial unique index refuses a second paid payment of the order here
        order.status = domain.next_order_status(order.status, "paid")
        order.paid_payment_id = payment.id
        session.add(order)
        await self._stage(session, order.id, "paid", "system", None)
        await self.outbox.add(
            session,
            "order.paid",
            events_pb2.OrderPaid(
                order_id=order.id,
                client_id=order.client_id,
                amount=_money(payment.amount_fen, payment.currency),
                payment_id=payment.id,
            ),
            aggregate_id=order.id,
            tenant_id=order.tenant_id,
        )
        return "applied", [
            notified,
            (
                "paid",
                order,
                payment.id,
                payment.amount_fen,
                {"method": payment.method},
                domain.postings_for("paid", payment.method, payment.amount_fen),
            ),
        ]

    def _owe_back(
        self, session: AsyncSession, provider: str, order: OrderRow, payment: PaymentRow
    ) -> list[LedgerAppend]:
        """Money arrived for an order that cannot take it (paid already, or cancelled): a refund of the whole
        payment, on its own — it never touches the order's own payment or refunds — and its ledger entries."""
        UNAPPLIED_PAYMENTS.labels(provider).inc()
        log.error("payment for an order that is %s", order.status, extra={"payment_id": payment.id})
        refund_id = new_id()
        session.add(
            RefundRow(
                id=refund_id,
                order_id=order.id,
                payment_id=payment.id,
                amount_fen=payment.amount_fen,
                reason=f"unapplied_payment_{order.status}",
                status="succeeded" if payment.method == "sandbox" else "requested",
                created_at=utcnow(),
            )
        )
        return [
            (
                "paid_unapplied",
                order,
                payment.id,
                payment.amount_fen,
                {"order_status": order.status},
                [
                    (domain.cash_account(payment.method), payment.amount_fen),
                    (domain.REFUNDS_DUE, -payment.amount_fen),
                ],
            ),
            (
                "refunded",
                order,
                payment.id,
                payment.amount_fen,
                {"reason": "unapplied_payment", "refund_id": refund_id},
                domain.postings_for("refunded_unapplied", payment.method, payment.amount_fen),
            ),
        ]

    async def get_payment(self, payment_id: str) -> PaymentRow:
        return await self.db.get(PaymentRow, payment_id, "payment")

    async def expire_order(self, order_id: str, queries: Mapping[str, Query] | None = None) -> OrderView:
        """The order's time to pay passed: each open payment is re-queried from its provider (`queries`
        by method; the sandbox's own records always) and one the provider reports paid is applied;
        otherwise the order is cancelled. Idempotent."""
        async with self.db.transaction() as session:
            row = await session.get(OrderRow, order_id)
            if row is None:
                raise NotFound("no such order")
            if row.status != "pending_payment":
                return await self._view(session, order_id)
            open_payments = (
                await session.exec(
                    select(PaymentRow).where(PaymentRow.order_id == order_id, PaymentRow.status == "created")
                )
            ).all()
        for payment in open_payments:
            query = (queries or {}).get(payment.method)
            if payment.method == "sandbox":
                query = self.sandbox_query
            try:
                note = await query(payment.id) if query is not None else None
            except Exception:  # an unreachable provider must not keep the order open forever
                log.exception("re-query failed", extra={"payment_id": payment.id, "provider": payment.method})
                note = None
            if note is not None and note.status == "paid":
                await self.apply_notification(payment.method, note)
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            if row.status == "pending_payment":
                await self._cancel(session, row, "payment_timeout", "system")
            return await self._view(session, order_id)

    # -- refunds -----------------------------------------------------------------------------------
    async def refund_order(
        self, principal: Principal | None, order_id: str, amount: int, reason: str, idempotency_key: str
    ) -> OrderView:
        """Refund `amount` fen (0 = all not yet refunded) of a paid order; recorded in the ledger. A replay
        of the same Idempotency-Key and request has no second effect."""
        refund_id = new_id()
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            require_visible(principal, row.tenant_id, domain.STAFF_WHO_REFUND, "order")
            if principal is not None and not principal.has_role(*domain.STAFF_WHO_REFUND):
                raise PermissionDenied("refunds are made by agents")
            if idempotency_key:
                scope = f"refund:{order_id}"
                existing = await claim_idempotency_key(
                    session, TABLES, scope, idempotency_key, request_fingerprint(amount, reason), refund_id
                )
                if existing is not None:
                    return await self._view(session, order_id)
            actor = principal.user_id if principal else "system"
            await self._refund(session, row, amount, reason, actor, refund_id)
            return await self._view(session, order_id)

    async def _refund(
        self, session: AsyncSession, row: OrderRow, amount: int, reason: str, actor: str, refund_id: str
    ) -> RefundRow:
        """Refund `amount` fen (0 = the rest) of the locked paid order `row` in the caller's transaction:
        the refund row, the ledger entry with its postings, the stage and `order.refunded`."""
        domain.check_refundable(row.status, row.amount_fen, row.refunded_fen)
        if not row.paid_payment_id:
            raise Conflict(f"a {row.status} order cannot be refunded", reason="order_not_refundable")
        payment = await session.get(PaymentRow, row.paid_payment_id)
        assert payment is not None
        refund = domain.refund_amount(amount, row.amount_fen, row.refunded_fen)
        refund_row = RefundRow(
            id=refund_id,
            order_id=row.id,
            payment_id=payment.id,
            amount_fen=refund,
            reason=reason,
            # The sandbox refunds at once; other providers' refund APIs are called by the RefundDispatcher.
            status="succeeded" if payment.method == "sandbox" else "requested",
            created_at=utcnow(),
        )
        session.add(refund_row)
        row.refunded_fen += refund
        await self._append_ledger(
            session,
            "refunded",
            row,
            payment.id,
            refund,
            {"reason": domain.ledger_reason(reason), "refund_id": refund_id},
            domain.postings_for("refunded", payment.method, refund),
        )
        if row.refunded_fen == row.amount_fen:
            if row.status != "refunded":  # already so when retrying a refund a provider refused
                row.status = domain.next_order_status(row.status, "refunded")
            await self._stage(session, row.id, "refunded", actor, None, key=f"refunded:{refund_id}")
        else:
            await self._stage(session, row.id, "partially_refunded", actor, None, key=f"refund:{refund_id}")
        session.add(row)
        await self.outbox.add(
            session,
            "order.refunded",
            events_pb2.OrderRefunded(
                order_id=row.id,
                client_id=row.client_id,
                amount=_money(refund, row.currency),
                reason=reason,
            ),
            aggregate_id=row.id,
            tenant_id=row.tenant_id,
            actor_id=actor,
        )
        return refund_row

    async def refund_cancelled_fulfilment(
        self,
        session: AsyncSession,
        tenant_id: str,
        order_id: str,
        kind: str,
        fulfilment_id: str,
    ) -> bool:
        """The order's fulfilment was cancelled or failed in its owning service: refund what is left of the
        order, exactly once (keyed by the fulfilment, in the caller's transaction, so a redelivered or
        replayed event finds the key and the refunded order and does nothing). Returns False for another
        tenant's order, another fulfilment's, or an order with nothing left to refund."""
        row = (await session.exec(select(OrderRow).where(OrderRow.id == order_id).with_for_update())).first()
        if row is None or row.tenant_id != tenant_id:
            return False
        if row.fulfilment_id and (row.fulfilment_kind, row.fulfilment_id) != (kind, fulfilment_id):
            return False
        if row.status not in ("paid", "in_service") or row.refunded_fen >= row.amount_fen:
            return False
        refund_id = new_id()
        first = await claim_idempotency_key(
            session,
            TABLES,
            f"refund:{order_id}",
            f"fulfilment:{kind}:{fulfilment_id}",
            request_fingerprint(kind, fulfilment_id),
            refund_id,
        )
        if first is not None:
            return False
        # A reason code: the supervisor's words stay with the document order (and its event, which tells the
        # client), never in the append-only ledger (R-PRIV-1, see domain.ledger_reason).
        await self._refund(session, row, 0, "fulfilment_cancelled", "system", refund_id)
        return True

    async def refunds_to_send(self, limit: int = 20) -> list[tuple[RefundRow, PaymentRow]]:
        """Refunds a provider has not confirmed yet, oldest first."""
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(RefundRow, PaymentRow)
                    .join(PaymentRow, col(PaymentRow.id) == col(RefundRow.payment_id))
                    .where(col(RefundRow.status).in_(("requested", "pending")))
                    .order_by(col(RefundRow.created_at))
                    .limit(limit)
                )
            ).all()
        return [(refund, payment) for refund, payment in rows]

    async def refund_settled(self, refund_id: str, status: str) -> None:
        """Record the provider's answer to a refund: succeeded, pending (asked again later) or failed (its
        postings reversed by a compensating ledger entry and logged as an error: the money is still owed, an
        agent refunds again or returns it another way)."""
        async with self.db.transaction() as session:
            refund = (
                await session.exec(select(RefundRow).where(RefundRow.id == refund_id).with_for_update())
            ).first()
            if refund is None or refund.status not in ("requested", "pending") or refund.status == status:
                return
            refund.status = status
            session.add(refund)
            if status == "failed":
                await self._reverse_refund(session, refund)

    async def _reverse_refund(self, session: AsyncSession, refund: RefundRow) -> None:
        """A provider refused `refund`: the money never left, so the refund's postings are reversed by a new,
        compensating ledger entry (never an edit), the order's refunded amount goes back down (an agent can
        refund again) and the client's timeline shows it. Logged as an error for agents to act on."""
        order = await self._locked_order(session, refund.order_id)
        log.error("a provider refused a refund", extra={"refund_id": refund.id})
        original = await self._refund_entry(session, refund)
        postings = domain.reversal(original) if original else []
        await self._append_ledger(
            session,
            "refund_failed",
            order,
            refund.payment_id,
            refund.amount_fen,
            {"refund_id": refund.id, "reverses": "refunded"},
            postings,
        )
        if not refund.reason.startswith("unapplied_payment"):  # the order's own refund, not a stray payment's
            order.refunded_fen -= refund.amount_fen
            session.add(order)
        await self._stage(
            session, order.id, "refund_failed", "system", None, key=f"refund_failed:{refund.id}"
        )
        REFUSED_REFUNDS.inc()

    async def _refund_entry(self, session: AsyncSession, refund: RefundRow) -> list[tuple[str, int]]:
        """The postings of the ledger entry that booked `refund`."""
        entries = (
            await session.exec(
                select(LedgerEntryRow).where(
                    LedgerEntryRow.payment_id == refund.payment_id, LedgerEntryRow.event == "refunded"
                )
            )
        ).all()
        for entry in entries:
            if json.loads(entry.data).get("refund_id") == refund.id:
                postings = (
                    await session.exec(
                        select(LedgerPostingRow).where(LedgerPostingRow.entry_seq == entry.seq)
                    )
                ).all()
                return [(p.account, p.amount_fen) for p in postings]
        return []

    # -- vouchers ----------------------------------------------------------------------------------
    async def issue_voucher(self, order_id: str, signer: VoucherSigner) -> VoucherRow:
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            existing = (await session.exec(select(VoucherRow).where(VoucherRow.order_id == order_id))).first()
            if existing is not None:
                return existing
            if row.status not in ("paid", "in_service", "completed"):
                raise Conflict(f"a {row.status} order has no voucher", reason="order_not_paid")
            voucher_id = new_id()[:16]
            issued_at = utcnow().replace(microsecond=0)
            payload = voucher_payload(
                voucher_id, order_id, row.amount_fen, row.currency, row.product_id, issued_at
            )
            voucher = VoucherRow(
                id=voucher_id,
                order_id=order_id,
                signature=signer.sign(payload),
                amount_fen=row.amount_fen,
                currency=row.currency,
                product_id=row.product_id,
                issued_at=issued_at,
            )
            session.add(voucher)
            await session.flush()
            await self._stage(session, order_id, "voucher_issued", "system", None)
            await self._append_ledger(
                session, "voucher", row, row.paid_payment_id, row.amount_fen, {"voucher_id": voucher_id}, []
            )
            return voucher

    async def get_voucher(self, principal: Principal | None, order_id: str) -> VoucherRow:
        await self.get_order(principal, order_id)
        async with self.db.transaction() as session:
            voucher = (await session.exec(select(VoucherRow).where(VoucherRow.order_id == order_id))).first()
        if voucher is None:
            raise NotFound("the order has no voucher yet")
        return voucher

    async def verify_voucher(self, code: str, signer: VoucherSigner) -> VoucherRow:
        """The voucher of a genuine code; NotFound for an unknown or altered one (or an altered row)."""
        parts = split_code(code)
        if parts is None:
            raise NotFound("no such voucher")
        voucher_id, signature = parts
        async with self.db.transaction() as session:
            voucher = await session.get(VoucherRow, voucher_id)
        if voucher is None or voucher.signature != signature:
            raise NotFound("no such voucher")
        payload = voucher_payload(
            voucher.id,
            voucher.order_id,
            voucher.amount_fen,
            voucher.currency,
            voucher.product_id,
            voucher.issued_at,
        )
        if not signer.verify(payload, signature):
            raise NotFound("no such voucher")
        return voucher

    # -- invoices ----------------------------------------------------------------------------------
    async def issue_invoice(
        self,
        order_id: str,
        seller_name: str,
        seller_tax_id: str,
        storage: InvoiceStorage,
        renderer: InvoiceRenderer,
    ) -> InvoiceRow:
        """Render, store and record the order's invoice once (a repeat returns the first). A repeat
        while the first is still rendering here waits for it: a caller that gave up (deadline) and
        retried must not queue a second render behind the first."""
        pending = self._invoicing.get(order_id)
        if pending is None:
            pending = asyncio.ensure_future(
                self._issue_invoice(order_id, seller_name, seller_tax_id, storage, renderer)
            )
            self._invoicing[order_id] = pending
            pending.add_done_callback(lambda done: self._invoiced(order_id, done))
        return await asyncio.shield(pending)

    def _invoiced(self, order_id: str, done: asyncio.Future[InvoiceRow]) -> None:
        self._invoicing.pop(order_id, None)
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone (deadline); the next call retries

    async def _issue_invoice(
        self,
        order_id: str,
        seller_name: str,
        seller_tax_id: str,
        storage: InvoiceStorage,
        renderer: InvoiceRenderer,
    ) -> InvoiceRow:
        async with self.db.transaction() as session:
            existing = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
            if existing is not None:
                return existing
            row = await session.get(OrderRow, order_id)
            if row is None:
                raise NotFound("no such order")
            if row.status not in ("paid", "in_service", "completed"):
                raise Conflict(f"a {row.status} order has no invoice", reason="order_not_paid")
        issued_at = utcnow().replace(microsecond=0)
        number = f"INV{issued_at:%Y%m%d}{order_id[:12].upper()}"
        tax = tax_included(row.amount_fen)
        tier_name = str(row.tier.get("name", row.tier_id))
        data = InvoiceData(
            number=number,
            issued_at=issued_at,
            seller_name=seller_name,
            seller_tax_id=seller_tax_id,
            buyer_name=row.invoice_title or f"企业 {row.tenant_id}",
            buyer_tax_id=row.invoice_tax_id,
            item=f"{row.product_name} {tier_name}".strip(),
            amount_fen=row.amount_fen,
            tax_fen=tax,
            currency=row.currency,
            order_id=order_id,
        )
        pdf = await renderer.render(data)
        object_name = f"{number}.pdf"
        await storage.put(object_name, pdf)
        async with self.db.transaction() as session:
            row = await self._locked_order(session, order_id)
            existing = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
            if existing is not None:  # a concurrent attempt finished first
                return existing
            invoice = InvoiceRow(
                number=number,
                order_id=order_id,
                object_name=object_name,
                sha256=sha256_hex(pdf),
                amount_fen=row.amount_fen,
                tax_fen=tax,
                currency=row.currency,
                issued_at=issued_at,
            )
            session.add(invoice)
            await session.flush()
            await self._stage(session, order_id, "invoice_issued", "system", None)
            await self._append_ledger(
                session,
                "invoice",
                row,
                row.paid_payment_id,
                row.amount_fen,
                {"number": number, "sha256": invoice.sha256, "tax": tax},
                [],
            )
            return invoice

    async def get_invoice(
        self, principal: Principal | None, order_id: str, storage: InvoiceStorage
    ) -> tuple[InvoiceRow, bytes]:
        """The invoice and its PDF; DataLoss-like Conflict when the stored PDF no longer matches its hash."""
        await self.get_order(principal, order_id)
        async with self.db.transaction() as session:
            invoice = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
        if invoice is None:
            raise NotFound("the order has no invoice yet")
        pdf = await storage.get(invoice.object_name)
        if sha256_hex(pdf) != invoice.sha256:
            log.error("stored invoice does not match its SHA-256", extra={"number": invoice.number})
            raise Conflict("the stored invoice is damaged; staff have been alerted", reason="invoice_damaged")
        return invoice, pdf

    # -- the sandbox provider's side ---------------------------------------------------------------
    async def sandbox_pay(self, payment_id: str) -> PaymentRow:
        """The sandbox's customer pays: the provider records it and schedules its notification."""
        async with self.db.transaction() as session:
            trade = (
                await session.exec(
                    select(SandboxTransactionRow)
                    .where(SandboxTransactionRow.payment_id == payment_id)
                    .with_for_update()
                )
            ).first()
            if trade is None:
                raise NotFound("no such sandbox payment")
            if trade.status != "paid":
                now = utcnow()
                trade.status, trade.paid_at, trade.next_notify_at = "paid", now, now
                session.add(trade)
            payment = await session.get(PaymentRow, payment_id)
            assert payment is not None
            return payment

    async def sandbox_due(self, now: datetime, limit: int = 20) -> list[SandboxTransactionRow]:
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(SandboxTransactionRow)
                    .where(
                        SandboxTransactionRow.status == "paid",
                        col(SandboxTransactionRow.notified_at).is_(None),
                        col(SandboxTransactionRow.next_notify_at) <= now,
                    )
                    .order_by(col(SandboxTransactionRow.next_notify_at))
                    .limit(limit)
                )
            ).all()
        return list(rows)

    async def sandbox_notified(self, payment_id: str, delivered: bool) -> None:
        """Record a delivery attempt; a failed one is retried with backoff (1 s … 5 min)."""
        async with self.db.transaction() as session:
            trade = await session.get(SandboxTransactionRow, payment_id)
            if trade is None:
                return
            now = utcnow()
            trade.notify_attempts += 1
            if delivered:
                trade.notified_at = now
            else:
                delay = SANDBOX_RETRY_BACKOFF[min(trade.notify_attempts, len(SANDBOX_RETRY_BACKOFF)) - 1]
                trade.next_notify_at = now + timedelta(seconds=delay)
            session.add(trade)

    async def sandbox_query(self, payment_id: str) -> Notification | None:
        """The sandbox provider's query API: its record of the trade, as a notification would say it."""
        async with self.db.transaction() as session:
            trade = await session.get(SandboxTransactionRow, payment_id)
        if trade is None:
            return None
        return Notification(
            notification_id=f"query:{trade.trade_no}:{trade.status}",
            payment_id=payment_id,
            provider_txn_id=trade.trade_no,
            amount_fen=trade.amount_fen,
            currency=trade.currency,
            status="paid" if trade.status == "paid" else "pending",
        )

    # -- ledger ------------------------------------------------------------------------------------
    async def _append_ledger(
        self,
        session: AsyncSession,
        event: str,
        order: OrderRow,
        payment_id: str,
        amount: int,
        data: dict[str, Any],
        postings: list[tuple[str, int]],
    ) -> None:
        await self._append_ledger_entries(session, [(event, order, payment_id, amount, data, postings)])

    async def _append_ledger_entries(self, session: AsyncSession, entries: list[LedgerAppend]) -> None:
        """Chains `entries` onto the ledger in one go: one lock, one read of the head, one flush (the lock
        is global and held until commit, so every round trip under it counts)."""
        if not entries:
            return
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
        last = (
            await session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.seq).desc()).limit(1))
        ).first()
        seq = last.seq if last else 0
        prev_hash = last.hash if last else domain.GENESIS_HASH
        for event, order, payment_id, amount, data, postings in entries:
            seq += 1
            fields = domain.LedgerFields(
                seq=seq,
                event=event,
                order_id=order.id,
                payment_id=payment_id,
                amount_fen=amount,
                currency=order.currency,
                data=domain.canonical(data),
                created_at=utcnow(),
                postings=tuple(postings),
            )
            entry = LedgerEntryRow(
                seq=seq,
                event=event,
                order_id=order.id,
                payment_id=payment_id,
                amount_fen=amount,
                currency=order.currency,
                data=fields.data,
                created_at=fields.created_at,
                prev_hash=prev_hash,
                hash=domain.entry_hash(prev_hash, fields),
            )
            session.add(entry)
            for account, posting in postings:
                session.add(LedgerPostingRow(entry_seq=seq, account=account, amount_fen=posting))
            prev_hash = entry.hash
        await session.flush()

    async def verify_ledger(self) -> domain.ChainReport:
        async with self.db.transaction() as session:
            entries = (await session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.seq)))).all()
            postings = (await session.exec(select(LedgerPostingRow))).all()
        by_entry: dict[int, list[tuple[str, int]]] = {}
        for p in postings:
            by_entry.setdefault(p.entry_seq, []).append((p.account, p.amount_fen))
        chain = [
            (
                domain.LedgerFields(
                    seq=e.seq,
                    event=e.event,
                    order_id=e.order_id,
                    payment_id=e.payment_id,
                    amount_fen=e.amount_fen,
                    currency=e.currency,
                    data=e.data,
                    created_at=e.created_at,
                    postings=tuple(by_entry.get(e.seq, [])),
                ),
                e.prev_hash,
                e.hash,
            )
            for e in entries
        ]
        return domain.verify_chain(chain)

    async def reconcile(
        self, start: datetime, end: datetime, statements: Mapping[str, Mapping[str, int]] | None = None
    ) -> tuple[list[Difference], list[str]]:
        """Compare the ledger's payments in [start, end) with each provider's statement of the same period
        (payment id → fen of successful payments): `statements` as fetched from the providers that offer
        one (see `services.payment.reconciliation`), plus the sandbox's own records. Returns the differences
        and the providers with payments in the ledger but no statement here."""
        async with self.db.transaction() as session:
            ledger_rows = (
                await session.execute(
                    select(LedgerEntryRow.payment_id, LedgerEntryRow.amount_fen, PaymentRow.method)
                    .join(PaymentRow, col(PaymentRow.id) == col(LedgerEntryRow.payment_id))
                    .where(
                        col(LedgerEntryRow.event).in_(("paid", "paid_unapplied")),
                        col(LedgerEntryRow.created_at) >= start,
                        col(LedgerEntryRow.created_at) < end,
                    )
                )
            ).all()
        ledger: dict[str, dict[str, int]] = {}
        for payment_id, amount, method in ledger_rows:
            ledger.setdefault(method, {})[payment_id] = int(amount)
        all_statements = {"sandbox": await self.sandbox_statement(start, end), **(statements or {})}
        differences: list[Difference] = []
        for provider, statement in sorted(all_statements.items()):
            differences += domain.compare_statement(provider, ledger.get(provider, {}), statement)
        unavailable = sorted(set(ledger) - set(all_statements))
        return differences, unavailable

    async def sandbox_statement(self, start: datetime, end: datetime) -> dict[str, int]:
        """The sandbox provider's statement: what its customers paid in [start, end), by payment id."""
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(SandboxTransactionRow).where(
                        SandboxTransactionRow.status == "paid",
                        col(SandboxTransactionRow.paid_at) >= start,
                        col(SandboxTransactionRow.paid_at) < end,
                    )
                )
            ).all()
        return {t.payment_id: t.amount_fen for t in rows}

    async def ledger_events(self, order_id: str) -> list[str]:
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(LedgerEntryRow.event)
                    .where(LedgerEntryRow.order_id == order_id)
                    .order_by(col(LedgerEntryRow.seq))
                )
            ).all()
        return list(rows)

    async def account_balances(self) -> dict[str, int]:
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(LedgerPostingRow.account, func.sum(LedgerPostingRow.amount_fen)).group_by(
                        LedgerPostingRow.account
                    )
                )
            ).all()
        return {account: int(total) for account, total in rows}

    # -- helpers -----------------------------------------------------------------------------------
    async def _stage(
        self,
        session: AsyncSession,
        order_id: str,
        stage: str,
        actor: str,
        due_at: datetime | None,
        *,
        key: str = "",
    ) -> None:
        table = OrderStageRow.__table__  # type: ignore[attr-defined]
        await session.execute(
            pg_insert(table)
            .values(
                order_id=order_id,
                stage=stage,
                actor=actor,
                entered_at=utcnow(),
                due_at=due_at,
                idempotency_key=key or stage,
            )
            .on_conflict_do_nothing()
        )

    async def _locked_order(self, session: AsyncSession, order_id: str) -> OrderRow:
        return await get_or_404(session, OrderRow, order_id, "order", for_update=True)

    async def _view(self, session: AsyncSession, order_id: str) -> OrderView:
        row = await get_or_404(session, OrderRow, order_id, "order")
        stages = (
            await session.exec(
                select(OrderStageRow)
                .where(OrderStageRow.order_id == order_id)
                .order_by(col(OrderStageRow.entered_at), col(OrderStageRow.id))
            )
        ).all()
        return OrderView(row, list(stages))
