"""Editorial columns (§4.2.2): the columns articles appear in, ordered for a reader's industry, and each
column's calendar of planned issues, an issue being published once the article meant for it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select

from services.catalog import editorial
from services.catalog.models import ArticleRow, ColumnIssueRow, ColumnRow
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.records import new_id, utcnow


@dataclass(frozen=True)
class PlannedIssue:
    issue: ColumnIssueRow
    published: bool


class Columns:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_columns(self, industry: str) -> list[ColumnRow]:
        """Every column: those aimed at `industry` first, then those for every industry, then the rest."""
        async with self.db.read() as session:
            rows = list((await session.exec(select(ColumnRow).order_by(col(ColumnRow.id)))).all())
        return sorted(rows, key=lambda row: editorial.industry_rank(row.industries, industry))

    async def get_column(self, column_id: str) -> ColumnRow:
        async with self.db.read() as session:
            row = await session.get(ColumnRow, column_id) if column_id else None
        if row is None:
            raise NotFound("no such column")
        return row

    async def plan_issue(
        self, principal: Principal, column_id: str, planned_for: date, title: str, article_id: str
    ) -> PlannedIssue:
        """Put an issue on the column's calendar; its article, when named, must be of the column."""
        async with self.db.transaction() as session:
            if await session.get(ColumnRow, column_id) is None:
                raise NotFound("no such column")
            article = await session.get(ArticleRow, article_id) if article_id else None
            if article_id and (article is None or article.column_id != column_id):
                raise InvalidArgument.for_field("article_id", "is not an article of this column")
            issue = ColumnIssueRow(
                id=new_id(),
                column_id=column_id,
                planned_for=planned_for,
                title=title,
                article_id=article_id,
                planned_by=principal.user_id,
                created_at=utcnow(),
            )
            session.add(issue)
            await session.flush()
            return PlannedIssue(issue, article is not None and article.published_version is not None)

    async def list_issues(self, column_id: str, first: date, last: date) -> list[PlannedIssue]:
        """The column's planned issues from `first` to `last`, earliest first, each published or not."""
        statement = (
            select(ColumnIssueRow, ArticleRow)
            .join(ArticleRow, col(ArticleRow.id) == col(ColumnIssueRow.article_id), isouter=True)
            .where(ColumnIssueRow.column_id == column_id)
            .where(col(ColumnIssueRow.planned_for) >= first, col(ColumnIssueRow.planned_for) <= last)
            .order_by(col(ColumnIssueRow.planned_for), col(ColumnIssueRow.created_at))
        )
        async with self.db.read() as session:
            if await session.get(ColumnRow, column_id) is None:
                raise NotFound("no such column")
            pairs = (await session.exec(statement)).all()
        return [
            PlannedIssue(issue, article is not None and article.published_version is not None)
            for issue, article in pairs
        ]

    async def upsert_column(self, row: ColumnRow) -> None:
        """Seed path: a column, merged (its id fixed)."""
        async with self.db.transaction() as session:
            await session.merge(row)

    async def upsert_issue(self, row: ColumnIssueRow) -> None:
        """Seed path: a planned issue, merged (its id fixed)."""
        async with self.db.transaction() as session:
            await session.merge(row)
