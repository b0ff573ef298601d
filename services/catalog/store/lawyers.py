"""Lawyer profiles (R-INFO-2, §4.2.1, R-OPS-3): listed and read publicly while active, managed by an admin of
their firm, switched online by the lawyer. Every change of what makes a lawyer assignable (fields, hours,
activation, account) publishes `lawyer.changed`, from which consultation and documents keep their copies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import domain, qualifications
from services.catalog.models import TABLES, FirmRow, LawyerRow
from services.catalog.store.base import (
    TextSearch,
    administered_firm,
    administered_lawyer,
    index_lawyer,
    ranked,
    vector,
)
from services.catalog.store.firms import Firms
from services.catalog.store.lawyer_events import publish_lawyer_changed
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint, utcnow


@dataclass(frozen=True)
class LawyerFilter:
    field: str = ""
    online: bool | None = None
    city: str = ""
    firm_id: str = ""
    query: str = ""


async def _check_account_free(session: AsyncSession, user_id: str, lawyer_id: str) -> None:
    """One lawyer profile per identity account."""
    if not user_id:
        return
    statement = select(LawyerRow.id).where(LawyerRow.user_id == user_id, LawyerRow.id != lawyer_id)
    if (await session.exec(statement)).first() is not None:
        raise InvalidArgument.for_field("user_id", "this account already has a lawyer profile")


def _taking_new_work(today: date) -> list[ColumnElement[bool]]:
    """The conditions of `qualifications.why_not_assignable` == "" as SQL, for listing."""
    works_until = func.coalesce(col(FirmRow.agreement_ends_on), col(FirmRow.agreement_grace_ends_on))
    firms_in_force = select(FirmRow.id).where(works_until >= today)
    return [
        col(LawyerRow.active).is_(True),
        col(LawyerRow.verification) == "verified",
        or_(col(LawyerRow.inspection_due_on).is_(None), col(LawyerRow.inspection_due_on) >= today),
        col(LawyerRow.firm_id).in_(firms_in_force),
    ]


def _apply_profile(row: LawyerRow, profile: domain.Profile) -> None:
    row.name = profile.name
    row.specialty = profile.specialty
    row.fields = list(profile.fields)
    row.service_hours = list(profile.service_hours)
    row.service_exceptions = list(profile.service_exceptions)
    row.years_of_practice = profile.years_of_practice
    row.licence_number = profile.licence_number
    row.bio = profile.bio
    row.user_id = profile.user_id
    row.online = profile.online


class Lawyers:
    def __init__(self, db: Database, outbox: Outbox, firms: Firms) -> None:
        self.db = db
        self.outbox = outbox
        self.firms = firms

    async def upsert_lawyer(self, row: LawyerRow) -> None:
        """Seed path: insert or refresh a lawyer with its firm's city and search text, keeping its rating
        and the online status the lawyer set, and publish `lawyer.changed` (stamped now, so the copies take
        it over anything older: the seed is what the demo lawyers are after a restart)."""
        async with self.db.transaction() as session:
            firm = await session.get(FirmRow, row.firm_id)
            if firm is None:
                raise NotFound("no such firm")
            existing = await session.get(LawyerRow, row.id, with_for_update=True)
            if existing is not None:
                row.rating_average, row.rating_count = existing.rating_average, existing.rating_count
                row.online = existing.online
            index_lawyer(row, firm)
            row.updated_at = utcnow()
            stored = await session.merge(row)
            await session.flush()
            await publish_lawyer_changed(self.outbox, session, stored, "system")

    async def list_lawyers(
        self, filters: LawyerFilter, limit: int, cursor: str, principal: Principal | None = None
    ) -> tuple[list[LawyerRow], str]:
        """Lawyers who may take new work now (active, verified, firm agreement in force, inspection not
        overdue); online first, then by name, or by relevance when `filters.query` is given. An admin of the
        firm named by `filters.firm_id` sees all its profiles."""
        statement = select(LawyerRow)
        if not await self.firms.administers(principal, filters.firm_id):
            statement = statement.where(*_taking_new_work(qualifications.today_in_china(utcnow())))
        if filters.field:
            statement = statement.where(col(LawyerRow.fields).contains([filters.field]))
        if filters.online is not None:
            statement = statement.where(col(LawyerRow.online).is_(filters.online))
        if filters.city:
            statement = statement.where(LawyerRow.city == filters.city)
        if filters.firm_id:
            statement = statement.where(LawyerRow.firm_id == filters.firm_id)
        if filters.query:
            found = TextSearch(
                filters.query,
                vector(LawyerRow),
                [col(LawyerRow.name)],
                [col(LawyerRow.specialty), col(LawyerRow.bio)],
            )
            statement = statement.where(found.condition).order_by(
                found.rank.desc(), col(LawyerRow.online).desc(), col(LawyerRow.id)
            )
            return await ranked(self.db, statement, limit, cursor)
        statement = statement.order_by(col(LawyerRow.online).desc(), col(LawyerRow.name), col(LawyerRow.id))
        return await ranked(self.db, statement, limit, cursor)

    async def get_lawyer(self, principal: Principal | None, lawyer_id: str) -> LawyerRow:
        """An active lawyer, or an inactive one to an admin of its firm, to the lawyer themself and to the
        operator and supervisors (who verify lawyers and read their verification history, §4.2.1); NotFound
        otherwise."""
        async with self.db.transaction() as session:
            row = await session.get(LawyerRow, lawyer_id)
            if row is not None and not row.active:
                firm = await session.get(FirmRow, row.firm_id)
                if (
                    principal is None
                    or firm is None
                    or not (
                        domain.administers(principal, firm.id, firm.admin_user_ids)
                        or (bool(row.user_id) and row.user_id == principal.user_id)
                        or principal.has_role("operator", "supervisor")
                    )
                ):
                    row = None
        if row is None:
            raise NotFound("no such lawyer")
        return row

    async def create_lawyer(
        self, principal: Principal, firm_id: str, profile: domain.Profile, idempotency_key: str
    ) -> LawyerRow:
        """A new, inactive lawyer of a firm the caller administers; a replayed idempotency key returns the
        first one (Conflict when reused for another profile)."""
        lawyer_id = new_id()
        async with self.db.transaction() as session:
            firm = await administered_firm(session, principal, firm_id)
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"lawyer:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(firm_id, profile),
                    lawyer_id,
                )
                if existing is not None:
                    return await get_or_404(session, LawyerRow, existing, "lawyer")
            await _check_account_free(session, profile.user_id, lawyer_id)
            now = utcnow()
            row = LawyerRow(id=lawyer_id, firm_id=firm.id, name=profile.name, created_at=now, updated_at=now)
            _apply_profile(row, profile)
            index_lawyer(row, firm)
            session.add(row)
            await session.flush()
            return row

    async def update_lawyer(self, principal: Principal, lawyer_id: str, profile: domain.Profile) -> LawyerRow:
        """Replace the profile of a lawyer of the caller's firm. An active lawyer stays eligible (§4.2.1)."""
        async with self.db.transaction() as session:
            row, firm = await administered_lawyer(session, principal, lawyer_id)
            if row.active:
                domain.check_activation(profile.licence_number, profile.years_of_practice)
            await _check_account_free(session, profile.user_id, row.id)
            _apply_profile(row, profile)
            index_lawyer(row, firm)
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await publish_lawyer_changed(self.outbox, session, row, principal.user_id)
            return row

    async def deactivate_lawyer(self, principal: Principal, lawyer_id: str) -> LawyerRow:
        """Deactivate (unlist, no new assignments) a lawyer of the caller's firm and publish lawyer.changed.
        Idempotent."""
        async with self.db.transaction() as session:
            row, _ = await administered_lawyer(session, principal, lawyer_id)
            if not domain.changes_activation(row.active, False, row.licence_number, row.years_of_practice):
                return row
            row.active = False
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await publish_lawyer_changed(self.outbox, session, row, principal.user_id)
            return row

    async def activate_lawyer(self, principal: Principal, lawyer_id: str) -> LawyerRow:
        """Activate (list and make assignable) a lawyer of the caller's firm and publish lawyer.activated;
        InvalidArgument naming licence_number or years_of_practice when §4.2.1 is not met, Conflict while
        the credentials are not verified. Idempotent."""
        async with self.db.transaction() as session:
            row, _ = await administered_lawyer(session, principal, lawyer_id)
            if not domain.changes_activation(row.active, True, row.licence_number, row.years_of_practice):
                return row
            if row.verification != "verified":
                raise Conflict("the lawyer's credentials are not verified (§4.2.1)", reason="not_verified")
            row.active = True
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await self.outbox.add(
                session,
                "lawyer.activated",
                events_pb2.LawyerActivated(
                    lawyer_id=row.id, user_id=row.user_id, firm_id=row.firm_id, fields=row.fields
                ),
                aggregate_id=row.id,
                actor_id=principal.user_id,
            )
            await publish_lawyer_changed(self.outbox, session, row, principal.user_id)
            return row

    async def own_lawyer(self, principal: Principal) -> LawyerRow | None:
        """The calling lawyer's own profile, active or not; None without one."""
        async with self.db.transaction() as session:
            statement = select(LawyerRow).where(LawyerRow.user_id == principal.user_id)
            return (await session.exec(statement)).first()

    async def set_online(self, principal: Principal, online: bool) -> LawyerRow:
        """The calling lawyer's own profile goes online or offline (NotFound without a profile)."""
        async with self.db.transaction() as session:
            statement = select(LawyerRow).where(LawyerRow.user_id == principal.user_id).with_for_update()
            row = (await session.exec(statement)).first()
            if row is None:
                raise NotFound("you have no lawyer profile")
            row.online = online
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            return row

    async def unavailable_reasons(self, rows: list[LawyerRow]) -> dict[str, str]:
        """Why each lawyer may not take new work now ("" when they may), by lawyer id."""
        firm_ids = {row.firm_id for row in rows}
        async with self.db.transaction() as session:
            firms = (await session.exec(select(FirmRow).where(col(FirmRow.id).in_(firm_ids)))).all()
        ends = {
            firm.id: qualifications.takes_work_until(firm.agreement_ends_on, firm.agreement_grace_ends_on)
            for firm in firms
        }
        today = qualifications.today_in_china(utcnow())
        return {
            row.id: qualifications.why_not_assignable(
                row.active, row.verification, ends.get(row.firm_id), row.inspection_due_on, today
            )
            for row in rows
        }
