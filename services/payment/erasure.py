"""Erasure of a user's personal data in payment (R-PRIV-1): see docs/erasure.md.

Orders, payments, refunds, vouchers and the ledger stay: they are accounting records the law requires
(amounts, dates, product copies, statuses), and the ledger is hash-chained, append-only and holds no
personal data (ids, amounts and tiers only), so it is never touched and `ledger verify` stays intact. What
goes is what the client wrote: the requirement answers, the personal parts of booking details (address,
needs, contacts; the lawyer, time, length and mode are facts of the service) and the invoice title and tax id
of orders for which no invoice was issued (an issued invoice is a tax record and keeps its buyer), and refund
reasons typed as free text (the ledger and the order only ever keep a reason code,
`services.rules.reasons.reason_code`)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.payment.models import InvoiceRow, OrderRow, RefundRow
from services.payment.store.sealed import BOOKING_FACTS
from services.rules.reasons import STATED_REASON, reason_code
from services.runtime.erasure import ERASED_TEXT, redact_values


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Erase or pseudonymise `user_id`'s personal data, in the erasure consumer's transaction."""
    invoiced = set(
        (
            await session.exec(
                select(InvoiceRow.order_id)
                .join(OrderRow, col(OrderRow.id) == col(InvoiceRow.order_id))
                .where(col(OrderRow.client_id) == user_id)
            )
        ).all()
    )
    orders = (
        await session.exec(select(OrderRow).where(col(OrderRow.client_id) == user_id).with_for_update())
    ).all()
    for order in orders:
        order.requirements = redact_values(order.requirements)
        order.booking = redact_values(order.booking, keep=BOOKING_FACTS)
        if order.id not in invoiced:
            order.invoice_title = order.invoice_tax_id = ""
        session.add(order)
    refunds = (
        await session.exec(
            select(RefundRow).where(col(RefundRow.order_id).in_([o.id for o in orders])).with_for_update()
        )
    ).all()
    for refund in refunds:
        if reason_code(refund.reason) == STATED_REASON:
            refund.reason = ERASED_TEXT
            session.add(refund)
