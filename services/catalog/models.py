"""Tables of the catalog service, on its own registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.tables import define_runtime_tables

catalog_registry = registry()
metadata = catalog_registry.metadata
TABLES = define_runtime_tables(metadata)


class CatalogTable(SQLModel, registry=catalog_registry):
    """Base of every catalog table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class ProductRow(CatalogTable, table=True):
    __tablename__ = "products"

    id: str = Field(primary_key=True)
    category: str = Field(index=True)
    name: str
    description: str
    price_fen: int
    currency: str = "CNY"
    # Structured content the client sees; tiers carry the clocks the workflows receive as input.
    media: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    parameters: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    tiers: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    process: list[dict[str, str]] = Field(default_factory=list, sa_type=JSONB)
    requirement_fields: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    consultation_kind: str = ""
    rating_average: float = 0.0
    rating_count: int = 0
    published: bool = Field(default=True, index=True)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
