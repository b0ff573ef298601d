"""Operator commands of the payment service: `counsel ledger verify` and `counsel payment reconcile
--date YYYY-MM-DD`. They read the payment database named by COUNSEL_DATABASE_URL / _PREFIX."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from services.payment.config import PaymentSettings, configured_providers
from services.payment.invoices import BEIJING
from services.payment.reconciliation import fetch_statements
from services.payment.store.ledger import Ledger
from services.payment.store.reconciliation import Reconciliation
from services.payment.store.sandbox import Sandbox
from services.runtime.config import Settings
from services.runtime.db import Database
from services.runtime.records import utcnow


def _database(settings: Settings) -> Database:
    """The payment database; the commands read its ledger and payments only (no data key needed)."""
    return Database(settings.database_dsn("payment"), pool_size=1)


async def verify_ledger(settings: Settings) -> int:
    """Prints the chain check; exit code 0 when intact, 1 naming the first broken entry."""
    db = _database(settings)
    try:
        report = await Ledger(db).verify()
    finally:
        await db.close()
    if report.valid:
        print(f"ledger intact: {report.checked} entries")
        return 0
    print(
        f"ledger BROKEN at entry {report.first_broken_seq}: {report.problem} ({report.checked} entries before it)"
    )
    return 1


async def reconcile(settings: Settings, day: date, providers: Mapping[str, object] | None = None) -> int:
    """Prints the differences between the ledger and each provider's statement for `day` (Beijing time);
    exit code 0 when they agree, 1 when there are differences. `providers` defaults to the configured ones
    (COUNSEL_ALIPAY_* etc.); those that publish statements are fetched (see services/payment/reconciliation)."""
    start = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    if providers is None:
        providers = configured_providers(PaymentSettings.from_settings(settings))
    statements, missing = await fetch_statements(providers, day, utcnow())
    db = _database(settings)
    try:
        report = await Reconciliation(db, Sandbox(db)).reconcile(start, start + timedelta(days=1), statements)
    finally:
        await db.close()
    for d in report.differences:
        print(f"{d.provider:8} {d.payment_id}  {d.kind:20} ledger={d.ledger_fen} provider={d.provider_fen}")
    for provider in sorted(set(report.unavailable) | set(missing)):
        print(f"{provider:8} not reconciled: {missing.get(provider, 'no statement API here')}")
    print(f"{day.isoformat()}: {len(report.differences)} difference(s)")
    return 1 if report.differences else 0
