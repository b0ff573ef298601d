"""Demo lawyers of the consultation's lawyer projection (API.md "Local development only").

The catalog owns lawyer profiles (fields, service hours, activation) and publishes `lawyer.changed` for
every activation, deactivation and edit; a durable consumer (`consultation-lawyers`) applies them to this
projection. The catalog's demo data is seeded without events, so the local stack inserts the demo lawyers
here once, keyed by their identity ids; rows the catalog's events changed are never overwritten.
Idempotent: run it at every start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.consultation.models import LawyerProjectionRow
from services.consultation.store.lawyers import LawyerProjection
from services.runtime.records import utcnow

WEEKDAYS = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
EVERY_DAY = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "08:00", "end": "22:00"}

# lawyer1 … lawyer10: every legal field has at least two lawyers, so a breach can always be reassigned.
DEMO_FIELDS: tuple[tuple[str, ...], ...] = (
    ("contract", "company"),
    ("labour", "litigation"),
    ("company", "finance"),
    ("ip", "contract"),
    ("litigation", "real_estate"),
    ("tax", "finance"),
    ("labour", "other"),
    ("real_estate", "contract"),
    ("ip", "other"),
    ("tax", "litigation", "company"),
)


def demo_lawyers(lawyer_ids: Sequence[str]) -> list[tuple[str, tuple[str, ...], list[dict[str, Any]]]]:
    """(id, fields, service hours) of each demo lawyer, `lawyer_ids[n]` being lawyer{n+1}@demo.counsel.test."""
    return [
        (lawyer_id, DEMO_FIELDS[n % len(DEMO_FIELDS)], [EVERY_DAY if n % 2 == 0 else WEEKDAYS])
        for n, lawyer_id in enumerate(lawyer_ids)
    ]


async def seed_demo(store: LawyerProjection, lawyer_ids: Sequence[str]) -> None:
    """Upsert the demo lawyers, `lawyer_ids[n]` being lawyer{n+1}@demo.counsel.test."""
    for n, (lawyer_id, fields, service_hours) in enumerate(demo_lawyers(lawyer_ids)):
        await store.upsert_lawyer(
            LawyerProjectionRow(
                lawyer_id=lawyer_id,
                display_name=f"演示律师{n + 1}",
                fields=list(fields),
                active=True,
                service_hours=service_hours,
                max_open=20,
                updated_at=utcnow(),
            ),
            only_if_absent=True,
        )
