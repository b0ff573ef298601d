"""Tables of the notification service, on its own registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

notification_registry = registry()
metadata = notification_registry.metadata
TABLES = define_runtime_tables(metadata)
DATA_KEYS = define_data_keys_table(metadata)


class NotificationTable(SQLModel, registry=notification_registry):
    """Base of every notification table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class InboxEntryRow(NotificationTable, table=True):
    __tablename__ = "inbox_entries"
    # One entry per (event, recipient): a redelivered event cannot notify twice.
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    tenant_id: str = ""
    kind: str
    title: str
    body: str
    subject_type: str
    subject_id: str
    event_id: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    read_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # transactional | status | marketing: transactional entries are the ones a client must never miss.
    category: str = Field(default="status", sa_column=Column(Text, nullable=False, server_default="status"))


class DevMessageRow(NotificationTable, table=True):
    """SMS and e-mails 'sent' in dev and test, shown at /api/v1/dev/outbox. The recipient, subject and body
    are sealed with the address's data key, found by its blind index (services/notification/dev_outbox.py)."""

    __tablename__ = "dev_messages"

    id: str = Field(primary_key=True)
    channel: str
    to: str
    to_index: str = Field(default="", index=True)
    subject: str = ""
    body: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


class PreferencesRow(NotificationTable, table=True):
    """A user's channel choices, quiet hours and marketing consent (R-PRIV-2). No row = the defaults."""

    __tablename__ = "notification_preferences"

    user_id: str = Field(primary_key=True)
    email: bool = True
    sms: bool = True
    quiet_start: str | None = None  # HH:MM in `time_zone`; both None = no quiet hours
    quiet_end: str | None = None
    time_zone: str = "Asia/Shanghai"
    language: str = "zh"
    # Recorded consent: when it was given; None = no consent (marketing is never sent).
    marketing_consent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Where to send, sealed with the user's data key (store/sealed.py; personal data at rest, R-PRIV-1).
    email_address_sealed: str = ""
    phone_sealed: str = ""
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ParticipantRow(NotificationTable, table=True):
    """Who plays which role in a consultation, document order, booking or order, as learned from events."""

    __tablename__ = "participants"

    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    role: str = Field(primary_key=True)
    user_id: str


class DeliveryRow(NotificationTable, table=True):
    """One message on one outbound channel (e-mail, SMS) for one user, with its attempts.

    status: queued (waiting for its digest window, quiet hours or the rate limit) → ready → sent; or
    digested (folded into a digest delivery); or fell_back (failed for good: the inbox entry is marked
    unread again); or cancelled (the user turned the channel off meanwhile). `next_attempt_at` is when a
    ready delivery is (re)tried, and for a queued one when its release is looked at again (NULL: at once)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", "channel", "kind"),
        Index("deliveries_ready_idx", "next_attempt_at", postgresql_where=text("status = 'ready'")),
        Index(
            "deliveries_queued_idx",
            "user_id",
            "channel",
            "created_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "deliveries_sent_idx",
            "user_id",
            "channel",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
        Index("deliveries_user_idx", "user_id", "created_at"),
    )

    id: str = Field(primary_key=True)
    user_id: str
    channel: str
    category: str
    kind: str
    title: str
    body: str
    event_id: str
    inbox_entry_id: str = ""
    digest_id: str = ""
    status: str
    attempts: int = 0
    last_error: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
