"""Law firms (R-INFO-2, R-OPS-3): the public listing and page, the seed's upsert, and a firm admin's edit of
their own firm's profile."""

from __future__ import annotations

from sqlalchemy import literal, tuple_
from sqlmodel import col, select

from services.catalog import domain
from services.catalog.models import FirmRow, LawyerRow
from services.catalog.store.base import administered_firm, index_lawyer, keyset
from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.db import Database
from services.runtime.records import encode_cursor

# The public profile a firm admin replaces; rating, admins and creation time are the catalog's.
EDITABLE_FIELDS = (
    "name",
    "city",
    "address",
    "lat",
    "lng",
    "phone",
    "description",
    "opening_hours",
    "transit_routes",
    "staff",
)


class Firms:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert_firm(self, row: FirmRow) -> None:
        """Seed path: insert or refresh a firm, keeping the reputation its reviews earned."""
        async with self.db.transaction() as session:
            existing = await session.get(FirmRow, row.id, with_for_update=True)
            if existing is not None:
                row.rating_average, row.rating_count = existing.rating_average, existing.rating_count
            await session.merge(row)

    async def update_firm(self, principal: Principal, changes: FirmRow) -> FirmRow:
        """A firm admin replaces their own firm's public profile (another firm is NotFound). Rating, admins
        and creation time are kept; lawyers' search text follows the firm's name and city."""
        async with self.db.transaction() as session:
            firm = await administered_firm(session, principal, changes.id)
            for name in EDITABLE_FIELDS:
                setattr(firm, name, getattr(changes, name))
            session.add(firm)
            lawyers = (await session.exec(select(LawyerRow).where(LawyerRow.firm_id == firm.id))).all()
            for lawyer in lawyers:
                index_lawyer(lawyer, firm)
                session.add(lawyer)
            await session.flush()
            return firm

    async def list_firms(self, city: str, limit: int, cursor: str) -> tuple[list[FirmRow], str]:
        statement = select(FirmRow)
        if city:
            statement = statement.where(FirmRow.city == city)
        if cursor:
            values = keyset(cursor, 3)
            statement = statement.where(
                tuple_(col(FirmRow.city), col(FirmRow.name), col(FirmRow.id))
                > tuple_(*[literal(v) for v in values])
            )
        statement = statement.order_by(col(FirmRow.city), col(FirmRow.name), col(FirmRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        if len(rows) > limit:
            last = rows[limit - 1]
            return rows[:limit], encode_cursor(last.city, last.name, last.id)
        return rows, ""

    async def get_firm(self, firm_id: str) -> FirmRow:
        return await self.db.get(FirmRow, firm_id, "firm")

    async def administers(self, principal: Principal | None, firm_id: str) -> bool:
        """Whether `principal` manages firm `firm_id` (one of its admins, or its own system)."""
        if principal is None or not firm_id or not principal.has_role("firm_admin", FIRM_SERVICE_ROLE):
            return False
        async with self.db.transaction() as session:
            firm = await session.get(FirmRow, firm_id)
        return firm is not None and domain.administers(principal, firm.id, firm.admin_user_ids)
