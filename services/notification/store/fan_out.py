"""The fan-out of other services' events (R-Q-3): the inbox entries an event causes, the participants it
names (so later stages reach them), and the e-mails and SMS it queues by each user's preferences."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

import grpc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from services.notification.directory import Directory
from services.notification.domain import Notice, plan_for, render
from services.notification.models import DeliveryRow, InboxEntryRow, ParticipantRow
from services.notification.policy import Channel, Preferences, route, wanted
from services.notification.store.base import QUEUED, READY, load_preferences, record_sent
from services.notification.store.sealed import ContactAddresses
from services.runtime.events import Outbox
from services.runtime.records import new_id, utcnow

log = logging.getLogger(__name__)


class FanOut:
    def __init__(
        self, outbox: Outbox, addresses: ContactAddresses, directory: Directory | None = None
    ) -> None:
        self.outbox = outbox
        self.addresses = addresses
        self.directory = directory

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

    async def _notify(
        self, session: AsyncSession, envelope: EventEnvelope, notice: Notice, user_id: str, now: datetime
    ) -> int:
        prefs = await load_preferences(session, self.addresses, user_id)
        if not wanted(notice.category, prefs):
            return 0
        prefs = await self._with_contact(prefs, user_id)
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
        await record_sent(session, self.outbox, entry_id, user_id, Channel.IN_APP)
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
