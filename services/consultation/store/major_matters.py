"""Major matters (§5.3.1, R-CON-4): the team formed for a consultation, the meeting held for the client, the
team's conclusion and its signatures. Each change locks the consultation first (store/base.py), puts its
step on the consultation's stages (the client's timeline) and publishes its event in the same transaction.
The reason and the conclusion are sealed with the client's data key (store/sealed.py); every method returns
its row opened."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain, major
from services.consultation.models import ConsultationRow, MajorMatterRow
from services.consultation.store.base import add_stage, locked_consultation
from services.consultation.store.sealed import (
    MAJOR_CONCLUSION,
    MAJOR_REASON,
    case_subject,
    open_major_matters,
)
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.records import utcnow


class MajorMatters:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def escalation_target(
        self, principal: Principal | None, consultation_id: str
    ) -> tuple[ConsultationRow, MajorMatterRow | None]:
        """The consultation the caller may escalate (NotFound when they may not see it), and its major matter
        when it already is one."""
        async with self.db.transaction() as session:
            consultation = await get_or_404(session, ConsultationRow, consultation_id, "consultation")
            if not domain.can_see(principal, consultation.tenant_id, consultation.assigned_lawyer_id):
                raise NotFound("no such consultation")
            major.require_escalator(principal, consultation.assigned_lawyer_id)
            found = await session.get(MajorMatterRow, consultation_id)
        if found is not None:
            await open_major_matters(self.keys, consultation, [found])
        return consultation, found

    async def escalate(
        self, actor: Principal, consultation_id: str, team: major.Team, booking_id: str, reason: str
    ) -> MajorMatterRow:
        """Record the major matter with its team and meeting; the first one stands when it already is one."""
        async with self.db.transaction() as session:
            consultation = await locked_consultation(session, consultation_id)
            found = await session.get(MajorMatterRow, consultation_id)
            if found is None:
                major.check_escalable(
                    consultation.status, consultation.legal_field, consultation.needs_manual_classification
                )
                cipher = await self.keys.cipher(case_subject(consultation))
                now = utcnow()
                found = MajorMatterRow(
                    consultation_id=consultation_id,
                    status="team_formed",
                    team=list(team.members),
                    booking_id=booking_id,
                    reason=cipher.seal(MAJOR_REASON, reason),
                    escalated_by=actor.user_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(found)
                await session.flush()
                detail = f"team: {', '.join(team.members)}" + (
                    f"; meeting {booking_id}" if booking_id else ""
                )
                await self._record(session, consultation, found, "major_escalated", actor.user_id, detail)
        await open_major_matters(self.keys, consultation, [found])
        return found

    async def write_conclusion(
        self, principal: Principal | None, consultation_id: str, body: str
    ) -> MajorMatterRow:
        async with self.db.transaction() as session:
            consultation, found = await self._locked(session, consultation_id)
            major.require_team_member(principal, found.team, "write the conclusion")
            text = major.validate_conclusion(found.status, found.signed_by, body)
            cipher = await self.keys.cipher(case_subject(consultation))
            found.conclusion = cipher.seal(MAJOR_CONCLUSION, text)
            found.status = "conclusion_drafted"
            found.updated_at = utcnow()
            session.add(found)
        await open_major_matters(self.keys, consultation, [found])
        return found

    async def sign_conclusion(self, principal: Principal | None, consultation_id: str) -> MajorMatterRow:
        """The member's signature; the last one concludes the matter: the client sees the conclusion."""
        async with self.db.transaction() as session:
            consultation, found = await self._locked(session, consultation_id)
            member = major.require_team_member(principal, found.team, "sign the conclusion")
            signing = major.sign(found.status, found.team, found.signed_by, member.user_id)
            if signing.changed:
                now = utcnow()
                found.signed_by = list(signing.signed_by)
                found.updated_at = now
                if signing.concluded:
                    found.status = "concluded"
                    found.concluded_at = now
                    await self._record(
                        session,
                        consultation,
                        found,
                        "major_concluded",
                        member.user_id,
                        "signed by every member",
                    )
                session.add(found)
        await open_major_matters(self.keys, consultation, [found])
        return found

    async def _locked(
        self, session: AsyncSession, consultation_id: str
    ) -> tuple[ConsultationRow, MajorMatterRow]:
        consultation = await locked_consultation(session, consultation_id)
        found = await session.get(MajorMatterRow, consultation_id)
        if found is None:
            raise NotFound("the consultation is not a major matter")
        return consultation, found

    async def _record(
        self,
        session: AsyncSession,
        consultation: ConsultationRow,
        found: MajorMatterRow,
        step: str,
        actor_id: str,
        detail: str,
    ) -> None:
        await add_stage(session, consultation.id, step, f"major:{step}", actor=actor_id, detail=detail)
        await self.outbox.add(
            session,
            f"consultation.{step}",
            events_pb2.MajorMatterChanged(
                consultation_id=consultation.id,
                client_id=consultation.client_id,
                team=found.team,
                booking_id=found.booking_id,
                status=found.status,
            ),
            aggregate_id=consultation.id,
            tenant_id=consultation.tenant_id,
            actor_id=actor_id,
            lawyer_id=found.team[0],
        )
