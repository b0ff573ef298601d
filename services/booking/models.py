"""Tables of the booking service, on its own registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
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
