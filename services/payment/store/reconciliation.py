"""Reconciliation of the ledger's payments with the providers' statements (R-PAY-2, R-PAY-4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from services.payment.models import LedgerEntryRow, PaymentRow
from services.payment.reconciliation import Difference, compare_statement
from services.payment.store.sandbox import Sandbox
from services.runtime.db import Database


@dataclass(frozen=True)
class ReconciliationReport:
    """Where the ledger and the statements disagree, and the providers with payments in the ledger but no
    statement to compare them with."""

    differences: list[Difference]
    unavailable: list[str]


class Reconciliation:
    def __init__(self, db: Database, sandbox: Sandbox) -> None:
        self.db = db
        self.sandbox = sandbox

    async def reconcile(
        self, start: datetime, end: datetime, statements: Mapping[str, Mapping[str, int]] | None = None
    ) -> ReconciliationReport:
        """Compare the ledger's payments in [start, end) with each provider's statement of the same period
        (payment id → fen of successful payments): `statements` as fetched from the providers that offer
        one (see `services.payment.reconciliation`), plus the sandbox's own records."""
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
        all_statements = {"sandbox": await self.sandbox.statement(start, end), **(statements or {})}
        differences: list[Difference] = []
        for provider, statement in sorted(all_statements.items()):
            differences += compare_statement(provider, ledger.get(provider, {}), statement)
        return ReconciliationReport(differences, sorted(set(ledger) - set(all_statements)))
