"""The in-app inbox (R-Q-3): every message a user was sent, the record that cannot be turned off."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from services.notification.models import InboxEntryRow
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.records import newest_first, page_of, utcnow


@dataclass(frozen=True)
class InboxPage:
    """One page of a user's inbox, newest first, with the cursor of the next page ("" at the end) and how
    many of all their entries are unread."""

    entries: list[InboxEntryRow]
    next_cursor: str
    unread: int


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, user_id: str, unread_only: bool, limit: int, cursor: str) -> InboxPage:
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
        entries, next_cursor = page_of(rows, limit)
        return InboxPage(entries, next_cursor, unread_count)

    async def mark_read(self, user_id: str, entry_id: str) -> InboxEntryRow:
        """The user's own entry, read; NotFound for anyone else's."""
        async with self.db.transaction() as session:
            row = await session.get(InboxEntryRow, entry_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                raise NotFound("no such notification")
            if row.read_at is None:
                row.read_at = utcnow()
                session.add(row)
            return row
