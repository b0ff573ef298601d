"""Tables of the notification service, on its own registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

notification_registry = registry()
metadata = notification_registry.metadata
TABLES = define_runtime_tables(metadata)


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


class DevMessageRow(NotificationTable, table=True):
    """SMS and e-mails 'sent' in dev and test, shown at /api/v1/dev/outbox."""

    __tablename__ = "dev_messages"

    id: str = Field(primary_key=True)
    channel: str
    to: str = Field(index=True)
    subject: str = ""
    body: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
