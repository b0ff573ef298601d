"""Product versions (§6.1.3.2, §9.5): a product and each change to it start as a draft version an editor
writes and submits; a reviewer approves it (its content becomes the public product, `product.published`)
or rejects it. Until a version is approved the public product, and what new orders buy, stays the last
approved one; a product never approved is not public at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import domain, editorial, search
from services.catalog.models import ProductRow, ProductVersionRow
from services.catalog.store.base import ranked
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import Conflict, NotFound
from services.runtime.events import Outbox
from services.runtime.records import utcnow

# The fields of a product an editor writes; rating, search text and creation time are the catalog's.
CONTENT_FIELDS = (
    "category",
    "name",
    "description",
    "price_fen",
    "currency",
    "media",
    "parameters",
    "tiers",
    "process",
    "requirement_fields",
    "consultation_kind",
)


def product_content(row: ProductRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CONTENT_FIELDS}


@dataclass(frozen=True)
class ProductVersionView:
    """A version and the product as it has it (rating and creation time from the public product, if any)."""

    version: ProductVersionRow
    product: ProductRow


async def _latest(session: AsyncSession, product_id: str, *, lock: bool = False) -> ProductVersionRow | None:
    statement = (
        select(ProductVersionRow)
        .where(ProductVersionRow.product_id == product_id)
        .order_by(col(ProductVersionRow.version).desc())
        .limit(1)
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def _view(session: AsyncSession, version: ProductVersionRow) -> ProductVersionView:
    public = await session.get(ProductRow, version.product_id)
    product = ProductRow(
        id=version.product_id,
        **version.content,
        version=version.version,
        published=version.status == "approved",
        rating_average=public.rating_average if public else 0.0,
        rating_count=public.rating_count if public else 0,
        created_at=public.created_at if public else version.created_at,
    )
    return ProductVersionView(version, product)


def _draft(row: ProductRow, version: int, author_id: str, now: datetime) -> ProductVersionRow:
    return ProductVersionRow(
        product_id=row.id,
        version=version,
        status="draft",
        content=product_content(row),
        author_id=author_id,
        created_at=now,
        updated_at=now,
    )


def _validated(row: ProductRow) -> ProductRow:
    """`row` after the tier rules every product obeys (InvalidArgument naming the field otherwise)."""
    domain.validate_product(row.category, row.price_fen, row.tiers, row.consultation_kind)
    return row


class ProductVersions:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create_product(self, principal: Principal, row: ProductRow) -> ProductVersionView:
        """Version 1 of a new product, a draft; Conflict when the id is in use."""
        _validated(row)
        async with self.db.transaction() as session:
            in_use = await _latest(session, row.id) is not None
            if in_use or await session.get(ProductRow, row.id) is not None:
                raise Conflict("a product with this id exists; change it with PUT", reason="product_exists")
            version = _draft(row, 1, principal.user_id, utcnow())
            session.add(version)
            await session.flush()
            return await _view(session, version)

    async def update_product(self, principal: Principal, row: ProductRow) -> ProductVersionView:
        """Write a change as a draft: the latest version in place while it is a draft or rejected, a new
        version after an approved one (which stays public until the new one is approved); a new product
        when the id is unknown. Conflict while the latest version is under review."""
        _validated(row)
        async with self.db.transaction() as session:
            latest = await _latest(session, row.id, lock=True)
            now = utcnow()
            if latest is None:
                version = _draft(row, 1, principal.user_id, now)
            elif editorial.edit_plan(latest.status, "product") == "in_place":
                version = latest
                version.content, version.status, version.author_id = (
                    product_content(row),
                    "draft",
                    principal.user_id,
                )
                version.reviewer_id, version.review_comment, version.reviewed_at = "", "", None
                version.updated_at = now
            else:
                version = _draft(row, latest.version + 1, principal.user_id, now)
            session.add(version)
            await session.flush()
            return await _view(session, version)

    async def submit_product(self, principal: Principal, product_id: str) -> ProductVersionView:
        """Submit the latest version for review (again: no change); Conflict unless a draft or rejected."""
        async with self.db.transaction() as session:
            latest = await self._existing(session, product_id)
            if editorial.submits(latest.status, "product"):
                latest.status, latest.updated_at = "submitted", utcnow()
                session.add(latest)
                await session.flush()
            return await _view(session, latest)

    async def review_product(
        self, principal: Principal, product_id: str, decision: str, comment: str
    ) -> ProductVersionView:
        """Approve (publish: the product row takes the version's content, `product.published`) or reject
        the submitted version. Conflict unless the latest version is submitted; a reviewer never approves
        their own version."""
        async with self.db.transaction() as session:
            latest = await self._existing(session, product_id)
            review = editorial.review_article(
                latest.status, decision, comment, latest.author_id, principal.user_id, "product"
            )
            now = utcnow()
            latest.status, latest.review_comment = review.status, review.comment
            latest.reviewer_id, latest.reviewed_at, latest.updated_at = principal.user_id, now, now
            session.add(latest)
            await session.flush()
            if review.publishes:
                await self._publish(session, latest, principal.user_id)
            return await _view(session, latest)

    async def list_versions(
        self, status: str, product_id: str, limit: int, cursor: str
    ) -> tuple[list[ProductVersionView], str]:
        """One product's versions, newest first, or else the versions with `status` (all when empty),
        least recently changed first: a reviewer's queue is "submitted"."""
        statement = select(ProductVersionRow)
        if status:
            statement = statement.where(ProductVersionRow.status == status)
        if product_id:
            statement = statement.where(ProductVersionRow.product_id == product_id).order_by(
                col(ProductVersionRow.version).desc()
            )
        else:
            statement = statement.order_by(
                col(ProductVersionRow.updated_at),
                col(ProductVersionRow.product_id),
                col(ProductVersionRow.version),
            )
        rows, next_cursor = await ranked(self.db, statement, limit, cursor)
        async with self.db.transaction() as session:
            return [await _view(session, row) for row in rows], next_cursor

    async def seed_product(self, row: ProductRow, version: ProductVersionRow) -> None:
        """Seed path: a demo product as its approved `version`, without an event (as every seeded row).
        Written while the product has no version or only this seeded one (so the demo data follows the
        code), never over the versions editors made since."""
        async with self.db.transaction() as session:
            latest = await _latest(session, row.id, lock=True)
            if latest is not None and (latest.version != version.version or latest.status != "approved"):
                return
            version.content = product_content(_validated(row))
            await session.merge(version)
            await session.flush()
            await self._publish(session, version, version.reviewer_id, event=False)

    async def _existing(self, session: AsyncSession, product_id: str) -> ProductVersionRow:
        latest = await _latest(session, product_id, lock=True) if product_id else None
        if latest is None:
            raise NotFound("no such product")
        return latest

    async def _publish(
        self, session: AsyncSession, version: ProductVersionRow, actor_id: str, *, event: bool = True
    ) -> None:
        """The approved `version` becomes the public product (rating and creation time kept); new orders
        buy it. Orders already placed carry their own copy of the tier they bought."""
        public = await session.get(ProductRow, version.product_id, with_for_update=True)
        row = ProductRow(
            id=version.product_id,
            **version.content,
            version=version.version,
            published=True,
            rating_average=public.rating_average if public else 0.0,
            rating_count=public.rating_count if public else 0,
            created_at=public.created_at if public else version.created_at,
        )
        row.search_title = search.segment(row.name)
        row.search_body = search.segment(row.description, " ".join(row.parameters.values()))
        await session.merge(row)
        await session.flush()
        if event:
            await self.outbox.add(
                session,
                "product.published",
                events_pb2.ProductPublished(product_id=row.id, version=version.version),
                aggregate_id=row.id,
                actor_id=actor_id,
            )
