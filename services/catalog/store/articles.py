"""Articles (R-INFO-3, §6.1.3.2, §9.5): an editor drafts and submits versions, a reviewer approves (publishes,
`article.published`) or rejects them; the public reads and searches only approved versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import editorial, search
from services.catalog.models import TABLES, ArticleRow, ArticleVersionRow
from services.catalog.store.base import TextSearch, ranked, vector
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import NotFound, PermissionDenied
from services.runtime.events import Outbox
from services.runtime.records import claim_idempotency_key, new_id, request_fingerprint, utcnow


@dataclass
class ArticleView:
    article: ArticleRow
    published: ArticleVersionRow | None
    latest: ArticleVersionRow


def _draft(
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


async def _article_view(session: AsyncSession, article_id: str, *, lock: bool = False) -> ArticleView:
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


async def _editable(session: AsyncSession, principal: Principal, article_id: str) -> ArticleView:
    """The article, locked, when `principal` may edit it (an editor any, a lawyer their own); else
    PermissionDenied."""
    view = await _article_view(session, article_id, lock=True)
    if not editorial.may_edit_article(principal, view.article.author_id):
        raise PermissionDenied("a lawyer edits and submits only their own articles")
    return view


class Articles:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create_article(
        self,
        principal: Principal,
        kind: str,
        title: str,
        body: str,
        idempotency_key: str,
        column_id: str = "",
        industries: tuple[str, ...] = (),
    ) -> ArticleView:
        """Version 1, a draft, in column `column_id` (checked by the caller) aimed at `industries`."""
        article_id = new_id()
        async with self.db.transaction() as session:
            if idempotency_key:
                existing = await claim_idempotency_key(
                    session,
                    TABLES,
                    f"article:{principal.user_id}",
                    idempotency_key,
                    request_fingerprint(kind, title, body, column_id, list(industries)),
                    article_id,
                )
                if existing is not None:
                    return await _article_view(session, existing)
            now = utcnow()
            session.add(
                ArticleRow(
                    id=article_id,
                    kind=kind,
                    author_id=principal.user_id,
                    column_id=column_id,
                    industries=list(industries),
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            session.add(_draft(article_id, 1, title, body, principal.user_id, now))
            await session.flush()
            return await _article_view(session, article_id)

    async def update_article(
        self, principal: Principal, article_id: str, title: str, body: str
    ) -> ArticleView:
        """Edit the latest version in place (draft or rejected → draft) or, when it is published, start a
        new draft version; the published version stays public until the new one is approved."""
        async with self.db.transaction() as session:
            view = await _editable(session, principal, article_id)
            now = utcnow()
            if editorial.edit_plan(view.latest.status) == "in_place":
                latest = view.latest
                latest.title, latest.body, latest.status = title, body, "draft"
                latest.author_id = principal.user_id
                latest.search_title, latest.search_body = search.segment(title), search.segment(body)
                latest.reviewer_id, latest.review_comment, latest.reviewed_at = "", "", None
                session.add(latest)
            else:
                view.article.latest_version += 1
                session.add(
                    _draft(article_id, view.article.latest_version, title, body, principal.user_id, now)
                )
            view.article.updated_at = now
            session.add(view.article)
            await session.flush()
            return await _article_view(session, article_id)

    async def submit_article(self, principal: Principal, article_id: str) -> ArticleView:
        async with self.db.transaction() as session:
            view = await _editable(session, principal, article_id)
            if not editorial.submits(view.latest.status):
                return view
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
            view = await _article_view(session, article_id, lock=True)
            latest = view.latest
            review = editorial.review_article(
                latest.status, decision, comment, latest.author_id, principal.user_id
            )
            now = utcnow()
            latest.reviewer_id, latest.review_comment, latest.reviewed_at = (
                principal.user_id,
                review.comment,
                now,
            )
            latest.status = review.status
            view.article.updated_at = now
            if review.publishes:
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
            return await _article_view(session, article_id)

    async def list_published_articles(
        self, kind: str, query: str, limit: int, cursor: str, column_id: str = ""
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
        if column_id:
            statement = statement.where(ArticleRow.column_id == column_id)
        if query:
            found = TextSearch(
                query,
                vector(ArticleVersionRow),
                [col(ArticleVersionRow.title)],
                [col(ArticleVersionRow.body)],
            )
            statement = statement.where(found.condition).order_by(found.rank.desc(), col(ArticleRow.id))
        else:
            statement = statement.order_by(col(ArticleRow.published_at).desc(), col(ArticleRow.id))
        pairs, next_cursor = await ranked(self.db, statement, limit, cursor)
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
        pairs, next_cursor = await ranked(self.db, statement, limit, cursor)
        views = []
        async with self.db.transaction() as session:
            for article, _ in pairs:
                views.append(await _article_view(session, article.id))
        return views, next_cursor

    async def get_published_article(self, article_id: str) -> ArticleView:
        async with self.db.transaction() as session:
            view = await _article_view(session, article_id)
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
