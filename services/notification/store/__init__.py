"""Notification persistence, one store per aggregate over one base (`base`: delivery statuses, preferences
as the rules read them, the `notification.sent` event): the inbox, preferences, the fan-out of events,
outbound deliveries and direct messages. Every query is scoped to one user."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from services.notification.channels import Sender
from services.notification.dev_outbox import DevOutbox
from services.notification.directory import Directory
from services.notification.policy import DIGEST_WINDOW, Channel
from services.notification.store.deliveries import Deliveries
from services.notification.store.direct import DirectMessages
from services.notification.store.fan_out import FanOut
from services.notification.store.inbox import Inbox
from services.notification.store.preferences import PreferencesStore
from services.notification.store.sealed import ContactAddresses
from services.runtime.db import Database
from services.runtime.events import Outbox


@dataclass(frozen=True)
class NotificationStores:
    """The notification service's stores, built over one database, one outbox and the users' contact
    addresses (on their data keys)."""

    fan_out: FanOut
    deliveries: Deliveries
    inbox: Inbox
    preferences: PreferencesStore
    direct: DirectMessages

    @classmethod
    def build(
        cls,
        db: Database,
        outbox: Outbox,
        addresses: ContactAddresses,
        dev_outbox: DevOutbox,
        senders: Mapping[Channel, Sender] | None = None,
        *,
        digest_window: timedelta = DIGEST_WINDOW,
        directory: Directory | None = None,
    ) -> NotificationStores:
        """`directory` (identity) resolves groups' members, and contact addresses users set nowhere else."""
        channels = dict(senders or {})
        return cls(
            fan_out=FanOut(outbox, addresses, directory),
            deliveries=Deliveries(
                db, outbox, addresses, channels, digest_window=digest_window, directory=directory
            ),
            inbox=Inbox(db),
            preferences=PreferencesStore(db, addresses),
            direct=DirectMessages(db, channels, dev_outbox),
        )
