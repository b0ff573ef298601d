"""Phone consultations (R-CON-3, §6.2.1.3, §6.2.4.4): an agent bridges the client's call to a lawyer through
the telephony provider and ends it with its outcome; the call record (duration, recording) is kept and
counts as the consultation served."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import CallRecordRow, LawyerProjectionRow
from services.consultation.store.base import add_stage, locked_consultation
from services.consultation.store.sealed import CALL_OUTCOME, case_subject
from services.consultation.telephony import TelephonyProvider
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.records import new_id, utcnow


class Calls:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def start_call(
        self, principal: Principal | None, consultation_id: str, lawyer_id: str, telephony: TelephonyProvider
    ) -> CallRecordRow:
        """An agent bridges the phone consultation to a lawyer through the provider; the record is kept."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            if not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such consultation")
            found = await session.get(LawyerProjectionRow, lawyer_id) if lawyer_id else None
            agent = domain.validate_start_call(
                principal, row.kind, row.status, found.active if found else None
            )
            call_id = new_id()
            provider_call_id = await telephony.bridge(call_id, agent.user_id, lawyer_id)
            call = CallRecordRow(
                id=call_id,
                consultation_id=consultation_id,
                agent_id=agent.user_id,
                lawyer_id=lawyer_id,
                status="connected",
                started_at=utcnow(),
                provider=telephony.name,
                provider_call_id=provider_call_id,
            )
            session.add(call)
            await session.flush()
            await add_stage(
                session,
                consultation_id,
                "call_connected",
                f"call:{call_id}:connected",
                actor=agent.user_id,
                detail=f"bridged to lawyer {lawyer_id} via {telephony.name}",
            )
            await self._event(session, "call.connected", call, row.tenant_id, agent.user_id)
            return call

    async def end_call(
        self,
        principal: Principal | None,
        consultation_id: str,
        call_id: str,
        outcome: str,
        telephony: TelephonyProvider,
    ) -> CallRecordRow:
        """The agent hangs up with the call's outcome; the provider's recording reference is kept."""
        async with self.db.transaction() as session:
            row = await locked_consultation(session, consultation_id)
            call = (
                await session.exec(
                    select(CallRecordRow)
                    .where(CallRecordRow.id == call_id)
                    .where(CallRecordRow.consultation_id == consultation_id)
                    .with_for_update()
                )
            ).first()
            if call is None or not domain.can_see(principal, row.tenant_id, row.assigned_lawyer_id):
                raise NotFound("no such call")
            agent, outcome = domain.validate_end_call(principal, call.status, outcome)
            cipher = await self.keys.cipher(case_subject(row))
            call.recording_ref = await telephony.hang_up(call.provider_call_id)
            call.ended_at = utcnow()
            call.duration_seconds = domain.call_seconds(call.started_at, call.ended_at)
            call.outcome = cipher.seal(CALL_OUTCOME, outcome)
            call.status = "ended"
            session.add(call)
            await add_stage(
                session,
                consultation_id,
                "call_ended",
                f"call:{call_id}:ended",
                actor=agent.user_id,
                detail=f"{call.duration_seconds} s with lawyer {call.lawyer_id}",
            )
            await self._event(session, "call.ended", call, row.tenant_id, agent.user_id)
        call.outcome = opened(cipher, CALL_OUTCOME, call.outcome)
        return call

    async def _event(
        self, session: AsyncSession, event_type: str, call: CallRecordRow, tenant_id: str, actor_id: str
    ) -> None:
        await self.outbox.add(
            session,
            event_type,
            events_pb2.CallChanged(
                call_id=call.id,
                consultation_id=call.consultation_id,
                lawyer_id=call.lawyer_id,
                status=call.status,
            ),
            aggregate_id=call.consultation_id,
            tenant_id=tenant_id,
            actor_id=actor_id,
            lawyer_id=call.lawyer_id,
        )
