"""The documents service's staff roster for local development: the demo lawyers it assigns by legal field
(the same fields and service hours as the consultation's demo lawyers, services/consultation/seed.py, until
the catalog's `lawyer.changed` events feed both projections) and the demo reviewer whose licence number
an approval records (§9.5). Idempotent."""

from __future__ import annotations

from collections.abc import Iterable

from services.consultation.seed import DEMO_FIELDS, EVERY_DAY, WEEKDAYS
from services.documents.store import DocumentsStore


def demo_licence_number(n: int) -> str:
    """A made-up 17-digit practising-licence number for demo staff (format of the PRC licence)."""
    return f"1110120{n:010d}"


async def seed_staff(store: DocumentsStore, lawyer_ids: Iterable[str], reviewer_ids: Iterable[str]) -> None:
    """`lawyer_ids[n]` is lawyer{n+1}@demo.counsel.test, with the consultation seed's fields and hours."""
    for n, user_id in enumerate(lawyer_ids, start=1):
        await store.upsert_staff(
            user_id,
            "lawyer",
            demo_licence_number(n),
            fields=DEMO_FIELDS[(n - 1) % len(DEMO_FIELDS)],
            service_hours=[EVERY_DAY if (n - 1) % 2 == 0 else WEEKDAYS],
        )
    for n, user_id in enumerate(reviewer_ids, start=901):
        await store.upsert_staff(user_id, "reviewer", demo_licence_number(n))
