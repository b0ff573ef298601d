"""Purchase-intent signals (R-CS-2): the catalog's and payment's events that speak to buying, kept per
client, and what the prediction agents see reads of them and of the client's chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.consultation import chat
from services.consultation.models import ChatConversationRow, ChatMessageRow, ClientSignalRow
from services.consultation.store.sealed import CHAT_BODY
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.events import occurred_at
from services.runtime.keys import DataKeys, owner_subject


@dataclass(frozen=True)
class IntentInputs:
    """What the purchase-intent prediction (chat.purchase_intent) reads about one client."""

    signals: list[chat.Signal]
    chat_bodies: list[str]
    asked_for_agent: bool


@dataclass(frozen=True)
class RecentClient:
    """A client with buying signals, the enterprise they were seen in and when they were last seen."""

    client_id: str
    tenant_id: str
    last_signal_at: datetime


class PurchaseSignals:
    def __init__(self, db: Database, keys: DataKeys) -> None:
        self.db = db
        self.keys = keys

    @staticmethod
    async def record_signal(
        session: AsyncSession,
        envelope: EventEnvelope,
        kind: str,
        client_id: str,
        subject_id: str,
    ) -> None:
        """Keep an event that speaks to purchase intent (R-CS-2) as the client's signal `kind` about
        `subject_id`, in the consumer's transaction."""
        table = ClientSignalRow.__table__  # type: ignore[attr-defined]
        await session.execute(
            pg_insert(table)
            .values(
                event_id=envelope.id,
                client_id=client_id,
                tenant_id=envelope.tenant_id,
                kind=kind,
                subject_id=subject_id,
                occurred_at=occurred_at(envelope),
            )
            .on_conflict_do_nothing()
        )

    async def intent_inputs(self, client_id: str, since: datetime) -> IntentInputs:
        """The client's signals, chat messages and requests for a person since `since`."""
        async with self.db.transaction() as session:
            signals = (
                await session.exec(
                    select(ClientSignalRow)
                    .where(ClientSignalRow.client_id == client_id)
                    .where(col(ClientSignalRow.occurred_at) >= since)
                )
            ).all()
            sealed_bodies = (
                await session.exec(
                    select(ChatMessageRow.body, ChatConversationRow.tenant_id)
                    .join(
                        ChatConversationRow,
                        col(ChatConversationRow.id) == col(ChatMessageRow.conversation_id),
                    )
                    .where(ChatConversationRow.client_id == client_id)
                    .where(ChatMessageRow.author_role == "client")
                    .where(col(ChatMessageRow.created_at) >= since)
                    .order_by(col(ChatMessageRow.created_at).desc())
                    .limit(50)
                )
            ).all()
            queued = (
                await session.exec(
                    select(ChatConversationRow.id)
                    .where(ChatConversationRow.client_id == client_id)
                    .where(col(ChatConversationRow.queued_at) >= since)
                    .limit(1)
                )
            ).first()
        return IntentInputs(
            [chat.Signal(s.kind, s.subject_id, s.occurred_at) for s in signals],
            [
                opened(await self.keys.cipher(owner_subject(tenant_id, client_id)), CHAT_BODY, body)
                for body, tenant_id in sealed_bodies
            ],
            queued is not None,
        )

    async def recent_clients(self, since: datetime, limit: int) -> list[RecentClient]:
        """The clients with buying signals since `since`, most recently active first."""
        last = func.max(col(ClientSignalRow.occurred_at))
        query = (
            select(col(ClientSignalRow.client_id), func.max(col(ClientSignalRow.tenant_id)), last)
            .where(col(ClientSignalRow.occurred_at) >= since)
            .group_by(col(ClientSignalRow.client_id))
            .order_by(last.desc())
            .limit(limit)
        )
        async with self.db.transaction() as session:
            rows = (await session.execute(query)).all()
        return [RecentClient(client_id, tenant_id or "", at) for client_id, tenant_id, at in rows]
