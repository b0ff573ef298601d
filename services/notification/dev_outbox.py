"""The dev outbox (dev and test only): SMS and e-mails 'sent' are captured in `dev_messages` instead, and
shown at /api/v1/dev/outbox. What it holds is a person's address and what was sent to it, so it is sealed
like every personal field (docs/privacy.md): with the data key of the address (`address_subject`) — a code
goes to a phone before any account exists — and found by the address's blind index. An erasure destroys the
keys of the person's addresses (identity's `user.erased` names their indexes), so what was captured for them
stays unreadable in dead rows, the WAL and backups too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.models import DevMessageRow
from services.runtime.crypto import FieldCipher, address_index
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT
from services.runtime.keys import DataKeys, address_subject
from services.runtime.records import new_id, utcnow

TO, SUBJECT, BODY = "dev_messages.to", "dev_messages.subject", "dev_messages.body"


@dataclass(frozen=True)
class CapturedMessage:
    id: str
    channel: str
    to: str
    subject: str
    body: str
    created_at: datetime


class DevOutbox:
    """Captures and lists messages, sealed per address; `index` is the blind-index keyed cipher."""

    def __init__(self, db: Database, keys: DataKeys, index: FieldCipher) -> None:
        self.db = db
        self.keys = keys
        self.index = index

    async def record(self, session: AsyncSession, channel: str, to: str, subject: str, body: str) -> str:
        """Capture a message in `session`'s transaction; returns its id."""
        to_index = address_index(self.index, to)
        cipher = await self.keys.renewed(address_subject(to_index))  # an erased person's phone, used anew
        message_id = new_id()
        session.add(
            DevMessageRow(
                id=message_id,
                channel=channel,
                to=cipher.seal(TO, to),
                to_index=to_index,
                subject=cipher.seal(SUBJECT, subject),
                body=cipher.seal(BODY, body),
                created_at=utcnow(),
            )
        )
        return message_id

    async def newest(self, to: str, limit: int) -> list[CapturedMessage]:
        """The newest captured messages, to `to` only when given (a mainland phone with or without +86)."""
        statement = select(DevMessageRow)
        if to:
            statement = statement.where(col(DevMessageRow.to_index) == address_index(self.index, to))
        statement = statement.order_by(col(DevMessageRow.created_at).desc()).limit(limit)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        captured = []
        for row in rows:
            cipher = await self.keys.cipher(address_subject(row.to_index))
            captured.append(
                CapturedMessage(
                    id=row.id,
                    channel=row.channel,
                    to=cipher.open_or(TO, row.to, ERASED_TEXT),
                    subject=cipher.open_or(SUBJECT, row.subject, ERASED_TEXT),
                    body=cipher.open_or(BODY, row.body, ERASED_TEXT),
                    created_at=row.created_at,
                )
            )
        return captured

    async def erase(self, session: AsyncSession, address_indexes: Sequence[str]) -> None:
        """Delete what was captured for these addresses and destroy their keys, in the erasure's transaction."""
        if not address_indexes:
            return
        await session.execute(delete(DevMessageRow).where(col(DevMessageRow.to_index).in_(address_indexes)))
        connection = await session.connection()
        for to_index in address_indexes:
            await self.keys.destroy(address_subject(to_index), connection)
