"""Firms joining and lawyers qualifying (§4.1.1, §4.1.2, §4.2.1): the operator registers a firm, records its
signed cooperation agreement and appoints its admins; a firm admin submits a lawyer's credentials, which the
operator or a firm admin verifies. Files go to the `qualifications` bucket before the row that names them
is committed (an upload that fails leaves an object nothing names, never a row without its file)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import domain, qualifications
from services.catalog.files import QualificationFiles
from services.catalog.models import TABLES, FirmRow, LawyerRow, LawyerVerificationRow
from services.catalog.store.base import administered_lawyer
from services.catalog.store.lawyer_events import publish_lawyer_changed
from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import AlreadyExists, Conflict, PermissionDenied
from services.runtime.events import Outbox
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint, utcnow


class Onboarding:
    def __init__(self, db: Database, outbox: Outbox, files: QualificationFiles | None) -> None:
        self.db = db
        self.outbox = outbox
        self.files = files

    def _files(self) -> QualificationFiles:
        if self.files is None:
            raise RuntimeError("the catalog runs without its qualifications bucket")
        return self.files

    async def register_firm(
        self, principal: Principal, registration: qualifications.FirmRegistration, idempotency_key: str
    ) -> FirmRow:
        """A new `pending` firm; AlreadyExists when its credit code is registered, a replayed key returns
        the first firm."""
        firm_id = new_id()
        try:
            async with self.db.transaction() as session:
                if idempotency_key:
                    existing = await claim_idempotency_key(
                        session,
                        TABLES,
                        f"firm:{principal.user_id}",
                        idempotency_key,
                        request_fingerprint(registration),
                        firm_id,
                    )
                    if existing is not None:
                        return await get_or_404(session, FirmRow, existing, "firm")
                row = FirmRow(
                    id=firm_id,
                    name=registration.name,
                    city=registration.city,
                    address=registration.address,
                    lat=registration.lat,
                    lng=registration.lng,
                    credit_code=registration.credit_code,
                    registered_capital_fen=registration.registered_capital_fen,
                    status="pending",
                    created_at=utcnow(),
                )
                session.add(row)
                await session.flush()
                return row
        except IntegrityError:
            raise AlreadyExists("a firm with this unified social credit code is registered") from None

    async def record_agreement(self, firm_id: str, content: bytes, starts_on: date, ends_on: date) -> FirmRow:
        """Store the signed agreement and its term; the firm becomes `active`, and its lawyers' standing
        (`lawyer.changed`) follows the new end date. Replaces an earlier agreement."""
        async with self.db.transaction() as session:
            await get_or_404(session, FirmRow, firm_id, "firm")
        name = f"firms/{firm_id}/agreement-{new_id()}"
        sha256 = await self._files().put(name, content)
        async with self.db.transaction() as session:
            firm = await get_or_404(session, FirmRow, firm_id, "firm", for_update=True)
            firm.status = "active"
            firm.agreement_starts_on, firm.agreement_ends_on = starts_on, ends_on
            firm.agreement_object, firm.agreement_sha256 = name, sha256
            firm.agreement_warned_at = None
            session.add(firm)
            await session.flush()
            await self._republish_firm(session, firm.id, "operator")
            return firm

    async def add_admin(self, firm_id: str, user_id: str) -> FirmRow:
        async with self.db.transaction() as session:
            firm = await get_or_404(session, FirmRow, firm_id, "firm", for_update=True)
            if user_id not in firm.admin_user_ids:
                firm.admin_user_ids = [*firm.admin_user_ids, user_id]
                session.add(firm)
                await session.flush()
            return firm

    async def submit_credentials(
        self, principal: Principal, lawyer_id: str, credentials: qualifications.Credentials
    ) -> LawyerRow:
        """An admin of the lawyer's firm submits credentials: verification `pending`; the previous
        verification no longer holds, so the lawyer's standing is republished."""
        async with self.db.transaction() as session:
            await administered_lawyer(session, principal, lawyer_id)
        files = self._files()
        practice = await files.put(
            f"lawyers/{lawyer_id}/practice-{new_id()}", credentials.practice_certificate
        )
        degree = await files.put(f"lawyers/{lawyer_id}/degree-{new_id()}", credentials.degree_certificate)
        async with self.db.transaction() as session:
            row, _ = await administered_lawyer(session, principal, lawyer_id)
            row.licence_number = credentials.certificate_number
            row.inspection_due_on = credentials.inspection_due_on
            row.practice_certificate_sha256, row.degree_certificate_sha256 = practice, degree
            row.verification = "pending"
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await publish_lawyer_changed(self.outbox, session, row, principal.user_id)
            return row

    async def verify(self, principal: Principal, lawyer_id: str, decision: str, notes: str) -> LawyerRow:
        """The operator's or a firm admin's decision on pending credentials, recorded with what was checked
        and published (`lawyer.verification_recorded`); Conflict when nothing is pending."""
        async with self.db.transaction() as session:
            if principal.has_role(qualifications.OPERATOR_ROLE):
                row = await get_or_404(session, LawyerRow, lawyer_id, "lawyer", for_update=True)
                role = qualifications.OPERATOR_ROLE
            else:
                row, _ = await administered_lawyer(session, principal, lawyer_id)
                role = FIRM_SERVICE_ROLE if principal.is_firm_system else "firm_admin"
            if row.verification != "pending":
                raise Conflict("the lawyer has no credentials awaiting verification", reason="not_pending")
            now = utcnow()
            session.add(
                LawyerVerificationRow(
                    id=new_id(),
                    lawyer_id=row.id,
                    decision=decision,
                    notes=notes,
                    verifier_id=principal.user_id,
                    verifier_role=role,
                    certificate_number=row.licence_number,
                    inspection_due_on=row.inspection_due_on,
                    practice_certificate_sha256=row.practice_certificate_sha256,
                    degree_certificate_sha256=row.degree_certificate_sha256,
                    years_of_practice=row.years_of_practice,
                    decided_at=now,
                )
            )
            row.verification = decision
            if decision == "rejected":
                row.active = False
            row.updated_at = now
            session.add(row)
            await session.flush()
            await self.outbox.add(
                session,
                "lawyer.verification_recorded",
                events_pb2.LawyerVerificationRecorded(
                    lawyer_id=row.id,
                    firm_id=row.firm_id,
                    decision=decision,
                    verifier_id=principal.user_id,
                    verifier_role=role,
                ),
                aggregate_id=row.id,
                actor_id=principal.user_id,
            )
            await publish_lawyer_changed(self.outbox, session, row, principal.user_id)
            return row

    async def verifications(self, principal: Principal, lawyer_id: str) -> list[LawyerVerificationRow]:
        """The lawyer's verification history, oldest first: supervisors and the operator see any lawyer's,
        a firm admin their firm's lawyers' (another's is NotFound)."""
        async with self.db.transaction() as session:
            if principal.has_role("supervisor", qualifications.OPERATOR_ROLE):
                await get_or_404(session, LawyerRow, lawyer_id, "lawyer")
            elif principal.has_role("firm_admin") or principal.is_firm_system:
                await administered_lawyer(session, principal, lawyer_id)
            else:
                raise PermissionDenied("only supervisors, the operator and firm admins read verifications")
            statement = (
                select(LawyerVerificationRow)
                .where(LawyerVerificationRow.lawyer_id == lawyer_id)
                .order_by(col(LawyerVerificationRow.decided_at), col(LawyerVerificationRow.id))
            )
            return list((await session.exec(statement)).all())

    async def pending_credentials(self, principal: Principal) -> list[LawyerRow]:
        """The lawyers whose credentials await a decision, oldest submission first: every firm's for the
        operator, their own firm's for a firm admin (or the firm's system)."""
        if (
            not principal.has_role(qualifications.OPERATOR_ROLE, "firm_admin")
            and not principal.is_firm_system
        ):
            raise PermissionDenied("only the operator and firm admins see credentials awaiting verification")
        async with self.db.transaction() as session:
            statement = (
                select(LawyerRow, FirmRow)
                .join(FirmRow, col(FirmRow.id) == col(LawyerRow.firm_id))
                .where(LawyerRow.verification == "pending")
                .order_by(col(LawyerRow.updated_at), col(LawyerRow.id))
            )
            rows = (await session.exec(statement)).all()
        if principal.has_role(qualifications.OPERATOR_ROLE):
            return [lawyer for lawyer, _ in rows]
        return [
            lawyer for lawyer, firm in rows if domain.administers(principal, firm.id, firm.admin_user_ids)
        ]

    async def warn_agreement_ending(self, firm_id: str, ends_on: date) -> FirmRow | None:
        """Record and publish (`firm.agreement_ending`) that the firm's agreement (or, with none on record,
        its grace period) ending `ends_on` ends within the warning period; None when the firm takes work
        until another day (replaced, or never recorded). Idempotent."""
        async with self.db.transaction() as session:
            firm = await session.get(FirmRow, firm_id, with_for_update=True)
            if firm is None or (
                qualifications.takes_work_until(firm.agreement_ends_on, firm.agreement_grace_ends_on)
                != ends_on
            ):
                return None
            if firm.agreement_warned_at is None:
                firm.agreement_warned_at = utcnow()
                session.add(firm)
                await session.flush()
                await self.outbox.add(
                    session,
                    "firm.agreement_ending",
                    events_pb2.FirmAgreementEnding(
                        firm_id=firm.id, name=firm.name, agreement_ends_on=ends_on.isoformat()
                    ),
                    aggregate_id=firm.id,
                    actor_id="system",
                )
            return firm

    async def grace_periods(self) -> list[tuple[str, date]]:
        """(firm id, last day) of each firm taking new work on a grace period (no agreement on record)."""
        async with self.db.transaction() as session:
            statement = select(FirmRow).where(
                col(FirmRow.agreement_ends_on).is_(None), col(FirmRow.agreement_grace_ends_on).is_not(None)
            )
            firms = (await session.exec(statement)).all()
        return [(firm.id, firm.agreement_grace_ends_on) for firm in firms if firm.agreement_grace_ends_on]

    async def refresh_standing(self, firm_id: str, lawyer_id: str) -> int:
        """Republish `lawyer.changed` for a firm's lawyers or one lawyer (a clock passed a date that changes
        whether they may take new work); how many (0 for a lawyer that does not exist)."""
        async with self.db.transaction() as session:
            if lawyer_id:
                row = await session.get(LawyerRow, lawyer_id)
                if row is None:
                    return 0
                row.updated_at = utcnow()
                session.add(row)
                await publish_lawyer_changed(self.outbox, session, row, "system")
                return 1
            return await self._republish_firm(session, firm_id, "system")

    async def _republish_firm(self, session: AsyncSession, firm_id: str, actor_id: str) -> int:
        statement = select(LawyerRow).where(LawyerRow.firm_id == firm_id).with_for_update()
        rows = list((await session.exec(statement)).all())
        now = utcnow()
        for row in rows:
            row.updated_at = now
            session.add(row)
            await publish_lawyer_changed(self.outbox, session, row, actor_id)
        return len(rows)
