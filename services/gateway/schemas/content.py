"""Articles (legal news, classic cases, annotated contract templates) as the public API shows them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.gateway.schemas.catalog import Lawyer, Product, ReviewDecision
from services.gateway.schemas.common import ArticleKind, Industry, RequestModel, or_none, rfc3339


class CreateArticle(RequestModel):
    kind: ArticleKind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000)
    column_id: str | None = Field(
        default=None,
        max_length=100,
        description="The column it appears in; a lawyer writes only in a risk-alert or contract-template column.",
    )
    industries: list[Industry] = Field(
        default_factory=list, max_length=20, description="The industries it targets; empty for every one."
    )


class EditArticle(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000)


ReviewArticle = ReviewDecision


class ArticleVersion(BaseModel):
    version: int
    status: str = Field(description="draft|submitted|approved|rejected")
    title: str
    body: str
    author_id: str
    reviewer_id: str | None
    review_comment: str | None
    reviewed_at: str | None
    created_at: str | None

    @classmethod
    def from_proto(cls, version: pb.ArticleVersion) -> ArticleVersion:
        return cls(
            version=version.version,
            status=version.status,
            title=version.title,
            body=version.body,
            author_id=version.author_id,
            reviewer_id=or_none(version.reviewer_id),
            review_comment=or_none(version.review_comment),
            reviewed_at=rfc3339(version, "reviewed_at"),
            created_at=rfc3339(version, "created_at"),
        )


class Article(BaseModel):
    """`title`, `body`, `status` and `version` are the newest version's: on public reads that is always the
    published (approved) one; an editor or reviewer sees the version being worked on. `published` is the
    version the public sees, with who reviewed it and when."""

    id: str
    kind: str
    title: str
    body: str
    status: str = Field(description="draft|submitted|approved|rejected")
    version: int
    reviewed_by: str | None = Field(description="The reviewer who approved the published version.")
    published_at: str | None
    published: ArticleVersion | None
    latest: ArticleVersion
    created_at: str | None
    column_id: str | None
    industries: list[str]

    @classmethod
    def from_proto(cls, article: pb.Article) -> Article:
        published = ArticleVersion.from_proto(article.published) if article.HasField("published") else None
        latest = ArticleVersion.from_proto(article.latest)
        return cls(
            id=article.id,
            kind=article.kind,
            title=latest.title,
            body=latest.body,
            status=latest.status,
            version=latest.version,
            reviewed_by=published.reviewer_id if published else None,
            published_at=published.reviewed_at if published else None,
            published=published,
            latest=latest,
            created_at=rfc3339(article, "created_at"),
            column_id=or_none(article.column_id),
            industries=list(article.industries),
        )


class ArticlePage(BaseModel):
    items: list[Article]
    next_cursor: str | None


class SearchResults(BaseModel):
    """GET /api/v1/search: the best matches of each kind, most relevant first."""

    products: list[Product]
    lawyers: list[Lawyer]
    articles: list[Article]


class Column(BaseModel):
    """An editorial column (§4.2.2)."""

    id: str
    kind: str = Field(description="laws_regulations|legal_developments|cases|contract_templates|risk_alerts")
    name: str
    description: str
    industries: list[str] = Field(description="The industries it targets; empty for every one.")
    for_your_industry: bool = Field(description="It targets your enterprise's industry (listed first).")

    @classmethod
    def from_proto(cls, column: pb.Column) -> Column:
        return cls(
            id=column.id,
            kind=column.kind,
            name=column.name,
            description=column.description,
            industries=list(column.industries),
            for_your_industry=column.for_your_industry,
        )


class ColumnList(BaseModel):
    items: list[Column]


class PlanIssue(RequestModel):
    planned_for: date = Field(description="The planned publication date.")
    title: str = Field(min_length=1, max_length=200)
    article_id: str | None = Field(default=None, max_length=100, description="Its article, if written.")


class ColumnIssue(BaseModel):
    """A planned issue on a column's calendar; `published` once its article is."""

    id: str
    column_id: str
    planned_for: str
    title: str
    article_id: str | None
    status: str = Field(description="planned|published")
    planned_by: str

    @classmethod
    def from_proto(cls, issue: pb.ColumnIssue) -> ColumnIssue:
        return cls(
            id=issue.id,
            column_id=issue.column_id,
            planned_for=issue.planned_for,
            title=issue.title,
            article_id=or_none(issue.article_id),
            status=issue.status,
            planned_by=issue.planned_by,
        )


class ColumnCalendar(BaseModel):
    items: list[ColumnIssue]
