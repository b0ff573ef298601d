"""Notification persistence."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.notification.domain import messages_for
from services.notification.models import DevMessageRow, InboxEntryRow
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.records import new_id, newest_first, page_of, utcnow


class NotificationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def deliver(self, envelope: EventEnvelope, session: AsyncSession) -> int:
        """Write the inbox entries for an event, inside the consumer's transaction. Returns how many."""
        table = InboxEntryRow.__table__  # type: ignore[attr-defined]
        written = 0
        for message in messages_for(envelope):
            result = await session.execute(
                pg_insert(table)
                .values(
                    id=new_id(),
                    user_id=message.user_id,
                    tenant_id=envelope.tenant_id,
                    kind=message.kind,
                    title=message.title,
                    body=message.body,
                    subject_type=message.subject_type,
                    subject_id=message.subject_id,
                    event_id=envelope.id,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
            written += result.rowcount or 0  # type: ignore[attr-defined]
        return written

    async def inbox(
        self, user_id: str, unread_only: bool, limit: int, cursor: str
    ) -> tuple[list[InboxEntryRow], str, int]:
        statement = select(InboxEntryRow).where(InboxEntryRow.user_id == user_id)
        if unread_only:
            statement = statement.where(col(InboxEntryRow.read_at).is_(None))
        statement = newest_first(
            statement, col(InboxEntryRow.created_at), col(InboxEntryRow.id), cursor, limit
        )
        unread = (
            select(func.count())
            .select_from(InboxEntryRow)
            .where(InboxEntryRow.user_id == user_id, col(InboxEntryRow.read_at).is_(None))
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
            unread_count = int((await session.exec(unread)).one())
        page, next_cursor = page_of(rows, limit)
        return page, next_cursor, unread_count

    async def mark_read(self, user_id: str, entry_id: str) -> InboxEntryRow:
        async with self.db.transaction() as session:
            row = await session.get(InboxEntryRow, entry_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                raise NotFound("no such notification")
            if row.read_at is None:
                row.read_at = utcnow()
                session.add(row)
            return row

    async def dev_outbox(self, to: str, limit: int) -> list[DevMessageRow]:
        statement = select(DevMessageRow)
        if to:
            statement = statement.where(col(DevMessageRow.to).in_(_address_forms(to)))
        statement = statement.order_by(col(DevMessageRow.created_at).desc()).limit(limit)
        async with self.db.transaction() as session:
            return list((await session.exec(statement)).all())

    async def record_dev_message(self, channel: str, to: str, subject: str, body: str) -> str:
        """Capture a message in the dev outbox; returns its id."""
        message_id = new_id()
        async with self.db.transaction() as session:
            session.add(
                DevMessageRow(
                    id=message_id, channel=channel, to=to, subject=subject, body=body, created_at=utcnow()
                )
            )
        return message_id


def _address_forms(to: str) -> list[str]:
    """A mainland phone matches with or without +86 (API.md)."""
    to = to.strip()
    digits = to.removeprefix("+86")
    if digits.isdigit() and len(digits) == 11:
        return [digits, f"+86{digits}"]
    return [to.lower()]
