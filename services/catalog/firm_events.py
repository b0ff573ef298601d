"""A law firm's stream of what happens to its lawyers' work (issue 17 item 4, R-OPS-3): the `catalog-firm-events`
consumer records each booking, document-order and consultation event that names a lawyer under the lawyer's
firm, and WatchFirmEvents reads a firm's records after a cursor, then follows new ones as they commit.

Why a stream the firm pulls over gRPC, not webhooks: a firm's system then needs no endpoint reachable from the
internet, no HMAC secret to keep or replay window to check; it resumes from its own cursor after any outage
(nothing is lost while it is away: the records wait in PostgreSQL), and it authenticates exactly like its
other calls. The events carry ids, never case text: the firm reads the object through the RPC that checks
it may."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.catalog.models import FirmEventRow, LawyerRow
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument

# The object an event's aggregate id names, by the event type's first word.
OBJECT_TYPES = {
    "booking": "booking",
    "docorder": "document_order",
    "consultation": "consultation",
    "call": "consultation",  # a call's events carry its consultation's id
}
# Records handed out per query, and how often a caught-up stream looks for new ones.
PAGE = 200
POLL_SECONDS = 1.0
# Taken by every recording transaction until it commits, so records commit in the order of their ids and a
# reader never passes an id whose transaction is still open (it would skip that record for good).
RECORDING_LOCK = 0x6669726D  # "firm"


async def record(envelope: EventEnvelope, session: AsyncSession) -> None:
    """One record for the firm of the lawyer the event names (the `catalog-firm-events` consumer's effect,
    services/catalog/events.py)."""
    object_type = OBJECT_TYPES.get(envelope.type.split(".", 1)[0])
    if not envelope.lawyer_id or object_type is None:
        return
    named = or_(col(LawyerRow.user_id) == envelope.lawyer_id, col(LawyerRow.id) == envelope.lawyer_id)
    profile = (await session.exec(select(LawyerRow).where(named))).first()
    if profile is None:
        return  # not a lawyer of any firm the catalog knows (e.g. erased)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECORDING_LOCK})
    occurred_at = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    session.add(
        FirmEventRow(
            event_id=envelope.id,
            firm_id=profile.firm_id,
            type=envelope.type,
            object_type=object_type,
            object_id=envelope.aggregate_id,
            lawyer_user_id=profile.user_id,
            lawyer_id=profile.id,
            occurred_at=occurred_at,
        )
    )


def parse_cursor(cursor: str) -> int:
    """A cursor is the decimal id of the last record processed; empty means before the first."""
    if not cursor:
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidArgument.for_field("after_cursor", "must be a cursor this stream returned")
    return int(cursor)


@dataclass
class FirmEvents:
    db: Database
    poll_seconds: float = POLL_SECONDS

    async def after(self, firm_id: str, after_id: int, limit: int = PAGE) -> list[FirmEventRow]:
        async with self.db.read() as session:
            rows = await session.exec(
                select(FirmEventRow)
                .where(FirmEventRow.firm_id == firm_id, col(FirmEventRow.id) > after_id)
                .order_by(col(FirmEventRow.id))
                .limit(limit)
            )
            return list(rows.all())

    async def follow(self, firm_id: str, after_id: int) -> AsyncIterator[FirmEventRow]:
        """The firm's records after `after_id`, oldest first, then new ones as they commit, until the caller
        stops reading."""
        while True:
            rows = await self.after(firm_id, after_id)
            for row in rows:
                assert row.id is not None
                after_id = row.id
                yield row
            if len(rows) < PAGE:
                await asyncio.sleep(self.poll_seconds)
