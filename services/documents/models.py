"""Tables of the documents service, on its own registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

documents_registry = registry()
metadata = documents_registry.metadata
TABLES = define_runtime_tables(metadata)


class DocumentsTable(SQLModel, registry=documents_registry):
    """Base of every documents table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class DocumentOrderRow(DocumentsTable, table=True):
    __tablename__ = "document_orders"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    order_id: str = Field(unique=True)
    client_id: str
    stage: str
    complexity: str
    assigned_lawyer_id: str = ""
    acknowledge_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    draft_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revision_window_ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
