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

from services.runtime.access_log import StaffReads, define_access_log_tables
from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

booking_registry = registry()
metadata = booking_registry.metadata
TABLES = define_runtime_tables(metadata)
STAFF_READS = StaffReads("booking", define_access_log_tables(metadata))
DATA_KEYS = define_data_keys_table(metadata)


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
    # The booking product of the order that paid it, and that product's policy terms as they were then
    # (domain.TERM_KEYS; empty: the default policy). A later edit of the product changes no agreed terms.
    product_id: str = ""
    terms: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)


class BookingStageRow(BookingTable, table=True):
    """One stage the booking entered, written in the transaction of the transition itself: the facts behind
    the order's timeline (§9.2, R-Q-3). Stage names, times and the acting account only: no personal data."""

    __tablename__ = "booking_stages"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(foreign_key="bookings.id", index=True)
    stage: str
    actor: str
    entered_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ConnectRequestRow(BookingTable, table=True):
    """A client's request to connect with an online lawyer now (R-BK-3, §6.2.4): a call (agents bridge it
    through consultation's phone bridge once its phone consultation is paid) or a meeting (a held booking)."""

    __tablename__ = "connect_requests"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str
    lawyer_id: str
    lawyer_user_id: str = ""
    mode: str
    needs: str = ""
    status: str
    booking_id: str = ""
    # The step the client was told to take next (title, detail, endpoint, product_id).
    next_step: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


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
