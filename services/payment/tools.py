"""Operator commands of the payment service: `counsel ledger verify` and `counsel payment reconcile
--date YYYY-MM-DD`. They read the payment database named by COUNSEL_DATABASE_URL / _PREFIX."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.payment.invoices import BEIJING
from services.payment.models import TABLES
from services.payment.store import PaymentStore
from services.runtime.config import Settings
from services.runtime.db import Database
from services.runtime.events import Outbox


def _store(settings: Settings) -> tuple[Database, PaymentStore]:
    db = Database(settings.database_dsn("payment"), pool_size=1)
    return db, PaymentStore(db, Outbox("payment", settings, TABLES))


async def verify_ledger(settings: Settings) -> int:
    """Prints the chain check; exit code 0 when intact, 1 naming the first broken entry."""
    db, store = _store(settings)
    try:
        report = await store.verify_ledger()
    finally:
        await db.close()
    if report.valid:
        print(f"ledger intact: {report.checked} entries")
        return 0
    print(
        f"ledger BROKEN at entry {report.first_broken_seq}: {report.problem} ({report.checked} entries before it)"
    )
    return 1


async def reconcile(settings: Settings, day: date) -> int:
    """Prints the differences between the ledger and each provider's statement for `day` (Beijing time);
    exit code 0 when they agree, 1 when there are differences."""
    start = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
    db, store = _store(settings)
    try:
        differences, unavailable = await store.reconcile(start, start + timedelta(days=1))
    finally:
        await db.close()
    for d in differences:
        print(f"{d.provider:8} {d.payment_id}  {d.kind:20} ledger={d.ledger_fen} provider={d.provider_fen}")
    for provider in unavailable:
        print(f"{provider:8} statement not available here; not reconciled")
    print(f"{day.isoformat()}: {len(differences)} difference(s)")
    return 1 if differences else 0
