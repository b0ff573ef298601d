"""Phone consultations (R-CON-3, §6.2.1.3, §6.2.4.4): an agent bridges the client's call to a lawyer through
the telephony provider and ends it with its outcome; the call record (duration, recording) is kept and
counts as the consultation served. A provider that reports the line's facts itself (talk time, recording)
does so by receipts, applied once each whenever they come."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import CallRecordRow, ConsultationStageRow, LawyerProjectionRow
from services.consultation.store.base import add_stage, locked_consultation
from services.consultation.store.sealed import CALL_OUTCOME, case_subject
from services.consultation.telephony import CallParties, CallReceipt, TelephonyProvider
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
            standing = domain.LawyerStanding(found.active, found.unavailable_reason) if found else None
            agent = domain.validate_start_call(principal, row.kind, row.status, standing)
            call_id = new_id()
            provider_call_id = await telephony.bridge(
                call_id, CallParties(client_id=row.client_id, agent_id=agent.user_id, lawyer_id=lawyer_id)
            )
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
            call.recording_ref = await telephony.hang_up(call.provider_call_id) or call.recording_ref
            call.ended_at = utcnow()
            if not await talk_reported(session, call):
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

    async def apply_receipts(self, provider: str, receipts: list[CallReceipt]) -> int:
        """Apply a provider's receipts to its calls, each once (by its report id): the talk time the provider
        reported replaces the record's own timing, the recording reference is kept. Returns how many were
        new; a receipt for a call this provider never bridged is skipped."""
        applied = 0
        async with self.db.transaction() as session:
            for receipt in receipts:
                call = (
                    await session.exec(
                        select(CallRecordRow)
                        .where(CallRecordRow.id == receipt.call_id)
                        .where(CallRecordRow.provider == provider)
                        .with_for_update()
                    )
                ).first()
                if call is None:
                    continue
                first_talk = receipt.talk_seconds is not None and not await talk_reported(session, call)
                if not await add_stage(
                    session,
                    call.consultation_id,
                    "call_reported",
                    receipt_key(call.id, receipt.report_id),
                    detail=receipt_detail(receipt),
                ):
                    continue
                if receipt.talk_seconds is not None:
                    call.duration_seconds = receipt.talk_seconds + (
                        0 if first_talk else call.duration_seconds
                    )
                call.recording_ref = receipt.recording_ref or call.recording_ref
                session.add(call)
                applied += 1
        return applied

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


def receipt_key(call_id: str, report_id: str) -> str:
    return f"call:{call_id}:receipt:{report_id}"


def receipt_detail(receipt: CallReceipt) -> str:
    if receipt.talk_seconds is None:
        return "the provider's recording is ready"
    return f"{receipt.talk_seconds} s on the line, as the provider reported"


async def talk_reported(session: AsyncSession, call: CallRecordRow) -> bool:
    """Whether the provider has reported talk time for the call (its receipts then give the duration)."""
    reports = await session.exec(
        select(func.count())
        .select_from(ConsultationStageRow)
        .where(ConsultationStageRow.consultation_id == call.consultation_id)
        .where(
            col(ConsultationStageRow.idempotency_key).startswith(
                receipt_key(call.id, "report:"), autoescape=True
            )
        )
    )
    return reports.one() > 0
