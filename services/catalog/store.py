"""Catalog persistence."""

from __future__ import annotations

from sqlalchemy import literal, or_, tuple_
from sqlmodel import col, select

from services.catalog import domain
from services.catalog.models import ProductRow
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.records import decode_cursor, encode_cursor


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_products(
        self, category: str, query: str, limit: int, cursor: str
    ) -> tuple[list[ProductRow], str]:
        """Published products by name, optionally of one category and matching `query` in name or description."""
        statement = select(ProductRow).where(col(ProductRow.published).is_(True))
        if category:
            statement = statement.where(ProductRow.category == category)
        if query:
            pattern = domain.like_pattern(query)
            statement = statement.where(
                or_(col(ProductRow.name).ilike(pattern), col(ProductRow.description).ilike(pattern))
            )
        if cursor:
            last_category, last_name, last_id = decode_cursor(cursor)
            statement = statement.where(
                tuple_(col(ProductRow.category), col(ProductRow.name), col(ProductRow.id))
                > tuple_(literal(last_category), literal(last_name), literal(last_id))
            )
        statement = statement.order_by(
            col(ProductRow.category), col(ProductRow.name), col(ProductRow.id)
        ).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        next_cursor = ""
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last.category, last.name, last.id)
        return rows[:limit], next_cursor

    async def get_product(self, product_id: str) -> ProductRow:
        async with self.db.transaction() as session:
            row = await session.get(ProductRow, product_id)
        if row is None or not row.published:
            raise NotFound("no such product")
        return row

    async def upsert_product(self, row: ProductRow) -> None:
        async with self.db.transaction() as session:
            await session.merge(row)
