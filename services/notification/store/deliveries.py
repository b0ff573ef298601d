"""Outbound deliveries by e-mail and SMS (R-PRIV-2, §6.1.6.2): released by the user's quiet hours, digest
window and rate limits (`policy`), sent, retried with backoff, or fallen back to the inbox.

Nothing here reads a clock of its own for the rules: the dispatcher takes `now`, so tests drive quiet hours,
digests, rate limits and retries without sleeping."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.channels import Sender, SendError
from services.notification.directory import Directory
from services.notification.domain import render_digest
from services.notification.models import DeliveryRow, InboxEntryRow
from services.notification.policy import (
    DIGEST_WINDOW,
    RATE_LIMITS,
    Category,
    Channel,
    after_failure,
    release,
    still_wanted,
)
from services.notification.store.base import (
    CANCELLED,
    DELIVERIES,
    DIGESTED,
    FELL_BACK,
    QUEUED,
    READY,
    SENT,
    load_preferences,
    record_sent,
)
from services.notification.store.sealed import ContactAddresses
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.records import new_id, newest_first, page_of, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchReport:
    released: int = 0
    digests: int = 0
    sent: int = 0
    retried: int = 0
    fell_back: int = 0


class Deliveries:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        addresses: ContactAddresses,
        senders: Mapping[Channel, Sender],
        *,
        digest_window: timedelta = DIGEST_WINDOW,
        directory: Directory | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.addresses = addresses
        self.senders = senders
        self.digest_window = digest_window
        self.directory = directory

    async def dispatch_once(self, now: datetime | None = None, batch: int = 50) -> DispatchReport:
        """Release queued messages whose time has come (one digest per user and channel when several
        wait), then send the deliveries that are due. Safe with several replicas (SKIP LOCKED)."""
        now = now or utcnow()
        released = await self._release(now)
        sent = await self._send_due(now, batch)
        return DispatchReport(released.released, released.digests, sent.sent, sent.retried, sent.fell_back)

    async def page(self, user_id: str, limit: int, cursor: str) -> tuple[list[DeliveryRow], str]:
        """The user's own outbound deliveries, newest first, with attempts and status."""
        statement = newest_first(
            select(DeliveryRow).where(DeliveryRow.user_id == user_id),
            col(DeliveryRow.created_at),
            col(DeliveryRow.id),
            cursor,
            limit,
        )
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        return page_of(rows, limit)

    async def _release(self, now: datetime) -> DispatchReport:
        async with self.db.transaction() as session:
            # Only pairs never looked at, or whose release time has come: a user in quiet hours costs
            # nothing until morning.
            pairs = (
                await session.execute(
                    select(DeliveryRow.user_id, DeliveryRow.channel)
                    .where(
                        DeliveryRow.status == QUEUED,
                        or_(
                            col(DeliveryRow.next_attempt_at).is_(None),
                            col(DeliveryRow.next_attempt_at) <= now,
                        ),
                    )
                    .distinct()
                    .limit(500)
                )
            ).all()
        released = digests = 0
        for user_id, channel_name in pairs:
            async with self.db.transaction() as session:
                queued = list(
                    (
                        await session.exec(
                            select(DeliveryRow)
                            .where(
                                DeliveryRow.user_id == user_id,
                                DeliveryRow.channel == channel_name,
                                DeliveryRow.status == QUEUED,
                            )
                            .order_by(col(DeliveryRow.created_at), col(DeliveryRow.id))
                            .with_for_update(skip_locked=True)
                        )
                    ).all()
                )
                if not queued:
                    continue
                channel = Channel(channel_name)
                sent_at = (
                    await session.exec(
                        select(DeliveryRow.sent_at).where(
                            DeliveryRow.user_id == user_id,
                            DeliveryRow.channel == channel_name,
                            col(DeliveryRow.sent_at) > now - RATE_LIMITS[channel].per,
                        )
                    )
                ).all()
                prefs = await load_preferences(session, self.addresses, user_id)
                decision = release(
                    channel,
                    [r.created_at for r in queued],
                    [s for s in sent_at if s],
                    prefs.quiet_hours,
                    self.digest_window,
                    now,
                )
                if decision.wait_until is not None:
                    for row in queued:  # look again then (sooner if preferences change)
                        row.next_attempt_at = decision.wait_until
                        session.add(row)
                    continue
                released += len(queued)
                if not decision.digest:
                    queued[0].status = READY
                    queued[0].next_attempt_at = now
                    session.add(queued[0])
                    continue
                digests += 1
                text = render_digest([r.title for r in queued], prefs.language)
                digest = DeliveryRow(
                    id=new_id(),
                    user_id=user_id,
                    channel=channel_name,
                    category=Category.STATUS.value,
                    kind="digest",
                    title=text.title,
                    body=text.body,
                    event_id=f"digest:{queued[0].id}",
                    status=READY,
                    created_at=now,
                    next_attempt_at=now,
                )
                session.add(digest)
                for row in queued:
                    row.status = DIGESTED
                    row.digest_id = digest.id
                    session.add(row)
        return DispatchReport(released=released, digests=digests)

    async def _send_due(self, now: datetime, batch: int) -> DispatchReport:
        outcomes: list[str] = []
        # The rows stay locked while they are sent, so no other replica sends them too; a crash before the
        # commit means the message may go out twice (at-least-once), never that it is lost.
        async with self.db.transaction() as session:
            rows = list(
                (
                    await session.exec(
                        select(DeliveryRow)
                        .where(DeliveryRow.status == READY, col(DeliveryRow.next_attempt_at) <= now)
                        .order_by(col(DeliveryRow.next_attempt_at))
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for row in rows:
                outcomes.append(await self._send_one(session, row, now))
        return DispatchReport(
            sent=outcomes.count(SENT), retried=outcomes.count(READY), fell_back=outcomes.count(FELL_BACK)
        )

    async def _send_one(self, session: AsyncSession, row: DeliveryRow, now: datetime) -> str:
        channel = Channel(row.channel)
        prefs = await load_preferences(session, self.addresses, row.user_id)
        if not still_wanted(Category(row.category), prefs, channel):
            row.status, row.last_error = CANCELLED, "channel turned off"
        else:
            sender = self.senders.get(channel)
            try:
                address = await self._address(prefs.address(channel), row.user_id, channel)
                if not address:
                    raise SendError("no address", permanent=True)
                if sender is None:
                    raise SendError(f"no {channel.value} sender", permanent=True)
                await sender.send(session, address, row.title, row.body)
            except SendError as exc:
                row.attempts += 1
                row.last_error = str(exc)[:500]
                retry_at = after_failure(row.attempts, exc.permanent, now)
                if retry_at is None:
                    row.status, row.next_attempt_at = FELL_BACK, None
                    await self._fall_back(session, row)
                else:
                    row.next_attempt_at = retry_at
                # Ids only: addresses and texts are personal data.
                log.warning(
                    "delivery failed",
                    extra={"delivery_id": row.id, "channel": row.channel, "attempts": row.attempts},
                )
            else:
                row.attempts += 1
                row.status, row.sent_at, row.next_attempt_at, row.last_error = SENT, now, None, ""
                await record_sent(session, self.outbox, row.id, row.user_id, channel)
        session.add(row)
        DELIVERIES.labels(row.channel, "retry" if row.status == READY else row.status).inc()
        return row.status

    async def _address(self, prefs_address: str, user_id: str, channel: Channel) -> str:
        """The address the user chose in their preferences, else the one identity holds for them."""
        if prefs_address or self.directory is None:
            return prefs_address
        try:
            contact = await self.directory.contact(user_id)
        except grpc.aio.AioRpcError as exc:
            raise SendError(f"contact lookup failed: {exc.code().name}") from exc
        return contact.address(channel) if contact is not None else ""

    async def _fall_back(self, session: AsyncSession, row: DeliveryRow) -> None:
        """The message could not go out on its channel: its inbox entries become unread again, so the
        user sees it there (the inbox already holds every message)."""
        inbox = InboxEntryRow.__table__  # type: ignore[attr-defined]
        if row.inbox_entry_id:
            entry_ids = [row.inbox_entry_id]
        else:  # a digest: the entries of the messages it carried
            entry_ids = [
                r
                for r in (
                    await session.exec(
                        select(DeliveryRow.inbox_entry_id).where(
                            DeliveryRow.digest_id == row.id, DeliveryRow.user_id == row.user_id
                        )
                    )
                ).all()
                if r
            ]
        if entry_ids:
            await session.execute(
                update(inbox)
                .where(inbox.c.id.in_(entry_ids), inbox.c.user_id == row.user_id)
                .values(read_at=None)
            )
