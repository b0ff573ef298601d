"""Provider-agnostic reconciliation (`counsel payment reconcile --date`): every provider that publishes a
statement plugs in by implementing `statement(day, now)` → {payment id: fen paid that day}; the ledger's
payments are compared with each statement (`compare_statement`). Today: the sandbox (its own
records) and Alipay (the trade bill download). Providers without a statement API here are reported as not
reconciled, never silently skipped."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Difference:
    """One disagreement between the ledger and a provider's statement for a day."""

    provider: str
    payment_id: str
    kind: str  # missing_in_ledger | missing_at_provider | amount_differs
    ledger_fen: int
    provider_fen: int


def compare_statement(
    provider: str, booked: Mapping[str, int], statement: Mapping[str, int]
) -> list[Difference]:
    """What the ledger's payments of a provider (payment id → fen) and the provider's statement of the same
    period disagree on, by payment id."""
    differences: list[Difference] = []
    for payment_id in sorted(set(booked) | set(statement)):
        in_ledger, at_provider = booked.get(payment_id), statement.get(payment_id)
        if in_ledger is None:
            differences.append(Difference(provider, payment_id, "missing_in_ledger", 0, at_provider or 0))
        elif at_provider is None:
            differences.append(Difference(provider, payment_id, "missing_at_provider", in_ledger, 0))
        elif in_ledger != at_provider:
            differences.append(Difference(provider, payment_id, "amount_differs", in_ledger, at_provider))
    return differences


@runtime_checkable
class StatementSource(Protocol):
    name: str

    async def statement(self, day: date, now: datetime) -> dict[str, int]:
        """What the provider says was paid on `day` (Beijing time), by payment id, in fen."""
        ...


async def fetch_statements(
    providers: Mapping[str, object], day: date, now: datetime
) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Each statement-publishing provider's statement of `day`, and why the others' could not be had
    (provider → reason). A provider that fails is reported, not fatal: the others are still reconciled."""
    statements: dict[str, dict[str, int]] = {}
    missing: dict[str, str] = {}
    for name, provider in sorted(providers.items()):
        if name == "sandbox":
            continue  # the store reads the sandbox's own records
        if not isinstance(provider, StatementSource):
            missing[name] = "no statement API here"
            continue
        try:
            statements[name] = await provider.statement(day, now)
        except Exception as exc:  # reported per provider; the others are still reconciled
            log.warning("statement not fetched", extra={"provider": name})
            missing[name] = f"statement not fetched: {exc}"
    return statements, missing
