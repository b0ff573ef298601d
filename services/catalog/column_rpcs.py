"""CatalogService's editorial-column RPCs (§4.2.2), part of CatalogServicer: the columns in the order a
reader's industry puts them, and each column's calendar of planned issues."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import grpc

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.catalog import domain, editorial
from services.catalog.store import CatalogStores
from services.catalog.store.columns import PlannedIssue
from services.runtime.context import current_principal
from services.runtime.errors import PermissionDenied
from services.runtime.records import utcnow
from services.runtime.tenancy import signed_in

BEIJING = ZoneInfo("Asia/Shanghai")


class ColumnRpcs:
    stores: CatalogStores

    async def ListColumns(
        self, request: pb.ListColumnsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListColumnsResponse:
        industry = editorial.validate_industry(request.industry)
        rows = await self.stores.columns.list_columns(industry)
        return pb.ListColumnsResponse(
            columns=[
                pb.Column(
                    id=row.id,
                    kind=row.kind,
                    name=row.name,
                    description=row.description,
                    industries=row.industries,
                    for_your_industry=editorial.industry_rank(row.industries, industry) == 0,
                )
                for row in rows
            ]
        )

    async def PlanColumnIssue(
        self, request: pb.PlanColumnIssueRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlanColumnIssueResponse:
        principal = domain.require_role(current_principal(), "editor", "plan a column's issues")
        planned_for = editorial.validate_plan_date(request.planned_for, "planned_for")
        title = editorial.validate_issue_title(request.title)
        planned = await self.stores.columns.plan_issue(
            principal, request.column_id, planned_for, title, request.article_id
        )
        return pb.PlanColumnIssueResponse(issue=_issue_proto(planned))

    async def ListColumnIssues(
        self, request: pb.ListColumnIssuesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListColumnIssuesResponse:
        principal = signed_in(current_principal(), "read a column's calendar")
        if not principal.has_role("editor", "reviewer"):
            raise PermissionDenied("only editors and reviewers read a column's calendar")
        first, last = editorial.plan_window(request.from_date, request.to_date, beijing_today())
        issues = await self.stores.columns.list_issues(request.column_id, first, last)
        return pb.ListColumnIssuesResponse(issues=[_issue_proto(planned) for planned in issues])


def beijing_today() -> date:
    return utcnow().astimezone(BEIJING).date()


def _issue_proto(planned: PlannedIssue) -> pb.ColumnIssue:
    issue = planned.issue
    return pb.ColumnIssue(
        id=issue.id,
        column_id=issue.column_id,
        planned_for=issue.planned_for.isoformat(),
        title=issue.title,
        article_id=issue.article_id,
        status="published" if planned.published else "planned",
        planned_by=issue.planned_by,
    )
