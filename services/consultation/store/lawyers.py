"""The lawyer projection (R-CON-2 assignment): the catalog's lawyer profiles as far as assignment needs
them (fields, activation, service hours), kept current from the catalog's `lawyer.changed`; capacity
(max_open) stays local."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2 as catalog_events
from services.consultation.models import LawyerProjectionRow
from services.rules import assignment
from services.runtime.db import Database


class LawyerProjection:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def apply_lawyer_changed(
        session: AsyncSession, changed: catalog_events.LawyerChanged, when: datetime
    ) -> None:
        """Apply the catalog's `lawyer.changed` of `when`, in the consumer's transaction: the projection row
        of the lawyer's identity account takes the profile's fields the lawyer passed the assessment of
        (assignment.assignable_fields), activation (and why not) and service hours, so activating, deactivating or
        editing a lawyer in the catalog, or the lawyer passing an assessment, changes who can be assigned. A change
        older than the one the row holds is ignored (redelivery out of order); capacity (max_open) stays
        local. `changed` names an identity account (`user_id`)."""
        table = LawyerProjectionRow.__table__  # type: ignore[attr-defined]
        values = {
            "display_name": changed.name,
            "fields": assignment.assignable_fields(changed.fields, changed.passed_fields),
            "active": changed.active,
            "unavailable_reason": changed.unavailable_reason,
            "service_hours": assignment.service_hours_from_catalog(
                (w.weekday, w.start, w.end) for w in changed.service_hours
            ),
            "updated_at": when,
        }
        await session.execute(
            pg_insert(table)
            .values(lawyer_id=changed.user_id, max_open=20, **values)
            .on_conflict_do_update(
                index_elements=[table.c.lawyer_id], set_=values, where=table.c.updated_at <= when
            )
        )

    async def upsert_lawyer(self, lawyer: LawyerProjectionRow) -> None:
        """Insert or update one lawyer of the projection."""
        table = LawyerProjectionRow.__table__  # type: ignore[attr-defined]
        values = lawyer.model_dump()
        async with self.db.transaction() as session:
            await session.execute(
                pg_insert(table)
                .values(**values)
                .on_conflict_do_update(
                    index_elements=[table.c.lawyer_id],
                    set_={k: v for k, v in values.items() if k not in ("lawyer_id", "last_assigned_at")},
                )
            )
