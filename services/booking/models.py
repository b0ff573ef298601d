"""Tables of the booking service, on its own registry.

No double booking (R-BK-1) is PostgreSQL's job, not the application's: the exclusion constraint
`bookings_no_overlap` (btree_gist, migration 0002) refuses two live (held/confirmed) bookings of one lawyer
whose blocked ranges `[blocked_from, blocked_until)` overlap. The blocked range is the meeting widened by
the travel buffer of an on-site visit; it is stored rather than computed in the constraint because
`timestamptz ± interval` is not immutable and so cannot appear in an index expression."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

booking_registry = registry()
metadata = booking_registry.metadata
TABLES = define_runtime_tables(metadata)


class BookingTable(SQLModel, registry=booking_registry):
    """Base of every booking table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class BookingRow(BookingTable, table=True):
    __tablename__ = "bookings"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str
    lawyer_id: str = Field(index=True)
    mode: str
    status: str
    start: datetime = Field(sa_type=DateTime(timezone=True))
    minutes: int
    address: str = ""
    needs: str = ""
    hold_expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    # The lawyer's identity account: who checks in, completes and is notified.
    lawyer_user_id: str = Field(default="", index=True)
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))
    buffer_minutes: int = 0
    blocked_from: datetime = Field(sa_type=DateTime(timezone=True))
    blocked_until: datetime = Field(sa_type=DateTime(timezone=True))
    time_zone: str = "Asia/Shanghai"
    order_id: str = ""
    paid_fen: int = 0
    # The firm of an at_firm meeting (name, address, opening hours, transit routes), copied at booking time.
    venue: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    checked_in_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    summary: str = ""
    cancel_reason: str = ""
    refund_fen: int = 0
    # After completion: the lawyer's checklist and the client's rating (R-Q-4).
    quality: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class VisitRow(BookingTable, table=True):
    """A lawyer's proactive visit or research at a client enterprise (R-BK-2, §7.1)."""

    __tablename__ = "visits"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    lawyer_user_id: str = Field(index=True)
    date: str
    attendees: list[str] = Field(default_factory=list, sa_type=JSONB)
    findings: str
    follow_ups: list[str] = Field(default_factory=list, sa_type=JSONB)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
