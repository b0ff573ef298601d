"""Platform messages sent directly (identity's codes and invitations, R-ACC-1) and the dev outbox that
captures messages in dev and test."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from services.notification.channels import Sender, SendError, UnconfiguredSender
from services.notification.dev_outbox import CapturedMessage, DevOutbox
from services.notification.policy import Channel
from services.notification.store.base import DELIVERIES
from services.runtime.db import Database
from services.runtime.errors import Conflict, Unavailable
from services.runtime.records import new_id

log = logging.getLogger(__name__)


class DirectMessages:
    def __init__(self, db: Database, senders: Mapping[Channel, Sender], dev_outbox: DevOutbox) -> None:
        self.db = db
        self.senders = senders
        self.dev_outbox = dev_outbox

    async def send(
        self, channel: Channel, to: str, subject: str, body: str, template: str, params: Mapping[str, str]
    ) -> str:
        """Send a platform message now, through the channel's provider; returns an id for it. Conflict
        (`no_provider`) when the channel has no provider, Unavailable when the provider did not take the
        message (identity answers 503 either way)."""
        sender = self.senders.get(channel)
        if sender is None or isinstance(sender, UnconfiguredSender):
            raise Conflict(f"no {channel.value} provider is configured", reason="no_provider")
        message_id = new_id()
        async with self.db.transaction() as session:
            try:
                await sender.send(session, to, subject, body, template=template, params=params)
            except SendError as exc:
                DELIVERIES.labels(channel.value, "failed_direct").inc()
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
        async with self.db.transaction() as session:
            return await self.dev_outbox.record(session, channel, to, subject, body)

    async def newest_dev_messages(self, to: str, limit: int) -> list[CapturedMessage]:
        """The newest captured messages, to `to` only when given."""
        return await self.dev_outbox.newest(to, limit)
