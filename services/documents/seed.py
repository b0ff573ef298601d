"""The documents service's staff roster for local development: the demo lawyers it assigns round-robin
and the demo reviewer whose licence number an approval records (§9.5). Idempotent."""

from __future__ import annotations

from collections.abc import Iterable

from services.documents.store import DocumentsStore


def demo_licence_number(n: int) -> str:
    """A made-up 17-digit practising-licence number for demo staff (format of the PRC licence)."""
    return f"1110120{n:010d}"


async def seed_staff(store: DocumentsStore, lawyer_ids: Iterable[str], reviewer_ids: Iterable[str]) -> None:
    for n, user_id in enumerate(lawyer_ids, start=1):
        await store.upsert_staff(user_id, "lawyer", demo_licence_number(n))
    for n, user_id in enumerate(reviewer_ids, start=901):
        await store.upsert_staff(user_id, "reviewer", demo_licence_number(n))
