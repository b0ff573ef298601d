"""Tables of the payment service, on its own registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.access_log import StaffReads, define_access_log_tables
from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

payment_registry = registry()
metadata = payment_registry.metadata
TABLES = define_runtime_tables(metadata)
STAFF_READS = StaffReads("payment", define_access_log_tables(metadata))
DATA_KEYS = define_data_keys_table(metadata)


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
    # The order keeps its own copy of what was bought (R-PAY-2: the catalog may change later).
    product_name: str = Field(default="", sa_column_kwargs={"server_default": ""})
    # The catalog's approved product version bought (its tiers and prices); 0 before it was copied.
    product_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    category: str = Field(default="", sa_column_kwargs={"server_default": ""})
    # The product's consultation kind (professional|phone) for a consultation product; "" otherwise.
    consultation_kind: str = Field(default="", sa_column_kwargs={"server_default": ""})
    tier: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSONB, sa_column_kwargs={"server_default": text("'{}'::jsonb")}
    )
    requirements: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSONB, sa_column_kwargs={"server_default": text("'{}'::jsonb")}
    )
    booking: dict[str, Any] = Field(
        default_factory=dict, sa_type=JSONB, sa_column_kwargs={"server_default": text("'{}'::jsonb")}
    )
    refunded_fen: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Why it was cancelled or last refunded: a reason code or `stated` (services/rules/reasons.reason_code),
    # never words a person typed, which would be personal data on a row erasure keeps.
    status_reason: str = Field(default="", sa_column_kwargs={"server_default": ""})
    invoice_title: str = Field(default="", sa_column_kwargs={"server_default": ""})
    invoice_tax_id: str = Field(default="", sa_column_kwargs={"server_default": ""})
    paid_payment_id: str = Field(default="", sa_column_kwargs={"server_default": ""})


class OrderStageRow(PaymentTable, table=True):
    """One stage the order entered: the facts behind the payment part of the client's timeline."""

    __tablename__ = "order_stages"
    __table_args__ = (UniqueConstraint("order_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    stage: str
    actor: str
    entered_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    idempotency_key: str


class PaymentRow(PaymentTable, table=True):
    __tablename__ = "payments"
    # R-PAY-2: an order is never charged twice — at most one paid payment per order, enforced by the database.
    __table_args__ = (
        Index(
            "payments_one_paid_per_order", "order_id", unique=True, postgresql_where=text("status = 'paid'")
        ),
    )

    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    tenant_id: str = Field(index=True)
    method: str
    status: str
    amount_fen: int
    currency: str = "CNY"
    pay_url: str = ""
    qr_code: str = ""
    provider_txn_id: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    paid_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ProviderNotificationRow(PaymentTable, table=True):
    """Every notification id a provider sent, once: a replay finds its row and has no second effect."""

    __tablename__ = "provider_notifications"

    provider: str = Field(primary_key=True)
    notification_id: str = Field(primary_key=True)
    payment_id: str = Field(index=True)
    outcome: str
    received_at: datetime = Field(sa_type=DateTime(timezone=True))


class RefundRow(PaymentTable, table=True):
    __tablename__ = "refunds"

    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", index=True)
    payment_id: str
    amount_fen: int
    reason: str
    status: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class VoucherRow(PaymentTable, table=True):
    __tablename__ = "vouchers"

    id: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", unique=True)
    signature: str
    amount_fen: int
    currency: str
    product_id: str
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))


class InvoiceRow(PaymentTable, table=True):
    """An issued invoice; the PDF is in object storage under `object_name`, checked by its SHA-256."""

    __tablename__ = "invoices"

    number: str = Field(primary_key=True)
    order_id: str = Field(foreign_key="orders.id", unique=True)
    object_name: str
    sha256: str
    amount_fen: int
    tax_fen: int
    currency: str
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))


class LedgerEntryRow(PaymentTable, table=True):
    """Append-only, hash-chained record of every payment event (R-PAY-4). `seq` is dense from 1; each
    entry carries the previous entry's hash, and a unique `prev_hash` forbids forks."""

    __tablename__ = "ledger_entries"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event: str
    order_id: str = Field(index=True)
    payment_id: str = ""
    amount_fen: int
    currency: str
    data: str  # canonical JSON of the event's details, as hashed
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    prev_hash: str = Field(unique=True)
    hash: str


class LedgerPostingRow(PaymentTable, table=True):
    """Double-entry postings of a ledger entry: they sum to zero per entry."""

    __tablename__ = "ledger_postings"

    id: int | None = Field(default=None, primary_key=True)
    entry_seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    account: str
    amount_fen: int  # positive = debit, negative = credit


class SandboxTransactionRow(PaymentTable, table=True):
    """The sandbox provider's own records: what its customer paid and whether its notification got through."""

    __tablename__ = "sandbox_transactions"

    payment_id: str = Field(primary_key=True)
    trade_no: str
    amount_fen: int
    currency: str
    status: str  # created | paid
    paid_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    notify_attempts: int = 0
    next_notify_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    notified_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
