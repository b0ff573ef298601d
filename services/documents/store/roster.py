"""The staff roster (R-DOC-3, §9.5): the lawyers documents assigns by legal field (kept current from the
catalog's `lawyer.changed`), the reviewers whose licence numbers an approval records, and the assignment
itself, by the rules consultation uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.documents.models import DocumentOrderRow, LawyerRosterRow
from services.rules.assignment import LawyerCandidate, choose_lawyer
from services.runtime.db import Database
from services.runtime.records import utcnow

# Stages in which a document order is on its lawyer's desk: they count towards the lawyer's open load.
OPEN_STAGES = ("awaiting_acknowledgement", "drafting", "in_review", "revising")


class StaffRoster:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert_staff(
        self,
        user_id: str,
        role: str,
        licence_number: str,
        fields: Sequence[str] = (),
        service_hours: Sequence[dict[str, Any]] = (),
    ) -> None:
        """A member of staff (seed and tests): role, licence and, for lawyers, legal fields and hours."""
        profile = {"fields": list(fields), "service_hours": list(service_hours)}
        async with self.db.transaction() as session:
            await session.execute(
                pg_insert(LawyerRosterRow.__table__)  # type: ignore[attr-defined]
                .values(user_id=user_id, role=role, licence_number=licence_number, assignments=0, **profile)
                .on_conflict_do_update(
                    index_elements=["user_id"],
                    set_={"role": role, "licence_number": licence_number, **profile},
                )
            )

    async def lawyer_changed(
        self,
        session: AsyncSession,
        user_id: str,
        fields: Sequence[str],
        *,
        active: bool,
        service_hours: list[dict[str, Any]],
    ) -> None:
        """The catalog changed a lawyer profile (`lawyer.changed`, in the consumer's transaction): the roster
        row takes its fields, activation and service hours; an existing row keeps its licence number (a
        reviewer's, recorded at approval) and its assignment count."""
        changed = {"fields": list(fields), "active": active, "service_hours": service_hours}
        await session.execute(
            pg_insert(LawyerRosterRow.__table__)  # type: ignore[attr-defined]
            .values(user_id=user_id, role="lawyer", licence_number="", assignments=0, **changed)
            .on_conflict_do_update(index_elements=["user_id"], set_=changed)
        )


async def pick_lawyer(session: AsyncSession, legal_field: str, exclude: list[str]) -> tuple[str, str]:
    """(lawyer, reason) by the rules consultation uses (services/rules/assignment.py): active, has passed
    the field, not overloaded by open document orders, on duty first, fair ties. ("", "") when nobody is
    eligible: the order waits for an agent to assign it (`DocumentOrders.assign`). The candidates are
    locked: two concurrent assignments cannot both take a lawyer's last free place."""
    lawyers = list(
        (
            await session.exec(
                select(LawyerRosterRow)
                .where(LawyerRosterRow.role == "lawyer")
                .where(col(LawyerRosterRow.active).is_(True))
                .where(col(LawyerRosterRow.fields).contains([legal_field]))
                .order_by(col(LawyerRosterRow.user_id))
                .with_for_update()
            )
        ).all()
    )
    if not lawyers:
        return "", ""
    load_rows = (
        await session.execute(
            select(col(DocumentOrderRow.assigned_lawyer_id), func.count())
            .where(col(DocumentOrderRow.assigned_lawyer_id).in_([lw.user_id for lw in lawyers]))
            .where(col(DocumentOrderRow.stage).in_(OPEN_STAGES))
            .group_by(col(DocumentOrderRow.assigned_lawyer_id))
        )
    ).all()
    load = {lawyer_id: count for lawyer_id, count in load_rows}
    candidates = [
        LawyerCandidate(
            lw.user_id,
            lw.fields,
            lw.active,
            lw.service_hours,
            load.get(lw.user_id, 0),
            lw.max_open,
            lw.last_assigned_at,
        )
        for lw in lawyers
    ]
    choice = choose_lawyer(candidates, legal_field, utcnow(), exclude)
    if choice is None:
        return "", ""
    chosen, reason = choice
    taken(session, next(lw for lw in lawyers if lw.user_id == chosen.lawyer_id))
    return chosen.lawyer_id, reason


async def locked_lawyer(session: AsyncSession, user_id: str) -> LawyerRosterRow | None:
    """The roster row of an active lawyer, locked until the caller's transaction ends (None otherwise)."""
    row = await session.get(LawyerRosterRow, user_id, with_for_update=True)
    return row if row is not None and row.role == "lawyer" and row.active else None


def taken(session: AsyncSession, lawyer: LawyerRosterRow) -> None:
    """Count an assignment to `lawyer` (a locked row): ties go to whoever waited longest since theirs."""
    lawyer.assignments += 1
    lawyer.last_assigned_at = utcnow()
    session.add(lawyer)


async def licence_number(session: AsyncSession, user_id: str) -> str:
    """The practising-licence number of a member of staff ("" when unknown)."""
    staff = await session.get(LawyerRosterRow, user_id)
    return staff.licence_number if staff else ""
