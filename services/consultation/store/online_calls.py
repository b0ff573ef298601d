"""Online calls (§6.2.4.1, §6.2.4.4): a client calls an online lawyer in the browser, the lawyer accepts,
either ends it with what came of it. The record keeps who, when, how long, the outcome (sealed with the
client's case key) and the consultation it belongs to, whose timeline shows it; signalling is never stored.
Its end is the event `online_call.ended`, by which payment completes the phone order a connected call used up
(services/payment/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from counsel.consultation.v1 import events_pb2
from services.consultation import domain
from services.consultation.models import ConsultationRow, OnlineCallRow
from services.consultation.store.base import add_stage
from services.consultation.store.sealed import ONLINE_CALL_OUTCOME, case_subject
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.erasure import opened
from services.runtime.errors import NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys
from services.runtime.records import new_id, utcnow

# A lawyer has few calls ringing at once; the list is for the workbench, not a history.
MAX_LISTED = 50


@dataclass(frozen=True)
class CalledLawyer:
    """The catalog's lawyer being called and the identity account that answers for them."""

    lawyer_id: str
    user_id: str


@dataclass(frozen=True)
class PartyView:
    """A call as one of its parties sees it: `party` is "client" or "lawyer"."""

    call: OnlineCallRow
    party: str


class OnlineCalls:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def consultation_order(self, principal: Principal | None, consultation_id: str) -> str:
        """The order of the client's consultation ("" when it has none); NotFound for another enterprise's."""
        async with self.db.transaction() as session:
            consultation = await session.get(ConsultationRow, consultation_id)
        if consultation is None or principal is None or consultation.tenant_id != principal.tenant_id:
            raise NotFound("no such consultation")
        return consultation.order_id

    async def spent_orders(self, order_ids: list[str]) -> set[str]:
        """Those of `order_ids` a call uses up (ringing, or answered)."""
        async with self.db.transaction() as session:
            rows = await session.exec(
                select(OnlineCallRow.order_id).where(
                    col(OnlineCallRow.order_id).in_(order_ids), col(OnlineCallRow.spends_order).is_(True)
                )
            )
            return set(rows)

    async def start(
        self,
        principal: Principal | None,
        lawyer: CalledLawyer,
        media: str,
        consultation_id: str,
        order_id: str,
        spends_order: bool,
    ) -> OnlineCallRow:
        """A client rings an online lawyer (the caller checked the lawyer is online, that a consultation named
        is the client's enterprise's and that `order_id` pays for the call, see domain.online_call_spends).
        Conflict order_required when another call used the order up meanwhile."""
        client = domain.validate_start_online_call(principal, media)
        call = OnlineCallRow(
            id=new_id(),
            tenant_id=client.tenant_id,
            client_id=client.user_id,
            lawyer_id=lawyer.lawyer_id,
            lawyer_user_id=lawyer.user_id,
            media=media,
            status="ringing",
            consultation_id=consultation_id,
            order_id=order_id,
            spends_order=spends_order,
            created_at=utcnow(),
        )
        try:
            async with self.db.transaction() as session:
                session.add(call)
        except IntegrityError as exc:
            if "uq_online_calls_spent_order" not in str(exc):
                raise
            raise domain.order_required(None, "order_id has paid for another call") from None
        return call

    async def get(self, principal: Principal | None, call_id: str) -> PartyView:
        """The call for one of its two parties; NotFound for anyone else."""
        async with self.db.transaction() as session:
            call = await get_or_404(session, OnlineCallRow, call_id, "call")
        party = domain.online_call_party(principal, call.tenant_id, call.client_id, call.lawyer_user_id)
        return PartyView(await self._opened(call), party)

    async def for_lawyer(self, principal: Principal | None, status: str) -> list[OnlineCallRow]:
        """The calling lawyer's calls in `status`, newest first (at most MAX_LISTED)."""
        lawyer = domain.validate_list_online_calls(principal, status)
        async with self.db.transaction() as session:
            rows = await session.exec(
                select(OnlineCallRow)
                .where(
                    col(OnlineCallRow.lawyer_user_id) == lawyer.user_id, col(OnlineCallRow.status) == status
                )
                .order_by(col(OnlineCallRow.created_at).desc())
                .limit(MAX_LISTED)
            )
            calls = list(rows)
        return [await self._opened(call) for call in calls]

    async def for_order(self, principal: Principal | None, order_id: str) -> list[OnlineCallRow]:
        """The calls `order_id` pays for that the caller may see (domain.order_calls_scope), oldest first."""
        column, value = domain.order_calls_scope(principal)
        statement = select(OnlineCallRow).where(col(OnlineCallRow.order_id) == order_id)
        if column:
            statement = statement.where(getattr(OnlineCallRow, column) == value)
        async with self.db.transaction() as session:
            rows = await session.exec(statement.order_by(col(OnlineCallRow.created_at)).limit(MAX_LISTED))
            calls = list(rows)
        return [await self._opened(call) for call in calls]

    async def accept(self, principal: Principal | None, call_id: str) -> OnlineCallRow:
        async with self.db.transaction() as session:
            call = await get_or_404(session, OnlineCallRow, call_id, "call", for_update=True)
            party = domain.online_call_party(principal, call.tenant_id, call.client_id, call.lawyer_user_id)
            domain.validate_accept_online_call(party, call.status)
            call.status = "connected"
            call.started_at = utcnow()
            session.add(call)
            if call.consultation_id:
                await add_stage(
                    session,
                    call.consultation_id,
                    "online_call_connected",
                    f"online-call:{call.id}:connected",
                    actor=call.lawyer_user_id,
                    detail=f"{call.media} call with lawyer {call.lawyer_id}",
                )
        return await self._opened(call)

    async def end(self, principal: Principal | None, call_id: str, outcome: str) -> OnlineCallRow:
        """Either party ends the call, once; a call never accepted lasted 0 seconds and gives its order back, a
        connected one that used up its order ends that order's fulfilment (`online_call.ended`)."""
        async with self.db.transaction() as session:
            call = await get_or_404(session, OnlineCallRow, call_id, "call", for_update=True)
            party = domain.online_call_party(principal, call.tenant_id, call.client_id, call.lawyer_user_id)
            outcome = domain.validate_end_online_call(call.status, outcome)
            cipher = await self.keys.cipher(case_subject(call))
            call.ended_at = utcnow()
            call.duration_seconds = (
                domain.call_seconds(call.started_at, call.ended_at) if call.started_at else 0
            )
            call.ended_by = party
            call.spends_order = call.spends_order and call.started_at is not None
            call.outcome = cipher.seal(ONLINE_CALL_OUTCOME, outcome)
            call.status = "ended"
            session.add(call)
            await self.outbox.add(
                session,
                "online_call.ended",
                events_pb2.OnlineCallEnded(
                    call_id=call.id,
                    client_id=call.client_id,
                    order_id=call.order_id,
                    spent_order=call.spends_order,
                    duration_seconds=call.duration_seconds,
                ),
                aggregate_id=call.id,
                tenant_id=call.tenant_id,
                actor_id=principal.user_id if principal else "",
                lawyer_id=call.lawyer_user_id,
            )
            if call.consultation_id:
                await add_stage(
                    session,
                    call.consultation_id,
                    "online_call_ended",
                    f"online-call:{call.id}:ended",
                    actor=principal.user_id if principal else "system",
                    detail=f"{call.media} call, {call.duration_seconds} s, ended by the {party}",
                )
        call.outcome = opened(cipher, ONLINE_CALL_OUTCOME, call.outcome)
        return call

    async def _opened(self, call: OnlineCallRow) -> OnlineCallRow:
        if call.outcome:
            cipher = await self.keys.cipher(case_subject(call))
            call.outcome = opened(cipher, ONLINE_CALL_OUTCOME, call.outcome)
        return call
