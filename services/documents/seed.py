"""The documents service's staff roster for local development: the demo lawyers it assigns by legal field
(deploy/local/bootstrap.py gives them the consultation seed's fields and service hours, until the catalog's
`lawyer.changed` events feed both projections) and the demo reviewer whose licence number an approval
records (§9.5). Idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from services.documents.store.roster import StaffRoster


def demo_licence_number(n: int) -> str:
    """A made-up 17-digit practising-licence number for demo staff (format of the PRC licence)."""
    return f"1110120{n:010d}"


async def seed_staff(
    store: StaffRoster,
    lawyers: Iterable[tuple[str, Sequence[str], list[dict[str, Any]]]],
    reviewer_ids: Iterable[str],
) -> None:
    """`lawyers[n]` is lawyer{n+1}@demo.counsel.test as (user id, fields, service hours)."""
    for n, (user_id, fields, service_hours) in enumerate(lawyers, start=1):
        await store.upsert_staff(
            user_id, "lawyer", demo_licence_number(n), fields=fields, service_hours=service_hours
        )
    for n, user_id in enumerate(reviewer_ids, start=901):
        await store.upsert_staff(user_id, "reviewer", demo_licence_number(n))
