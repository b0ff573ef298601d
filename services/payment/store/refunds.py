"""Refunds of paid orders (R-PAY-2, R-PAY-4): booked in the ledger when made, sent to the provider that
took the money, and reversed by a compensating entry when the provider refuses one."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from prometheus_client import Counter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.payment.v1 import events_pb2
from services.payment import domain
from services.payment.models import TABLES, LedgerEntryRow, LedgerPostingRow, OrderRow, PaymentRow, RefundRow
from services.payment.store.base import OrderView, locked_order, money, order_view, record_stage
from services.payment.store.ledger import append_ledger
from services.rules.reasons import reason_code
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import PermissionDenied
from services.runtime.events import Outbox
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint, utcnow
from services.runtime.tenancy import require_visible

log = logging.getLogger(__name__)

REFUSED_REFUNDS = Counter(
    "counsel_payment_refused_refunds_total",
    "Refunds a provider refused: reversed in the ledger; the money is still owed to the client.",
)


@dataclass(frozen=True)
class RefundToSend:
    """A refund a provider has not confirmed yet, and the payment whose money it returns."""

    refund: RefundRow
    payment: PaymentRow


async def refund(
    session: AsyncSession, outbox: Outbox, row: OrderRow, amount: int, reason: str, actor: str, refund_id: str
) -> RefundRow:
    """Refund `amount` fen (0 = the rest) of the locked paid order `row` in the caller's transaction:
    the refund row, the ledger entry with its postings, the stage and `order.refunded`."""
    plan = domain.plan_refund(row.status, row.amount_fen, row.refunded_fen, amount, row.paid_payment_id)
    payment = await session.get(PaymentRow, row.paid_payment_id)
    assert payment is not None
    refund_row = RefundRow(
        id=refund_id,
        order_id=row.id,
        payment_id=payment.id,
        amount_fen=plan.amount_fen,
        reason=reason,
        status=domain.initial_refund_status(payment.method),
        created_at=utcnow(),
    )
    session.add(refund_row)
    row.refunded_fen += plan.amount_fen
    row.status_reason = reason_code(reason)
    await append_ledger(
        session,
        row,
        domain.LedgerLine(
            "refunded",
            payment.id,
            plan.amount_fen,
            {"reason": reason_code(reason), "refund_id": refund_id},
            tuple(domain.postings_for("refunded", payment.method, plan.amount_fen)),
        ),
    )
    if plan.in_full:
        if row.status != "refunded":  # already so when retrying a refund a provider refused
            row.status = domain.next_order_status(row.status, "refunded")
        await record_stage(session, row.id, "refunded", actor, key=f"refunded:{refund_id}")
    else:
        await record_stage(session, row.id, "partially_refunded", actor, key=f"refund:{refund_id}")
    session.add(row)
    await outbox.add(
        session,
        "order.refunded",
        events_pb2.OrderRefunded(
            order_id=row.id,
            client_id=row.client_id,
            amount=money(plan.amount_fen, row.currency),
            reason=reason,
        ),
        aggregate_id=row.id,
        tenant_id=row.tenant_id,
        actor_id=actor,
    )
    return refund_row


class Refunds:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def refund_order(
        self, principal: Principal | None, order_id: str, amount: int, reason: str, idempotency_key: str
    ) -> OrderView:
        """Refund `amount` fen (0 = all not yet refunded) of a paid order; recorded in the ledger. A replay
        of the same Idempotency-Key and request has no second effect."""
        refund_id = new_id()
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            require_visible(principal, row.tenant_id, domain.STAFF_WHO_REFUND, "order")
            if principal is not None and not principal.has_role(*domain.STAFF_WHO_REFUND):
                raise PermissionDenied("refunds are made by agents")
            if idempotency_key:
                scope = f"refund:{order_id}"
                existing = await claim_idempotency_key(
                    session, TABLES, scope, idempotency_key, request_fingerprint(amount, reason), refund_id
                )
                if existing is not None:
                    return await order_view(session, order_id)
            actor = principal.user_id if principal else "system"
            await refund(session, self.outbox, row, amount, reason, actor, refund_id)
            return await order_view(session, order_id)

    async def to_send(self, limit: int = 20) -> list[RefundToSend]:
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
        return [RefundToSend(refund_row, payment) for refund_row, payment in rows]

    async def settled(self, refund_id: str, status: str) -> None:
        """Record the provider's answer to a refund: succeeded, pending (asked again later) or failed (its
        postings reversed by a compensating ledger entry and logged as an error: the money is still owed, an
        agent refunds again or returns it another way)."""
        async with self.db.transaction() as session:
            refund_row = (
                await session.exec(select(RefundRow).where(RefundRow.id == refund_id).with_for_update())
            ).first()
            settled = domain.refund_settlement(refund_row.status, status) if refund_row else None
            if refund_row is None or settled is None:
                return
            refund_row.status = settled
            session.add(refund_row)
            if settled == "failed":
                await self._reverse(session, refund_row)

    async def _reverse(self, session: AsyncSession, refund_row: RefundRow) -> None:
        """A provider refused the refund: the money never left, so its postings are reversed by a new,
        compensating ledger entry (never an edit), the order's refunded amount goes back down (an agent can
        refund again) and the client's timeline shows it. Logged as an error for agents to act on."""
        order = await locked_order(session, refund_row.order_id)
        log.error("a provider refused a refund", extra={"refund_id": refund_row.id})
        original = await _booked_postings(session, refund_row)
        await append_ledger(
            session,
            order,
            domain.LedgerLine(
                "refund_failed",
                refund_row.payment_id,
                refund_row.amount_fen,
                {"refund_id": refund_row.id, "reverses": "refunded"},
                tuple(domain.reversal(original)),
            ),
        )
        if domain.refund_counts_against_order(refund_row.reason):
            order.refunded_fen -= refund_row.amount_fen
            session.add(order)
        await record_stage(session, order.id, "refund_failed", "system", key=f"refund_failed:{refund_row.id}")
        REFUSED_REFUNDS.inc()


async def _booked_postings(session: AsyncSession, refund_row: RefundRow) -> list[tuple[str, int]]:
    """The postings of the ledger entry that booked the refund."""
    entries = (
        await session.exec(
            select(LedgerEntryRow).where(
                LedgerEntryRow.payment_id == refund_row.payment_id, LedgerEntryRow.event == "refunded"
            )
        )
    ).all()
    for entry in entries:
        if json.loads(entry.data).get("refund_id") == refund_row.id:
            postings = (
                await session.exec(select(LedgerPostingRow).where(LedgerPostingRow.entry_seq == entry.seq))
            ).all()
            return [(p.account, p.amount_fen) for p in postings]
    return []
