"""The sandbox provider's own side (dev and test, R-PAY-1): its trades, their notifications with retries,
its query API and its statement, as a real provider keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from services.payment.models import PaymentRow, SandboxTransactionRow
from services.payment.providers.base import Notification
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.records import utcnow

RETRY_BACKOFF_SECONDS = (1, 2, 5, 15, 60, 300)


class Sandbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def pay(self, payment_id: str) -> PaymentRow:
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

    async def due(self, now: datetime, limit: int = 20) -> list[SandboxTransactionRow]:
        """Paid trades whose notification is due, the longest waiting first."""
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

    async def notified(self, payment_id: str, delivered: bool) -> None:
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
                delay = RETRY_BACKOFF_SECONDS[min(trade.notify_attempts, len(RETRY_BACKOFF_SECONDS)) - 1]
                trade.next_notify_at = now + timedelta(seconds=delay)
            session.add(trade)

    async def query(self, payment_id: str) -> Notification | None:
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

    async def statement(self, start: datetime, end: datetime) -> dict[str, int]:
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
