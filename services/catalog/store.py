"""Catalog persistence: one transaction per change, its outbox event included; firm scoping inside every
query that a firm admin's call reaches (another firm's lawyer is NotFound)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, tuple_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import domain, search
from services.catalog.models import (
    TABLES,
    ArticleRow,
    ArticleVersionRow,
    FirmRow,
    LawyerRow,
    OrderRecordRow,
    ProductRow,
    ReviewRow,
)
from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.db import Database
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.events import Outbox
from services.runtime.records import (
    claim_idempotency_key,
    decode_cursor,
    encode_cursor,
    new_id,
    request_fingerprint,
    to_timestamp,
    utcnow,
)

# A title match ranks above any body-only match (ts_rank values stay well below 1).
TITLE_BONUS = 1.0


@dataclass(frozen=True)
class ProductFilter:
    category: str = ""
    query: str = ""
    min_price: int | None = None
    max_price: int | None = None


@dataclass(frozen=True)
class LawyerFilter:
    field: str = ""
    online: bool | None = None
    city: str = ""
    firm_id: str = ""
    query: str = ""


@dataclass
class ArticleView:
    article: ArticleRow
    published: ArticleVersionRow | None
    latest: ArticleVersionRow


def _vector(model: Any) -> Any:
    """The generated tsvector column of a searchable table (not mapped on the model: see models.py)."""
    return model.__table__.c.search_vector


def _keyset(cursor: str, size: int) -> list[str]:
    """The string values of a keyset cursor we issued; InvalidArgument for anything else (never a 5xx)."""
    values = decode_cursor(cursor)
    if len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued")
    return values


def _offset(cursor: str) -> int:
    """Ranked (search) results page by offset; the cursor says so, so a keyset cursor is refused."""
    if not cursor:
        return 0
    values = decode_cursor(cursor)
    if len(values) != 2 or values[0] != "rank" or not isinstance(values[1], int) or values[1] < 0:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued")
    return int(values[1])


class _Search:
    """The match condition and rank of a free-text query over a table's search columns."""

    def __init__(self, query: str, vector: Any, titles: list[Any], bodies: list[Any]) -> None:
        pattern = domain.like_pattern(query)
        expression = search.tsquery(query)
        conditions: list[ColumnElement[bool]] = [c.ilike(pattern) for c in [*titles, *bodies]]
        title_hit = or_(*[c.ilike(pattern) for c in titles])
        rank: Any = case((title_hit, TITLE_BONUS), else_=0.0)
        if expression:
            tsquery = func.to_tsquery("simple", expression)
            conditions.append(vector.op("@@")(tsquery))
            rank = rank + func.ts_rank(vector, tsquery)
        self.condition = or_(*conditions)
        self.rank = rank


class CatalogStore:
    def __init__(self, db: Database, outbox: Outbox | None = None) -> None:
        """`outbox` is needed by changes that publish events (lawyer activation, article approval); the
        demo seed writes without one."""
        self.db = db
        self._outbox = outbox

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            raise RuntimeError("this CatalogStore was built without an outbox")
        return self._outbox

    # --- products -------------------------------------------------------------------------------------

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
            found = _Search(
                filters.query,
                _vector(ProductRow),
                [col(ProductRow.name)],
                [col(ProductRow.description)],
            )
            statement = statement.where(found.condition).order_by(found.rank.desc(), col(ProductRow.id))
            return await self._ranked(statement, limit, cursor)
        if cursor:
            last_category, last_name, last_id = _keyset(cursor, 3)
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

    async def _ranked(self, statement: Any, limit: int, cursor: str) -> tuple[list[Any], str]:
        offset = _offset(cursor)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement.offset(offset).limit(limit + 1))).all())
        if len(rows) > limit:
            return rows[:limit], encode_cursor("rank", offset + limit)
        return rows, ""

    async def get_product(self, product_id: str, reviews: int = 10) -> tuple[ProductRow, list[ReviewRow]]:
        """A published product and its `reviews` newest reviews: the hot public read, so one pooled
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
            return row, list((await session.exec(statement)).all())

    async def upsert_product(self, row: ProductRow, *, publish: bool = False) -> ProductRow:
        """Insert or replace a product after checking its tier rules (InvalidArgument otherwise). Its
        rating and creation time are kept; with `publish`, `product.published` is recorded. Orders already
        placed carry their own copy of the tier's numbers, so a change here affects new orders only."""
        domain.validate_product(row.category, row.price_fen, row.tiers, row.consultation_kind)
        row.search_title = search.segment(row.name)
        row.search_body = search.segment(row.description, " ".join(row.parameters.values()))
        async with self.db.transaction() as session:
            existing = await session.get(ProductRow, row.id, with_for_update=True)
            if existing is not None:
                row.rating_average, row.rating_count = existing.rating_average, existing.rating_count
                row.created_at = existing.created_at
            stored = await session.merge(row)
            await session.flush()
            if publish:
                await self.outbox.add(
                    session,
                    "product.published",
                    events_pb2.ProductPublished(product_id=row.id),
                    aggregate_id=row.id,
                )
            return stored

    # --- firms ----------------------------------------------------------------------------------------

    async def upsert_firm(self, row: FirmRow) -> None:
        """Seed path: insert or refresh a firm, keeping the reputation its reviews earned."""
        async with self.db.transaction() as session:
            existing = await session.get(FirmRow, row.id, with_for_update=True)
            if existing is not None:
                row.rating_average, row.rating_count = existing.rating_average, existing.rating_count
            await session.merge(row)

    async def update_firm(self, principal: Principal, changes: FirmRow) -> FirmRow:
        """A firm admin replaces their own firm's public profile (another firm is NotFound). Rating, admins
        and creation time are kept; lawyers' search text follows the firm's name and city."""
        async with self.db.transaction() as session:
            firm = await self._administered_firm(session, principal, changes.id)
            for name in (
                "name",
                "city",
                "address",
                "lat",
                "lng",
                "phone",
                "description",
                "opening_hours",
                "transit_routes",
                "staff",
            ):
                setattr(firm, name, getattr(changes, name))
            session.add(firm)
            lawyers = (await session.exec(select(LawyerRow).where(LawyerRow.firm_id == firm.id))).all()
            for lawyer in lawyers:
                self._index_lawyer(lawyer, firm)
                session.add(lawyer)
            await session.flush()
            return firm

    async def list_firms(self, city: str, limit: int, cursor: str) -> tuple[list[FirmRow], str]:
        statement = select(FirmRow)
        if city:
            statement = statement.where(FirmRow.city == city)
        if cursor:
            values = _keyset(cursor, 3)
            statement = statement.where(
                tuple_(col(FirmRow.city), col(FirmRow.name), col(FirmRow.id))
                > tuple_(*[literal(v) for v in values])
            )
        statement = statement.order_by(col(FirmRow.city), col(FirmRow.name), col(FirmRow.id)).limit(limit + 1)
        async with self.db.transaction() as session:
            rows = list((await session.exec(statement)).all())
        if len(rows) > limit:
            last = rows[limit - 1]
            return rows[:limit], encode_cursor(last.city, last.name, last.id)
        return rows, ""

    async def get_firm(self, firm_id: str) -> FirmRow:
        return await self.db.get(FirmRow, firm_id, "firm")

    # --- lawyers --------------------------------------------------------------------------------------

    async def upsert_lawyer(self, row: LawyerRow) -> None:
        """Seed path: insert or refresh a lawyer with its firm's city and search text, keeping its rating
        and the online status the lawyer set."""
        async with self.db.transaction() as session:
            firm = await session.get(FirmRow, row.firm_id)
            if firm is None:
                raise NotFound("no such firm")
            existing = await session.get(LawyerRow, row.id, with_for_update=True)
            if existing is not None:
                row.rating_average, row.rating_count = existing.rating_average, existing.rating_count
                row.online = existing.online
            self._index_lawyer(row, firm)
            await session.merge(row)

    @staticmethod
    def _index_lawyer(row: LawyerRow, firm: FirmRow) -> None:
        row.city = firm.city
        row.search_title = search.segment(row.name)
        row.search_body = search.segment(row.specialty, row.bio, " ".join(row.fields), firm.name, firm.city)

    async def list_lawyers(
        self, filters: LawyerFilter, limit: int, cursor: str, principal: Principal | None = None
    ) -> tuple[list[LawyerRow], str]:
        """Active lawyers; online first, then by name, or by relevance when `filters.query` is given. An
        admin of the firm named by `filters.firm_id` also sees its inactive profiles."""
        statement = select(LawyerRow)
        if not await self.administers(principal, filters.firm_id):
            statement = statement.where(col(LawyerRow.active).is_(True))
        if filters.field:
            statement = statement.where(col(LawyerRow.fields).contains([filters.field]))
        if filters.online is not None:
            statement = statement.where(col(LawyerRow.online).is_(filters.online))
        if filters.city:
            statement = statement.where(LawyerRow.city == filters.city)
        if filters.firm_id:
            statement = statement.where(LawyerRow.firm_id == filters.firm_id)
        if filters.query:
            found = _Search(
                filters.query,
                _vector(LawyerRow),
                [col(LawyerRow.name)],
                [col(LawyerRow.specialty), col(LawyerRow.bio)],
            )
            statement = statement.where(found.condition).order_by(
                found.rank.desc(), col(LawyerRow.online).desc(), col(LawyerRow.id)
            )
            return await self._ranked(statement, limit, cursor)
        statement = statement.order_by(col(LawyerRow.online).desc(), col(LawyerRow.name), col(LawyerRow.id))
        return await self._ranked(statement, limit, cursor)

    async def administers(self, principal: Principal | None, firm_id: str) -> bool:
        """Whether `principal` manages firm `firm_id` (one of its admins, or its own system)."""
        if principal is None or not firm_id or not principal.has_role("firm_admin", FIRM_SERVICE_ROLE):
            return False
        async with self.db.transaction() as session:
            firm = await session.get(FirmRow, firm_id)
        return firm is not None and domain.administers(principal, firm.id, firm.admin_user_ids)

    async def get_lawyer(self, principal: Principal | None, lawyer_id: str) -> LawyerRow:
        """An active lawyer, or an inactive one to an admin of its firm; NotFound otherwise."""
        async with self.db.transaction() as session:
            row = await session.get(LawyerRow, lawyer_id)
            if row is not None and not row.active:
                firm = await session.get(FirmRow, row.firm_id)
                if (
                    principal is None
                    or firm is None
                    or not domain.administers(principal, firm.id, firm.admin_user_ids)
                ):
                    row = None
        if row is None:
            raise NotFound("no such lawyer")
        return row

    async def _administered_firm(self, session: AsyncSession, principal: Principal, firm_id: str) -> FirmRow:
        firm = await session.get(FirmRow, firm_id) if firm_id else None
        if firm is None or not domain.administers(principal, firm.id, firm.admin_user_ids):
            raise NotFound("no such firm")  # another firm's existence is not revealed
        return firm

    async def _administered_lawyer(
        self, session: AsyncSession, principal: Principal, lawyer_id: str
    ) -> tuple[LawyerRow, FirmRow]:
        row = await session.get(LawyerRow, lawyer_id, with_for_update=True) if lawyer_id else None
        firm = await session.get(FirmRow, row.firm_id) if row is not None else None
        if row is None or firm is None or not domain.administers(principal, firm.id, firm.admin_user_ids):
            raise NotFound("no such lawyer")
        return row, firm

    @staticmethod
    async def _check_account_free(session: AsyncSession, user_id: str, lawyer_id: str) -> None:
        """One lawyer profile per identity account."""
        if not user_id:
            return
        statement = select(LawyerRow.id).where(LawyerRow.user_id == user_id, LawyerRow.id != lawyer_id)
        if (await session.exec(statement)).first() is not None:
            raise InvalidArgument.for_field("user_id", "this account already has a lawyer profile")

    @staticmethod
    def _apply_profile(row: LawyerRow, profile: domain.Profile) -> None:
        row.name = profile.name
        row.specialty = profile.specialty
        row.fields = list(profile.fields)
        row.service_hours = list(profile.service_hours)
        row.service_exceptions = list(profile.service_exceptions)
        row.years_of_practice = profile.years_of_practice
        row.licence_number = profile.licence_number
        row.bio = profile.bio
        row.user_id = profile.user_id
        row.online = profile.online

    async def create_lawyer(
        self, principal: Principal, firm_id: str, profile: domain.Profile, idempotency_key: str
    ) -> LawyerRow:
        """A new, inactive lawyer of a firm the caller administers; a replayed idempotency key returns the
        first one (Conflict when reused for another profile)."""
        lawyer_id = new_id()
        async with self.db.transaction() as session:
            firm = await self._administered_firm(session, principal, firm_id)
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"lawyer:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(firm_id, profile),
                    lawyer_id,
                )
                if existing is not None:
                    return await self.db_get_lawyer(session, existing)
            await self._check_account_free(session, profile.user_id, lawyer_id)
            now = utcnow()
            row = LawyerRow(id=lawyer_id, firm_id=firm.id, name=profile.name, created_at=now, updated_at=now)
            self._apply_profile(row, profile)
            self._index_lawyer(row, firm)
            session.add(row)
            await session.flush()
            return row

    @staticmethod
    async def db_get_lawyer(session: AsyncSession, lawyer_id: str) -> LawyerRow:
        row = await session.get(LawyerRow, lawyer_id)
        if row is None:
            raise NotFound("no such lawyer")
        return row

    async def update_lawyer(self, principal: Principal, lawyer_id: str, profile: domain.Profile) -> LawyerRow:
        """Replace the profile of a lawyer of the caller's firm. An active lawyer stays eligible (§4.2.1)."""
        async with self.db.transaction() as session:
            row, firm = await self._administered_lawyer(session, principal, lawyer_id)
            if row.active:
                domain.check_activation(profile.licence_number, profile.years_of_practice)
            await self._check_account_free(session, profile.user_id, row.id)
            self._apply_profile(row, profile)
            self._index_lawyer(row, firm)
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await self._lawyer_changed(session, row, principal.user_id)
            return row

    async def _lawyer_changed(self, session: AsyncSession, row: LawyerRow, actor_id: str) -> None:
        """Publish the profile's assignable state (`lawyer.changed`) in the change's transaction."""
        await self.outbox.add(
            session,
            "lawyer.changed",
            events_pb2.LawyerChanged(
                lawyer_id=row.id,
                user_id=row.user_id,
                firm_id=row.firm_id,
                name=row.name,
                fields=row.fields,
                active=row.active,
                service_hours=[
                    events_pb2.LawyerServiceWindow(
                        weekday=int(w.get("weekday", 0)),
                        start=str(w.get("start", "")),
                        end=str(w.get("end", "")),
                    )
                    for w in row.service_hours
                ],
                updated_at=to_timestamp(row.updated_at),
            ),
            aggregate_id=row.id,
            actor_id=actor_id,
        )

    async def deactivate_lawyer(self, principal: Principal, lawyer_id: str) -> LawyerRow:
        """Deactivate (unlist, no new assignments) a lawyer of the caller's firm and publish lawyer.changed.
        Idempotent."""
        async with self.db.transaction() as session:
            row, _ = await self._administered_lawyer(session, principal, lawyer_id)
            if not row.active:
                return row
            row.active = False
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await self._lawyer_changed(session, row, principal.user_id)
            return row

    async def activate_lawyer(self, principal: Principal, lawyer_id: str) -> LawyerRow:
        """Activate (list and make assignable) a lawyer of the caller's firm and publish lawyer.activated;
        InvalidArgument naming licence_number or years_of_practice when §4.2.1 is not met. Idempotent."""
        async with self.db.transaction() as session:
            row, _ = await self._administered_lawyer(session, principal, lawyer_id)
            domain.check_activation(row.licence_number, row.years_of_practice)
            if row.active:
                return row
            row.active = True
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            await self.outbox.add(
                session,
                "lawyer.activated",
                events_pb2.LawyerActivated(
                    lawyer_id=row.id, user_id=row.user_id, firm_id=row.firm_id, fields=row.fields
                ),
                aggregate_id=row.id,
                actor_id=principal.user_id,
            )
            await self._lawyer_changed(session, row, principal.user_id)
            return row

    async def set_online(self, principal: Principal, online: bool) -> LawyerRow:
        """The calling lawyer's own profile goes online or offline (NotFound without a profile)."""
        async with self.db.transaction() as session:
            statement = select(LawyerRow).where(LawyerRow.user_id == principal.user_id).with_for_update()
            row = (await session.exec(statement)).first()
            if row is None:
                raise NotFound("you have no lawyer profile")
            row.online = online
            row.updated_at = utcnow()
            session.add(row)
            await session.flush()
            return row

    # --- articles -------------------------------------------------------------------------------------

    async def create_article(
        self, principal: Principal, kind: str, title: str, body: str, idempotency_key: str
    ) -> ArticleView:
        article_id = new_id()
        async with self.db.transaction() as session:
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"article:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(kind, title, body),
                    article_id,
                )
                if existing is not None:
                    return await self._article_view(session, existing)
            now = utcnow()
            session.add(
                ArticleRow(
                    id=article_id, kind=kind, author_id=principal.user_id, created_at=now, updated_at=now
                )
            )
            await session.flush()
            session.add(self._version(article_id, 1, title, body, principal.user_id, now))
            await session.flush()
            return await self._article_view(session, article_id)

    @staticmethod
    def _version(
        article_id: str, version: int, title: str, body: str, author: str, now: datetime
    ) -> ArticleVersionRow:
        return ArticleVersionRow(
            article_id=article_id,
            version=version,
            status="draft",
            title=title,
            body=body,
            author_id=author,
            search_title=search.segment(title),
            search_body=search.segment(body),
            created_at=now,
        )

    async def _article_view(
        self, session: AsyncSession, article_id: str, *, lock: bool = False
    ) -> ArticleView:
        article = await session.get(ArticleRow, article_id, with_for_update=lock) if article_id else None
        if article is None:
            raise NotFound("no such article")
        latest = await session.get(ArticleVersionRow, (article_id, article.latest_version))
        published = (
            await session.get(ArticleVersionRow, (article_id, article.published_version))
            if article.published_version is not None
            else None
        )
        assert latest is not None
        return ArticleView(article, published, latest)

    async def update_article(
        self, principal: Principal, article_id: str, title: str, body: str
    ) -> ArticleView:
        """Edit the latest version in place (draft or rejected → draft) or, when it is published, start a
        new draft version; the published version stays public until the new one is approved."""
        async with self.db.transaction() as session:
            view = await self._article_view(session, article_id, lock=True)
            now = utcnow()
            if domain.edit_plan(view.latest.status) == "in_place":
                latest = view.latest
                latest.title, latest.body, latest.status = title, body, "draft"
                latest.author_id = principal.user_id
                latest.search_title, latest.search_body = search.segment(title), search.segment(body)
                latest.reviewer_id, latest.review_comment, latest.reviewed_at = "", "", None
                session.add(latest)
            else:
                view.article.latest_version += 1
                session.add(
                    self._version(
                        article_id, view.article.latest_version, title, body, principal.user_id, now
                    )
                )
            view.article.updated_at = now
            session.add(view.article)
            await session.flush()
            return await self._article_view(session, article_id)

    async def submit_article(self, principal: Principal, article_id: str) -> ArticleView:
        async with self.db.transaction() as session:
            view = await self._article_view(session, article_id, lock=True)
            if view.latest.status == "submitted":
                return view  # a repeated submit changes nothing
            domain.check_submit(view.latest.status)
            view.latest.status = "submitted"
            view.article.updated_at = utcnow()
            session.add_all([view.latest, view.article])
            await session.flush()
            return view

    async def review_article(
        self, principal: Principal, article_id: str, decision: str, comment: str
    ) -> ArticleView:
        """Approve (publish, recording reviewer and time, event article.published) or reject the submitted
        version. Conflict unless the latest version is submitted."""
        async with self.db.transaction() as session:
            view = await self._article_view(session, article_id, lock=True)
            comment = domain.check_review(
                view.latest.status, decision, comment, view.latest.author_id, principal.user_id
            )
            now = utcnow()
            latest = view.latest
            latest.reviewer_id, latest.review_comment, latest.reviewed_at = principal.user_id, comment, now
            latest.status = "approved" if decision == "approve" else "rejected"
            view.article.updated_at = now
            if decision == "approve":
                view.article.published_version = latest.version
                view.article.published_at = now
                await self.outbox.add(
                    session,
                    "article.published",
                    events_pb2.ArticlePublished(article_id=article_id, version=latest.version),
                    aggregate_id=article_id,
                    actor_id=principal.user_id,
                )
            session.add_all([latest, view.article])
            await session.flush()
            return await self._article_view(session, article_id)

    async def list_published_articles(
        self, kind: str, query: str, limit: int, cursor: str
    ) -> tuple[list[ArticleView], str]:
        """Published articles (their approved version), newest first or by relevance to `query`. Drafts,
        submitted and rejected versions are never matched: the join is on the published version."""
        statement = (
            select(ArticleRow, ArticleVersionRow)
            .join(
                ArticleVersionRow,
                and_(
                    col(ArticleVersionRow.article_id) == col(ArticleRow.id),
                    col(ArticleVersionRow.version) == col(ArticleRow.published_version),
                ),
            )
            .where(ArticleVersionRow.status == "approved")
        )
        if kind:
            statement = statement.where(ArticleRow.kind == kind)
        if query:
            found = _Search(
                query,
                _vector(ArticleVersionRow),
                [col(ArticleVersionRow.title)],
                [col(ArticleVersionRow.body)],
            )
            statement = statement.where(found.condition).order_by(found.rank.desc(), col(ArticleRow.id))
        else:
            statement = statement.order_by(col(ArticleRow.published_at).desc(), col(ArticleRow.id))
        pairs, next_cursor = await self._ranked(statement, limit, cursor)
        return [ArticleView(article, version, version) for article, version in pairs], next_cursor

    async def list_articles_by_status(
        self, status: str, kind: str, limit: int, cursor: str
    ) -> tuple[list[ArticleView], str]:
        """Staff view: articles whose latest version has `status` (a reviewer's queue is "submitted")."""
        statement = (
            select(ArticleRow, ArticleVersionRow)
            .join(
                ArticleVersionRow,
                and_(
                    col(ArticleVersionRow.article_id) == col(ArticleRow.id),
                    col(ArticleVersionRow.version) == col(ArticleRow.latest_version),
                ),
            )
            .where(ArticleVersionRow.status == status)
            .order_by(col(ArticleRow.updated_at), col(ArticleRow.id))
        )
        if kind:
            statement = statement.where(ArticleRow.kind == kind)
        pairs, next_cursor = await self._ranked(statement, limit, cursor)
        views = []
        async with self.db.transaction() as session:
            for article, _ in pairs:
                views.append(await self._article_view(session, article.id))
        return views, next_cursor

    async def get_published_article(self, article_id: str) -> ArticleView:
        async with self.db.transaction() as session:
            view = await self._article_view(session, article_id)
        if view.published is None:
            raise NotFound("no such article")  # drafts are not public
        return ArticleView(view.article, view.published, view.published)

    async def upsert_article(self, article: ArticleRow, versions: list[ArticleVersionRow]) -> None:
        """Seed path: an article with its versions (their search text computed here), added only when it
        is missing, so re-seeding never undoes the versions editors and reviewers made since."""
        async with self.db.transaction() as session:
            if await session.get(ArticleRow, article.id) is not None:
                return
            session.add(article)
            await session.flush()
            for version in versions:
                version.search_title = search.segment(version.title)
                version.search_body = search.segment(version.body)
                session.add(version)

    # --- reviews and ratings (R-Q-1) ------------------------------------------------------------------

    async def record_order_event(
        self,
        session: AsyncSession,
        order_id: str,
        event: str,
        *,
        client_id: str = "",
        tenant_id: str = "",
        product_id: str = "",
        consultation_id: str = "",
        lawyer_id: str = "",
    ) -> None:
        """Fold one payment/fulfilment fact into the order's record, inside the consumer's transaction.
        `event` is created|paid|completed|cancelled|refunded, or "" for a fact that changes no status."""
        row = await session.get(OrderRecordRow, order_id, with_for_update=True)
        if row is None:
            row = OrderRecordRow(order_id=order_id, updated_at=utcnow())
        if event:
            row.status = domain.next_order_status(row.status, event)
        row.client_id = client_id or row.client_id
        row.tenant_id = tenant_id or row.tenant_id
        row.product_id = product_id or row.product_id
        row.consultation_id = consultation_id or row.consultation_id
        row.lawyer_id = lawyer_id or row.lawyer_id
        row.updated_at = utcnow()
        session.add(row)
        await session.flush()

    @staticmethod
    async def order_of_consultation(session: AsyncSession, consultation_id: str) -> str:
        """The order a consultation fulfils, "" when it was not bought (a general question)."""
        statement = select(OrderRecordRow.order_id).where(OrderRecordRow.consultation_id == consultation_id)
        return (await session.exec(statement)).first() or ""

    @staticmethod
    async def lawyer_profile_id(session: AsyncSession, lawyer: str) -> str:
        """The profile id of a lawyer named by profile id or by identity user id ("" when unknown)."""
        statement = select(LawyerRow.id).where(
            or_(col(LawyerRow.id) == lawyer, col(LawyerRow.user_id) == lawyer)
        )
        return (await session.exec(statement)).first() or ""

    async def create_review(
        self, principal: Principal, order_id: str, rating: int, comment: str
    ) -> ReviewRow:
        """One review per completed order, by the client who bought it; updates the product's, the
        lawyer's and the firm's averages and publishes review.added in the same transaction. Sending the
        same review again returns it; a different second review is Conflict."""
        async with self.db.transaction() as session:
            order = await session.get(OrderRecordRow, order_id, with_for_update=True) if order_id else None
            if order is None or order.client_id != principal.user_id:
                raise NotFound("no such order")  # never reveal another client's orders
            existing = (await session.exec(select(ReviewRow).where(ReviewRow.order_id == order_id))).first()
            if existing is not None:
                if (existing.rating, existing.comment) == (rating, comment):
                    return existing
                raise Conflict("this order has been reviewed already", reason="already_reviewed")
            domain.check_reviewable(order.status)
            lawyer = await session.get(LawyerRow, order.lawyer_id) if order.lawyer_id else None
            review = ReviewRow(
                id=new_id(),
                order_id=order_id,
                product_id=order.product_id,
                lawyer_id=lawyer.id if lawyer else "",
                firm_id=lawyer.firm_id if lawyer else "",
                client_id=principal.user_id,
                tenant_id=principal.tenant_id,
                rating=rating,
                comment=comment,
                created_at=utcnow(),
            )
            session.add(review)
            await session.flush()
            for model, key in [
                (ProductRow, review.product_id),
                (LawyerRow, review.lawyer_id),
                (FirmRow, review.firm_id),
            ]:
                if key:
                    await self._add_rating(session, model, key, rating)
            await self.outbox.add(
                session,
                "review.added",
                events_pb2.ReviewAdded(
                    review_id=review.id,
                    order_id=order_id,
                    rating=rating,
                    product_id=review.product_id,
                    lawyer_id=review.lawyer_id,
                ),
                aggregate_id=review.id,
                tenant_id=principal.tenant_id,
                actor_id=principal.user_id,
            )
            return review

    @staticmethod
    async def _add_rating(session: AsyncSession, model: Any, key: str, rating: int) -> None:
        # One UPDATE: both SET expressions read the old values, so concurrent reviews never lose a count.
        table = model.__table__
        await session.execute(
            update(table)
            .where(table.c.id == key)
            .values(
                rating_average=(table.c.rating_average * table.c.rating_count + rating)
                / (table.c.rating_count + 1),
                rating_count=table.c.rating_count + 1,
            )
        )

    # --- browsing events (R-ACC-3) --------------------------------------------------------------------

    async def record_view(self, principal: Principal, kind: str, item_id: str) -> None:
        """Publish `<kind>.viewed` for a signed-in user's page view (identity's activity record, analytics)."""
        async with self.db.transaction() as session:
            await self.outbox.add(
                session,
                f"{kind}.viewed",
                events_pb2.ItemViewed(kind=kind, item_id=item_id, user_id=principal.user_id),
                aggregate_id=item_id,
                tenant_id=principal.tenant_id,
                actor_id=principal.user_id,
            )
