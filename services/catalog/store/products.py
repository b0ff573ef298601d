"""Products and their tiers (R-INFO-1, R-INFO-2): the public listing and page of approved products. Their
versions, review and publishing are `product_versions`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import literal, tuple_
from sqlmodel import col, select

from services.catalog.models import ProductRow, ReviewRow
from services.catalog.store.base import TextSearch, keyset, ranked, vector
from services.catalog.store.sealed import open_reviews
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.keys import DataKeys
from services.runtime.records import encode_cursor


@dataclass(frozen=True)
class ProductFilter:
    category: str = ""
    query: str = ""
    min_price: int | None = None
    max_price: int | None = None


class Products:
    def __init__(self, db: Database, keys: DataKeys) -> None:
        self.db = db
        self.keys = keys  # the reviews' texts are sealed (store/sealed.py)

    async def list_products(
        self, filters: ProductFilter, limit: int, cursor: str
    ) -> tuple[list[ProductRow], str]:
        """Published products: by category and name, or by relevance when `filters.query` is given."""
        statement = select(ProductRow).where(col(ProductRow.published).is_(True))
        if filters.category:
            statement = statement.where(ProductRow.category == filters.category)
        if filters.min_price is not None:
            statement = statement.where(col(ProductRow.price_fen) >= filters.min_price)
        if filters.max_price is not None:
            statement = statement.where(col(ProductRow.price_fen) <= filters.max_price)
        if filters.query:
            found = TextSearch(
                filters.query,
                vector(ProductRow),
                [col(ProductRow.name)],
                [col(ProductRow.description)],
            )
            statement = statement.where(found.condition).order_by(found.rank.desc(), col(ProductRow.id))
            return await ranked(self.db, statement, limit, cursor)
        if cursor:
            last_category, last_name, last_id = keyset(cursor, 3)
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

    async def get_product(self, product_id: str, reviews: int = 10) -> tuple[ProductRow, list[ReviewRow]]:
        """A published product and its `reviews` newest reviews, opened: the hot public read, so one pooled
        connection and no transaction (NotFound for an unknown or unpublished product)."""
        async with self.db.read() as session:
            row = await session.get(ProductRow, product_id)
            if row is None or not row.published:
                raise NotFound("no such product")
            statement = (
                select(ReviewRow)
                .where(ReviewRow.product_id == product_id)
                .order_by(col(ReviewRow.created_at).desc(), col(ReviewRow.id))
                .limit(reviews)
            )
            found = list((await session.exec(statement)).all())
        await open_reviews(self.keys, *found)
        return row, found
