"""Tables of the payment service, on its own registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

payment_registry = registry()
metadata = payment_registry.metadata
TABLES = define_runtime_tables(metadata)


class PaymentTable(SQLModel, registry=payment_registry):
    """Base of every payment table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class OrderRow(PaymentTable, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str = Field(index=True)
    product_id: str
    tier_id: str = ""
    status: str = Field(index=True)
    amount_fen: int
    currency: str = "CNY"
    pay_before: datetime = Field(sa_type=DateTime(timezone=True))
    fulfilment_kind: str = ""
    fulfilment_id: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
