"""Instant-chat conversations (R-CS-1, R-CON-1): the FAQ bot, the agent queue, pick-up and close, and each
conversation's gap-free message sequence. One transaction per change with a `chat.message_posted` event per
stored message (subject suffixed by the conversation id), so every gateway serving the conversation wakes up
and reads what it has not sent yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.consultation.v1 import events_pb2
from services.consultation import chat
from services.consultation.faq import FaqMatch
from services.consultation.models import ChatConversationRow, ChatMessageRow, ClientSignalRow
from services.consultation.store.sealed import CHAT_BODY, case_subject, open_chat
from services.runtime.context import Principal
from services.runtime.db import Database, get_or_404
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, SubjectCipher
from services.runtime.metrics import CHAT_ANSWERS
from services.runtime.records import new_id, utcnow


@dataclass
class Posted:
    """A conversation after a change, and the messages the change stored (or, for a resend, caused)."""

    conversation: ChatConversationRow
    messages: list[ChatMessageRow]


@dataclass(frozen=True)
class MessagePage:
    """Messages of a conversation after a sequence number, oldest first, and whether more follow;
    `conversation` is None for a client who never chatted."""

    conversation: ChatConversationRow | None
    messages: list[ChatMessageRow]
    more: bool


class Conversations:
    def __init__(self, db: Database, outbox: Outbox, keys: DataKeys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    # --- reading ------------------------------------------------------------------------------------------

    async def client_status(self, principal: Principal) -> str:
        """The status of the client's open conversation ("bot" when none is open: the next one starts so)."""
        async with self.db.transaction() as session:
            found = await _open_of(session, principal.user_id, lock=False)
        return found.status if found is not None else "bot"

    async def conversation_status(self, principal: Principal, conversation_id: str) -> str:
        async with self.db.transaction() as session:
            row = await _visible(session, principal, conversation_id, lock=False)
        return row.status

    async def messages(
        self, principal: Principal, conversation_id: str, after_seq: int, limit: int
    ) -> MessagePage:
        """Messages after `after_seq`. A client without `conversation_id` reads their newest conversation."""
        async with self.db.transaction() as session:
            if conversation_id:
                row: ChatConversationRow | None = await _visible(
                    session, principal, conversation_id, lock=False
                )
            elif principal.is_client:
                row = (
                    await session.exec(
                        select(ChatConversationRow)
                        .where(ChatConversationRow.client_id == principal.user_id)
                        .where(ChatConversationRow.tenant_id == principal.tenant_id)
                        .order_by(col(ChatConversationRow.created_at).desc())
                        .limit(1)
                    )
                ).first()
            else:
                raise InvalidArgument.for_field("conversation_id", "must not be empty")
            if row is None:
                return MessagePage(None, [], False)
            found = list(
                (
                    await session.exec(
                        select(ChatMessageRow)
                        .where(ChatMessageRow.conversation_id == row.id)
                        .where(col(ChatMessageRow.seq) > after_seq)
                        .order_by(col(ChatMessageRow.seq))
                        .limit(limit + 1)
                    )
                ).all()
            )
        await open_chat(self.keys, row, found)
        return MessagePage(row, found[:limit], len(found) > limit)

    async def of_client(self, principal: Principal) -> list[ChatConversationRow]:
        """Every conversation the signed-in client had, oldest first (their data export)."""
        async with self.db.transaction() as session:
            return list(
                (
                    await session.exec(
                        select(ChatConversationRow)
                        .where(ChatConversationRow.client_id == principal.user_id)
                        .where(ChatConversationRow.tenant_id == principal.tenant_id)
                        .order_by(col(ChatConversationRow.created_at), col(ChatConversationRow.id))
                    )
                ).all()
            )

    async def queue(self, status: str, limit: int) -> list[ChatConversationRow]:
        """Conversations for agents: queued (longest waiting first), then active; or one status."""
        statuses = (status,) if status else ("queued", "active")
        query = (
            select(ChatConversationRow)
            .where(col(ChatConversationRow.status).in_(statuses))
            .order_by(
                col(ChatConversationRow.status).desc(),  # "queued" sorts before "active" descending
                col(ChatConversationRow.queued_at),
                col(ChatConversationRow.created_at),
                col(ChatConversationRow.id),
            )
            .limit(limit)
        )
        async with self.db.transaction() as session:
            return list((await session.exec(query)).all())

    async def open_conversation_of(self, client_id: str) -> ChatConversationRow | None:
        async with self.db.transaction() as session:
            return await _open_of(session, client_id, lock=False)

    # --- changes ------------------------------------------------------------------------------------------

    async def start_with(self, principal: Principal, client_id: str, body: str) -> Posted:
        """An agent follows up on a client's purchase intent (R-CS-2): the client's open conversation is
        picked up by the agent (or a new one is started, served by the agent) and the agent's message is
        stored. The client reads it when they next open the chat (and is notified). NotFound for a client
        the service has never seen (no chat, no buying signal): their enterprise is unknown here."""
        agent = chat.require_chat_staff(principal)
        async with self.db.transaction() as session:
            row = await _open_of(session, client_id, lock=True)
            picked_up = False
            if row is None:
                tenant_id = await _tenant_of(session, client_id)
                now = utcnow()
                row = ChatConversationRow(
                    id=new_id(),
                    tenant_id=tenant_id,
                    client_id=client_id,
                    status="active",
                    agent_id=agent.user_id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
            elif chat.check_pickup(agent, row.status, row.agent_id):
                row.status = chat.next_status(row.status, "active")
                row.agent_id = agent.user_id
                picked_up = True
            cipher = await self.keys.cipher(case_subject(row))
            notices = [_append(session, cipher, row, "system", chat.PICKED_UP_NOTICE)] if picked_up else []
            message = _append(session, cipher, row, "agent", body, author_id=agent.user_id)
            await self._publish(session, row, [*notices, message])
        await open_chat(self.keys, row, [*notices, message])
        return Posted(row, [*notices, message])

    async def post(
        self,
        principal: Principal,
        conversation_id: str,
        body: str,
        client_message_id: str,
        request_agent: bool,
        faq: FaqMatch | None,
    ) -> Posted:
        """Store a message (see ConsultationService.PostChatMessage). `faq` is the FAQ answer found for a
        client's message, used only while the conversation is with the bot."""
        answer = ""
        async with self.db.transaction() as session:
            if conversation_id:
                row = await _visible(session, principal, conversation_id, lock=True)
            elif principal.is_client:
                row = await _open_or_new(session, principal)
            else:
                raise InvalidArgument.for_field("conversation_id", "must not be empty")
            resent = await _resent(session, row, client_message_id) if client_message_id else None
            if resent is not None:  # a resend after a reconnect: what it caused, nothing new
                stored = resent
            else:
                cipher = await self.keys.cipher(case_subject(row))
                role = chat.author_role(principal, row.status, row.agent_id)
                answer = chat.bot_answer(role, row.status, faq is not None, request_agent)
                stored = [
                    _append(
                        session,
                        cipher,
                        row,
                        role,
                        body,
                        author_id=principal.user_id,
                        client_message_id=client_message_id,
                    )
                ]
                if answer == "faq":
                    assert faq is not None
                    stored.append(
                        _append(
                            session,
                            cipher,
                            row,
                            "faq",
                            faq.entry.answer,
                            faq_article_id=faq.entry.article_id,
                            faq_score=faq.score,
                        )
                    )
                elif answer == "queue":
                    row.status = chat.next_status(row.status, "queued")
                    row.queued_at = utcnow()
                    stored.append(_append(session, cipher, row, "system", chat.QUEUED_NOTICE))
                await self._publish(session, row, stored)
        if answer:  # counted once committed
            CHAT_ANSWERS.labels(answer).inc()
        await open_chat(self.keys, row, stored)
        return Posted(row, stored)

    async def pick_up(self, principal: Principal, conversation_id: str) -> ChatConversationRow:
        agent = chat.require_chat_staff(principal)
        async with self.db.transaction() as session:
            row = await _visible(session, agent, conversation_id, lock=True)
            if chat.check_pickup(agent, row.status, row.agent_id):
                row.status = chat.next_status(row.status, "active")
                row.agent_id = agent.user_id
                cipher = await self.keys.cipher(case_subject(row))
                notice = _append(session, cipher, row, "system", chat.PICKED_UP_NOTICE)
                await self._publish(session, row, [notice])
            return row

    async def close(self, principal: Principal, conversation_id: str) -> ChatConversationRow:
        async with self.db.transaction() as session:
            row = await _visible(session, principal, conversation_id, lock=True)
            if chat.check_close(principal, row.status, row.agent_id):
                row.status = chat.next_status(row.status, "closed")
                cipher = await self.keys.cipher(case_subject(row))
                notice = _append(session, cipher, row, "system", chat.CLOSED_NOTICE)
                await self._publish(session, row, [notice])
            return row

    async def _publish(
        self, session: AsyncSession, row: ChatConversationRow, messages: Sequence[ChatMessageRow]
    ) -> None:
        await session.flush()
        for message in messages:
            await self.outbox.add(
                session,
                "chat.message_posted",
                events_pb2.ChatMessagePosted(
                    conversation_id=row.id,
                    seq=message.seq,
                    message_id=message.id,
                    author_role=message.author_role,
                    author_id=message.author_id,
                    client_id=row.client_id,
                    status=row.status,
                ),
                aggregate_id=row.id,
                tenant_id=row.tenant_id,
                actor_id=message.author_id,
                subject_suffix=row.id,
            )


async def _visible(
    session: AsyncSession, principal: Principal, conversation_id: str, *, lock: bool
) -> ChatConversationRow:
    row = await get_or_404(session, ChatConversationRow, conversation_id, "conversation", for_update=lock)
    chat.check_visible(principal, row.tenant_id, row.client_id)
    return row


async def _open_of(session: AsyncSession, client_id: str, *, lock: bool) -> ChatConversationRow | None:
    query = (
        select(ChatConversationRow)
        .where(ChatConversationRow.client_id == client_id)
        .where(ChatConversationRow.status != "closed")
    )
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def _open_or_new(session: AsyncSession, principal: Principal) -> ChatConversationRow:
    client = chat.require_chat_client(principal)
    found = await _open_of(session, client.user_id, lock=True)
    if found is not None:
        return found
    now = utcnow()
    table = ChatConversationRow.__table__  # type: ignore[attr-defined]
    # Two first messages at once: the partial unique index lets one insert win, the other reads it.
    await session.execute(
        pg_insert(table)
        .values(
            id=new_id(),
            tenant_id=client.tenant_id,
            client_id=client.user_id,
            status="bot",
            agent_id="",
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    found = await _open_of(session, client.user_id, lock=True)
    if found is None:  # pragma: no cover - the insert or the competing one is visible now
        raise NotFound("no such conversation")
    return found


async def _tenant_of(session: AsyncSession, client_id: str) -> str:
    """The client's enterprise, from their last conversation or their last buying signal."""
    known = (
        await session.exec(
            select(ChatConversationRow.tenant_id)
            .where(ChatConversationRow.client_id == client_id)
            .order_by(col(ChatConversationRow.created_at).desc())
            .limit(1)
        )
    ).first()
    if not known:
        known = (
            await session.exec(
                select(ClientSignalRow.tenant_id)
                .where(ClientSignalRow.client_id == client_id)
                .where(ClientSignalRow.tenant_id != "")
                .order_by(col(ClientSignalRow.occurred_at).desc())
                .limit(1)
            )
        ).first()
    if not known:
        raise NotFound("no such client")
    return known


async def _resent(
    session: AsyncSession, row: ChatConversationRow, client_message_id: str
) -> list[ChatMessageRow] | None:
    """What the message with `client_message_id` caused (itself and the bot's or the queue's answer), when it
    was stored already; None for a new message."""
    earlier = (
        await session.exec(
            select(ChatMessageRow)
            .where(ChatMessageRow.conversation_id == row.id)
            .where(ChatMessageRow.client_message_id == client_message_id)
        )
    ).first()
    if earlier is None:
        return None
    caused = await session.exec(
        select(ChatMessageRow)
        .where(ChatMessageRow.conversation_id == row.id)
        .where(col(ChatMessageRow.seq) >= earlier.seq)
        .order_by(col(ChatMessageRow.seq))
        .limit(3)
    )
    return list(caused.all())


def _append(
    session: AsyncSession,
    cipher: SubjectCipher,
    row: ChatConversationRow,
    role: str,
    body: str,
    *,
    author_id: str = "",
    client_message_id: str = "",
    faq_article_id: str = "",
    faq_score: float = 0.0,
) -> ChatMessageRow:
    """Add the next message of the locked conversation `row`, its body sealed with `cipher` (its owner's)."""
    now = utcnow()
    row.last_seq += 1
    row.updated_at = now
    session.add(row)
    message = ChatMessageRow(
        id=new_id(),
        conversation_id=row.id,
        seq=row.last_seq,
        author_id=author_id,
        author_role=role,
        body=cipher.seal(CHAT_BODY, body),
        client_message_id=client_message_id,
        faq_article_id=faq_article_id,
        faq_score=round(faq_score, 4),
        created_at=now,
    )
    session.add(message)
    return message
