"""Articles: editors draft and submit, reviewers approve or reject (R-INFO-3, §9.5); anyone reads what is
published. The catalog service checks roles again and never serves an unapproved version publicly."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request, Response, status
from pydantic import BeforeValidator

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.gateway.caching import cached, conditional, invalidate_public_reads
from services.gateway.deps import ClientsDep, OptionalPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.catalog import Lawyer, Product
from services.gateway.schemas.common import ArticleKind, next_cursor
from services.gateway.schemas.content import (
    Article,
    ArticlePage,
    Column,
    ColumnCalendar,
    ColumnIssue,
    ColumnList,
    CreateArticle,
    EditArticle,
    PlanIssue,
    ReviewArticle,
    SearchResults,
)

router = api_router("content")

Editor = Depends(require_roles("editor"))
Reviewer = Depends(require_roles("reviewer"))
# Lawyers write risk alerts and annotated contract templates (§4.2.1); the catalog checks the column and
# that a lawyer edits only their own.
Author = Depends(require_roles("editor", "lawyer"))


def _blank_to_none(value: object) -> object:
    return None if value == "" else value


@router.post(
    "/api/v1/articles", response_model=Article, status_code=status.HTTP_201_CREATED, dependencies=[Author]
)
async def create_article(
    request: Request,
    body: CreateArticle,
    clients: ClientsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Article:
    reply = await clients.catalog.CreateArticle(
        pb.CreateArticleRequest(
            kind=body.kind,
            title=body.title,
            body=body.body,
            idempotency_key=idempotency_key or "",
            column_id=body.column_id or "",
            industries=body.industries,
        )
    )
    invalidate_public_reads(request)
    return Article.from_proto(reply.article)


@router.put("/api/v1/articles/{article_id}", response_model=Article, dependencies=[Author])
async def edit_article(request: Request, article_id: str, body: EditArticle, clients: ClientsDep) -> Article:
    """Edits the draft; editing a published article starts a new version that needs review again."""
    reply = await clients.catalog.UpdateArticle(
        pb.UpdateArticleRequest(article_id=article_id, title=body.title, body=body.body)
    )
    invalidate_public_reads(request)
    return Article.from_proto(reply.article)


@router.post("/api/v1/articles/{article_id}/submit", response_model=Article, dependencies=[Author])
async def submit_article(request: Request, article_id: str, clients: ClientsDep) -> Article:
    reply = await clients.catalog.SubmitArticle(pb.SubmitArticleRequest(article_id=article_id))
    invalidate_public_reads(request)
    return Article.from_proto(reply.article)


@router.post("/api/v1/articles/{article_id}/review", response_model=Article, dependencies=[Reviewer])
async def review_article(
    request: Request, article_id: str, body: ReviewArticle, clients: ClientsDep
) -> Article:
    reply = await clients.catalog.ReviewArticle(
        pb.ReviewArticleRequest(article_id=article_id, decision=body.decision, comment=body.comment)
    )
    invalidate_public_reads(request)
    return Article.from_proto(reply.article)


@router.get("/api/v1/articles", response_model=ArticlePage)
async def list_articles(
    request: Request,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    kind: Annotated[ArticleKind | None, BeforeValidator(_blank_to_none), Query()] = None,
    q: Annotated[str, Query(max_length=100, description="Chinese or English search.")] = "",
    status: Annotated[
        Literal["draft", "submitted", "rejected"] | None,
        BeforeValidator(_blank_to_none),
        Query(description="Editors and reviewers: unpublished articles by their latest version's status."),
    ] = None,
    column: Annotated[str, Query(max_length=100, description="One column's articles.")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.ListArticles(
        pb.ListArticlesRequest(
            kind=kind or "",
            query=q,
            status=status or "",
            column_id=column,
            page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor),
        )
    )
    return conditional(
        request,
        ArticlePage(
            items=[Article.from_proto(a) for a in reply.articles], next_cursor=next_cursor(reply.page)
        ),
    )


@router.get("/api/v1/articles/{article_id}", response_model=Article)
async def get_article(
    request: Request, article_id: str, clients: ClientsDep, _principal: OptionalPrincipal
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.GetArticle(pb.GetArticleRequest(article_id=article_id))
    return conditional(request, Article.from_proto(reply.article))


@router.get("/api/v1/columns", response_model=ColumnList)
async def list_columns(request: Request, clients: ClientsDep, principal: OptionalPrincipal) -> Response:
    """The editorial columns (§4.2.2); a client sees their enterprise's industry's columns first (set by the
    client_admin: PATCH /api/v1/enterprise)."""
    industry = ""
    if principal is not None and principal.is_client:
        me = await clients.identity.GetMe(identity_pb.GetMeRequest())
        industry = me.enterprise.industry
    elif (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.ListColumns(pb.ListColumnsRequest(industry=industry))
    return conditional(request, ColumnList(items=[Column.from_proto(c) for c in reply.columns]))


@router.get(
    "/api/v1/columns/{column_id}/issues",
    response_model=ColumnCalendar,
    dependencies=[Depends(require_roles("editor", "reviewer"))],
)
async def column_calendar(
    column_id: str,
    clients: ClientsDep,
    from_date: Annotated[
        date | None, Query(alias="from", description="First date; today when absent.")
    ] = None,
    to_date: Annotated[
        date | None, Query(alias="to", description="Last date; 90 days on when absent.")
    ] = None,
) -> ColumnCalendar:
    """A column's planned issues, earliest first (at most a year)."""
    reply = await clients.catalog.ListColumnIssues(
        pb.ListColumnIssuesRequest(
            column_id=column_id,
            from_date=from_date.isoformat() if from_date else "",
            to_date=to_date.isoformat() if to_date else "",
        )
    )
    return ColumnCalendar(items=[ColumnIssue.from_proto(i) for i in reply.issues])


@router.post(
    "/api/v1/columns/{column_id}/issues",
    response_model=ColumnIssue,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Editor],
)
async def plan_issue(column_id: str, body: PlanIssue, clients: ClientsDep) -> ColumnIssue:
    """An editor plans an issue of the column on a date; its article, when named, must be of the column."""
    reply = await clients.catalog.PlanColumnIssue(
        pb.PlanColumnIssueRequest(
            column_id=column_id,
            planned_for=body.planned_for.isoformat(),
            title=body.title,
            article_id=body.article_id or "",
        )
    )
    return ColumnIssue.from_proto(reply.issue)


@router.get("/api/v1/search", response_model=SearchResults, tags=["catalog"])
async def search_everything(
    request: Request,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Chinese or English search.")],
    limit: Annotated[int, Query(ge=1, le=20, description="Per kind.")] = 5,
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    """The best matches among published products, active lawyers and published articles at once."""
    page = paging_pb2.PageRequest(limit=limit)
    products, lawyers, articles = await asyncio.gather(
        clients.catalog.ListProducts(pb.ListProductsRequest(query=q, page=page)),
        clients.catalog.ListLawyers(pb.ListLawyersRequest(query=q, page=page)),
        clients.catalog.ListArticles(pb.ListArticlesRequest(query=q, page=page)),
    )
    return conditional(
        request,
        SearchResults(
            products=[Product.from_proto(p) for p in products.products],
            lawyers=[Lawyer.from_proto(x) for x in lawyers.lawyers],
            articles=[Article.from_proto(a) for a in articles.articles],
        ),
    )
