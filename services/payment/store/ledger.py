"""The hash-chained, append-only ledger with its double-entry postings (R-PAY-4): every payment event is
appended under one advisory lock, so the chain never forks."""

from __future__ import annotations

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.payment import domain
from services.payment.models import LedgerEntryRow, LedgerPostingRow, OrderRow
from services.runtime.db import Database
from services.runtime.records import utcnow

LEDGER_LOCK = 0x70A7_1ED6  # advisory lock key of the ledger's append


async def append_ledger(session: AsyncSession, order: OrderRow, *lines: domain.LedgerLine) -> None:
    """Chain `lines` of `order` onto the ledger in one go: one lock, one read of the head, one flush (the
    lock is global and held until commit, so every round trip under it counts; take it last)."""
    if not lines:
        return
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
    last = (
        await session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.seq).desc()).limit(1))
    ).first()
    seq = last.seq if last else 0
    prev_hash = last.hash if last else domain.GENESIS_HASH
    for line in lines:
        seq += 1
        fields = domain.LedgerFields(
            seq=seq,
            event=line.event,
            order_id=order.id,
            payment_id=line.payment_id,
            amount_fen=line.amount_fen,
            currency=order.currency,
            data=domain.canonical(line.data),
            created_at=utcnow(),
            postings=line.postings,
        )
        entry = LedgerEntryRow(
            seq=seq,
            event=line.event,
            order_id=order.id,
            payment_id=line.payment_id,
            amount_fen=line.amount_fen,
            currency=order.currency,
            data=fields.data,
            created_at=fields.created_at,
            prev_hash=prev_hash,
            hash=domain.entry_hash(prev_hash, fields),
        )
        session.add(entry)
        for account, posting in line.postings:
            session.add(LedgerPostingRow(entry_seq=seq, account=account, amount_fen=posting))
        prev_hash = entry.hash
    await session.flush()


class Ledger:
    """Reads of the ledger: its verification, an order's events and the accounts' balances."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def verify(self) -> domain.ChainReport:
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

    async def events(self, order_id: str) -> list[str]:
        """The events booked for the order, in ledger order."""
        async with self.db.transaction() as session:
            rows = (
                await session.exec(
                    select(LedgerEntryRow.event)
                    .where(LedgerEntryRow.order_id == order_id)
                    .order_by(col(LedgerEntryRow.seq))
                )
            ).all()
        return list(rows)

    async def balances(self) -> dict[str, int]:
        """Each account's balance in fen (debit > 0)."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(LedgerPostingRow.account, func.sum(LedgerPostingRow.amount_fen)).group_by(
                        LedgerPostingRow.account
                    )
                )
            ).all()
        return {account: int(total) for account, total in rows}
