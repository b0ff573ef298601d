"""Tables of the consultation service, on its own registry so its metadata never mixes with another's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

consultation_registry = registry()
metadata = consultation_registry.metadata
TABLES = define_runtime_tables(metadata)


class ConsultationTable(SQLModel, registry=consultation_registry):
    """Base of every consultation table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class ConsultationRow(ConsultationTable, table=True):
    __tablename__ = "consultations"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str = Field(index=True)
    kind: str
    status: str = Field(index=True)
    subject: str
    question: str
    order_id: str = ""
    legal_field: str = ""
    assigned_lawyer_id: str = Field(default="", index=True)
    reply_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_reason: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ConsultationStageRow(ConsultationTable, table=True):
    """One stage the consultation entered: the facts behind the client's timeline."""

    __tablename__ = "consultation_stages"
    __table_args__ = (UniqueConstraint("consultation_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True)
    stage: str
    actor: str
    entered_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    idempotency_key: str


class ConsultationMessageRow(ConsultationTable, table=True):
    __tablename__ = "consultation_messages"

    id: str = Field(primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True)
    author_id: str
    author_role: str
    body: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
