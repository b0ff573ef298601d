"""Notification persistence: the inbox, preferences, learned participants and outbound deliveries.

Every query is scoped to one user. Nothing here reads a clock of its own for the rules: the fan-out and the
dispatcher take `now`, so tests drive quiet hours, digests, rate limits and retries without sleeping."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import grpc
from prometheus_client import Counter
from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.notification.v1 import events_pb2 as notification_events
from services.notification.channels import Sender, SendError, UnconfiguredSender
from services.notification.directory import Directory
from services.notification.domain import Notice, plan_for, render, render_digest
from services.notification.models import (
    DeliveryRow,
    DevMessageRow,
    InboxEntryRow,
    ParticipantRow,
    PreferencesRow,
)
from services.notification.policy import (
    DIGEST_WINDOW,
    LANGUAGES,
    RATE_LIMITS,
    Category,
    Channel,
    Preferences,
    QuietHours,
    after_failure,
    parse_clock,
    release_time,
    route,
)
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.errors import Conflict, InvalidArgument, NotFound, Unavailable
from services.runtime.events import Outbox
from services.runtime.records import new_id, newest_first, page_of, utcnow

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "counsel_notification_deliveries",
    "Outbound send attempts by channel and outcome (sent, retry, fell_back, cancelled)",
    ["channel", "outcome"],
)

QUEUED, READY, SENT, DIGESTED, FELL_BACK, CANCELLED = (
    "queued",
    "ready",
    "sent",
    "digested",
    "fell_back",
    "cancelled",
)


@dataclass(frozen=True)
class PreferencesUpdate:
    """A full replacement of a user's preferences (PUT). `quiet_hours` None = none; addresses "" = none."""

    email: bool
    sms: bool
    quiet_hours: QuietHours | None
    marketing_consent: bool
    language: str
    email_address: str
    phone: str


@dataclass(frozen=True)
class DispatchReport:
    released: int = 0
    digests: int = 0
    sent: int = 0
    retried: int = 0
    fell_back: int = 0


class NotificationStore:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        cipher: FieldCipher,
        senders: Mapping[Channel, Sender] | None = None,
        *,
        digest_window: timedelta = DIGEST_WINDOW,
        directory: Directory | None = None,
    ) -> None:
        self.db = db
        self.directory = directory
        self.digest_window = digest_window
        self.outbox = outbox
        self.cipher = cipher
        self.senders = dict(senders or {})

    # --- fan-out ----------------------------------------------------------------------------------------

    async def deliver(
        self, envelope: EventEnvelope, session: AsyncSession, now: datetime | None = None
    ) -> int:
        """Write the inbox entries (and queue the e-mails and SMS) an event causes, inside the consumer's
        transaction. Returns how many inbox entries were written; a redelivered event writes none."""
        now = now or utcnow()
        try:
            plan = plan_for(envelope)
        except ValueError:
            # A payload that is not what its type says would fail on every redelivery: record and move on.
            log.error(
                "event with an unexpected payload", extra={"event_id": envelope.id, "type": envelope.type}
            )
            return 0
        participants = ParticipantRow.__table__  # type: ignore[attr-defined]
        for fact in plan.facts:
            if not fact.user_id:
                continue
            await session.execute(
                pg_insert(participants)
                .values(
                    subject_type=fact.subject_type,
                    subject_id=fact.subject_id,
                    role=fact.role,
                    user_id=fact.user_id,
                )
                .on_conflict_do_update(
                    index_elements=["subject_type", "subject_id", "role"], set_={"user_id": fact.user_id}
                )
            )
        written = 0
        for notice in plan.notices:
            for user_id in await self._recipients(session, envelope, notice):
                if user_id and user_id not in notice.exclude:
                    written += await self._notify(session, envelope, notice, user_id, now)
        return written

    async def _recipients(self, session: AsyncSession, envelope: EventEnvelope, notice: Notice) -> list[str]:
        """The named user, the subject's participant in the notice's role, or every member of its group.
        A group is looked up in identity; when identity cannot answer, the error fails this delivery and
        the consumer redelivers the event later (nothing is written twice: one transaction)."""
        if notice.user_id:
            return [notice.user_id]
        if notice.group:
            if self.directory is None:
                log.warning(
                    "no directory to resolve a group", extra={"kind": notice.kind, "group": notice.group}
                )
                return []
            return [m.user_id for m in await self.directory.members(notice.group, envelope.tenant_id)]
        row = await session.get(ParticipantRow, (notice.subject_type, notice.subject_id, notice.role))
        return [row.user_id] if row is not None else []

    async def _with_contact(self, prefs: Preferences, user_id: str) -> Preferences:
        """The preferences with identity's addresses where the user chose none, so e-mail and SMS reach
        people who never opened their preferences (staff in a group, new clients). Identity unreachable:
        the preferences' own addresses only (the message is in the inbox either way)."""
        if (prefs.email_address and prefs.phone) or self.directory is None:
            return prefs
        try:
            contact = await self.directory.contact(user_id)
        except grpc.aio.AioRpcError as exc:
            log.warning("contact lookup failed", extra={"user_id": user_id, "code": exc.code().name})
            return prefs
        if contact is None:
            return prefs
        return replace(
            prefs, email_address=prefs.email_address or contact.email, phone=prefs.phone or contact.phone
        )

    async def _address(self, prefs_address: str, user_id: str, channel: Channel) -> str:
        """The address the user chose in their preferences, else the one identity holds for them."""
        if prefs_address or self.directory is None:
            return prefs_address
        try:
            contact = await self.directory.contact(user_id)
        except grpc.aio.AioRpcError as exc:
            raise SendError(f"contact lookup failed: {exc.code().name}") from exc
        return contact.address(channel) if contact is not None else ""

    async def _notify(
        self, session: AsyncSession, envelope: EventEnvelope, notice: Notice, user_id: str, now: datetime
    ) -> int:
        prefs = await self._with_contact(await self._preferences(session, user_id), user_id)
        text = render(notice.kind, notice.params, prefs.language)
        inbox = InboxEntryRow.__table__  # type: ignore[attr-defined]
        entry_id = new_id()
        inserted = (
            await session.execute(
                pg_insert(inbox)
                .values(
                    id=entry_id,
                    user_id=user_id,
                    tenant_id=envelope.tenant_id,
                    kind=notice.kind,
                    title=text.title,
                    body=text.body,
                    subject_type=notice.subject_type,
                    subject_id=notice.subject_id,
                    event_id=envelope.id,
                    created_at=now,
                    category=notice.category.value,
                )
                .on_conflict_do_nothing()
                .returning(inbox.c.id)
            )
        ).first()
        if inserted is None:  # this event already notified this user
            return 0
        await self._sent_event(session, entry_id, user_id, Channel.IN_APP)
        for channel_route in route(notice.category, prefs):
            if channel_route.action == "skip":
                continue
            ready = channel_route.action == "send"
            session.add(
                DeliveryRow(
                    id=new_id(),
                    user_id=user_id,
                    channel=channel_route.channel.value,
                    category=notice.category.value,
                    kind=notice.kind,
                    title=text.title,
                    body=text.body,
                    event_id=envelope.id,
                    inbox_entry_id=entry_id,
                    status=READY if ready else QUEUED,
                    created_at=now,
                    next_attempt_at=now if ready else None,
                )
            )
        return 1

    async def _sent_event(
        self, session: AsyncSession, notification_id: str, user_id: str, channel: Channel
    ) -> None:
        await self.outbox.add(
            session,
            "notification.sent",
            notification_events.NotificationSent(
                notification_id=notification_id, user_id=user_id, channel=channel.value
            ),
            aggregate_id=notification_id,
        )

    # --- dispatcher -------------------------------------------------------------------------------------

    async def dispatch_once(self, now: datetime | None = None, batch: int = 50) -> DispatchReport:
        """Release queued messages whose time has come (one digest per user and channel when several
        wait), then send the deliveries that are due. Safe with several replicas (SKIP LOCKED)."""
        now = now or utcnow()
        released, digests = await self._release(now)
        sent, retried, fell_back = await self._send_due(now, batch)
        return DispatchReport(released, digests, sent, retried, fell_back)

    async def _release(self, now: datetime) -> tuple[int, int]:
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
            channel = Channel(channel_name)
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
                limit = RATE_LIMITS[channel]
                sent_at = (
                    await session.exec(
                        select(DeliveryRow.sent_at).where(
                            DeliveryRow.user_id == user_id,
                            DeliveryRow.channel == channel_name,
                            col(DeliveryRow.sent_at) > now - limit.per,
                        )
                    )
                ).all()
                prefs = await self._preferences(session, user_id)
                due = release_time(
                    channel,
                    [r.created_at for r in queued],
                    [s for s in sent_at if s],
                    prefs.quiet_hours,
                    self.digest_window,
                )
                if due > now:
                    for row in queued:  # look again then (sooner if preferences change)
                        row.next_attempt_at = due
                        session.add(row)
                    continue
                released += len(queued)
                if len(queued) == 1:
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
        return released, digests

    async def _send_due(self, now: datetime, batch: int) -> tuple[int, int, int]:
        sent = retried = fell_back = 0
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
                outcome = await self._send_one(session, row, now)
                sent += outcome == SENT
                retried += outcome == READY
                fell_back += outcome == FELL_BACK
        return sent, retried, fell_back

    async def _send_one(self, session: AsyncSession, row: DeliveryRow, now: datetime) -> str:
        channel = Channel(row.channel)
        prefs = await self._preferences(session, row.user_id)
        transactional = row.category == Category.TRANSACTIONAL.value
        if not prefs.enabled(channel) and not transactional:
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
                await self._sent_event(session, row.id, row.user_id, channel)
        session.add(row)
        DELIVERIES.labels(row.channel, "retry" if row.status == READY else row.status).inc()
        return row.status

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

    async def deliveries(self, user_id: str, limit: int, cursor: str) -> tuple[list[DeliveryRow], str]:
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

    # --- preferences ------------------------------------------------------------------------------------

    async def _preferences(self, session: AsyncSession, user_id: str) -> Preferences:
        row = await session.get(PreferencesRow, user_id)
        return self._to_preferences(row)

    def _to_preferences(self, row: PreferencesRow | None) -> Preferences:
        if row is None:
            return Preferences()
        quiet = None
        if row.quiet_start and row.quiet_end:
            quiet = QuietHours(
                parse_clock(row.quiet_start, "quiet_hours.start"),
                parse_clock(row.quiet_end, "quiet_hours.end"),
                row.time_zone,
            )
        return Preferences(
            email=row.email,
            sms=row.sms,
            quiet_hours=quiet,
            marketing_consent_at=row.marketing_consent_at,
            language=row.language,
            email_address=self.cipher.decrypt(row.email_address_sealed) if row.email_address_sealed else "",
            phone=self.cipher.decrypt(row.phone_sealed) if row.phone_sealed else "",
        )

    async def preferences(self, user_id: str) -> Preferences:
        async with self.db.transaction() as session:
            return await self._preferences(session, user_id)

    async def put_preferences(
        self, user_id: str, update_: PreferencesUpdate, now: datetime | None = None
    ) -> Preferences:
        """Replace the user's preferences. Consent keeps the time it was first given (R-PRIV-2: recorded
        consent); withdrawing it clears it."""
        now = now or utcnow()
        if update_.language not in LANGUAGES:
            raise InvalidArgument.for_field("language", "must be zh or en")
        async with self.db.transaction() as session:
            row = await session.get(PreferencesRow, user_id, with_for_update=True)
            if row is None:
                row = PreferencesRow(user_id=user_id, updated_at=now)
            consent_at = row.marketing_consent_at if update_.marketing_consent else None
            if update_.marketing_consent and consent_at is None:
                consent_at = now
            quiet = update_.quiet_hours
            row.email, row.sms = update_.email, update_.sms
            row.quiet_start = quiet.start.strftime("%H:%M") if quiet else None
            row.quiet_end = quiet.end.strftime("%H:%M") if quiet else None
            row.time_zone = quiet.time_zone if quiet else row.time_zone
            row.language = update_.language
            row.marketing_consent_at = consent_at
            row.email_address_sealed = (
                self.cipher.encrypt(update_.email_address) if update_.email_address else ""
            )
            row.phone_sealed = self.cipher.encrypt(update_.phone) if update_.phone else ""
            row.updated_at = now
            session.add(row)
            # Release times of waiting messages depended on the old quiet hours: look at them again.
            await session.execute(
                update(DeliveryRow.__table__)  # type: ignore[attr-defined]
                .where(
                    DeliveryRow.__table__.c.user_id == user_id,  # type: ignore[attr-defined]
                    DeliveryRow.__table__.c.status == QUEUED,  # type: ignore[attr-defined]
                )
                .values(next_attempt_at=None)
            )
            return self._to_preferences(row)

    # --- inbox and dev outbox ---------------------------------------------------------------------------

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

    async def send_direct(
        self, channel: Channel, to: str, subject: str, body: str, template: str, params: Mapping[str, str]
    ) -> str:
        """Send a platform message (identity's codes and invitations) now, through the channel's provider;
        returns an id for it. Conflict (`no_provider`) when the channel has no provider, Unavailable when the
        provider did not take the message (identity answers 503 either way)."""
        sender = self.senders.get(channel)
        if sender is None or isinstance(sender, UnconfiguredSender):
            raise Conflict(f"no {channel.value} provider is configured", reason="no_provider")
        message_id = new_id()
        async with self.db.transaction() as session:
            try:
                await sender.send(session, to, subject, body, template=template, params=params)
            except SendError as exc:
                # Ids only: the recipient and the text are personal data.
                log.warning(
                    "direct message failed",
                    extra={"message_id": message_id, "channel": channel.value, "error": str(exc)},
                )
                raise Unavailable(f"the {channel.value} provider did not take the message") from exc
        DELIVERIES.labels(channel.value, "sent_direct").inc()
        return message_id

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
