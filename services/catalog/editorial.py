"""Editorial rules, free of I/O: articles and products go public through review (§6.1.3.2, §9.5) and articles
belong to columns targeted by industry (§4.2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.catalog.domain import bounded_text
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.tenancy import signed_in
from services.runtime.vocabulary import ArticleKind, ColumnKind, Industry, words

# --- articles (R-INFO-3, §6.1.3.2, §9.5) -------------------------------------------------------------------

ARTICLE_KINDS = words(ArticleKind)
DECISIONS = ("approve", "reject")
EDITABLE = ("draft", "rejected")
VERSION_STATUSES = ("draft", "submitted", "approved", "rejected")
MAX_TITLE = 200
MAX_BODY = 100_000


def validate_article_kind_filter(kind: str) -> str:
    if kind and kind not in ARTICLE_KINDS:
        raise InvalidArgument.for_field("kind", f"must be one of {', '.join(ARTICLE_KINDS)}")
    return kind


def validate_article(kind: str, title: str, body: str) -> tuple[str, str, str]:
    if kind not in ARTICLE_KINDS:
        raise InvalidArgument.for_field("kind", f"must be one of {', '.join(ARTICLE_KINDS)}")
    return (kind, *validate_article_text(title, body))


def validate_article_text(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidArgument.for_field("title", f"is required, at most {MAX_TITLE} characters")
    if not body or len(body) > MAX_BODY:
        raise InvalidArgument.for_field("body", f"is required, at most {MAX_BODY} characters")
    return title, body


def require_reviewer(principal: Principal | None) -> Principal:
    principal = signed_in(principal, "review articles")
    if not principal.has_role("reviewer"):
        raise PermissionDenied("only a reviewer (a lawyer) reviews articles")
    return principal


# Articles and products go public the same way (§6.1.3.2, §9.5): versions an editor drafts and submits and a
# reviewer approves or rejects; `subject` ("article" or "product") names the thing in errors and reasons.


def edit_plan(latest_status: str, subject: str = "article") -> str:
    """What editing does to the latest version: "in_place" for a draft or a rejected version (which becomes a
    draft again), "new_version" for an approved one (the published version stays public until the new one
    is approved); a version under review cannot be edited."""
    if latest_status in EDITABLE:
        return "in_place"
    if latest_status == "approved":
        return "new_version"
    raise Conflict(
        f"the {subject} is under review; wait for the reviewer's decision", reason=f"{subject}_in_review"
    )


def check_submit(latest_status: str, subject: str = "article") -> None:
    if latest_status not in EDITABLE:
        raise Conflict(
            f"only a draft or a rejected version can be submitted (it is {latest_status})",
            reason=f"{subject}_not_draft",
        )


def check_review(
    latest_status: str,
    decision: str,
    comment: str,
    author_id: str,
    reviewer_id: str,
    subject: str = "article",
) -> str:
    """The review's comment, validated; §9.5: a reviewer approves another person's writing, and a
    rejection says why."""
    if decision not in DECISIONS:
        raise InvalidArgument.for_field("decision", "must be approve or reject")
    comment = comment.strip()
    if len(comment) > 4000:
        raise InvalidArgument.for_field("comment", "must be at most 4000 characters")
    if decision == "reject" and not comment:
        raise InvalidArgument.for_field("comment", f"say why the {subject} is rejected")
    if latest_status != "submitted":
        raise Conflict("only a submitted version can be reviewed", reason=f"{subject}_not_submitted")
    if author_id == reviewer_id:
        raise PermissionDenied(f"a reviewer cannot review their own {subject}")
    return comment


def submits(latest_status: str, subject: str = "article") -> bool:
    """Whether submitting the latest version changes it: False when it is submitted already (a repeated
    submit); Conflict unless it is a draft or a rejected version."""
    if latest_status == "submitted":
        return False
    check_submit(latest_status, subject)
    return True


@dataclass(frozen=True)
class ArticleReview:
    """What a reviewer's decision does to the submitted version: its status, the comment kept with it, and
    whether it becomes the published version (`article.published`)."""

    status: str
    comment: str
    publishes: bool


def review_article(
    latest_status: str,
    decision: str,
    comment: str,
    author_id: str,
    reviewer_id: str,
    subject: str = "article",
) -> ArticleReview:
    """The outcome of `decision` (approve|reject) on the latest version, checked by `check_review`."""
    comment = check_review(latest_status, decision, comment, author_id, reviewer_id, subject)
    approved = decision == "approve"
    return ArticleReview("approved" if approved else "rejected", comment, publishes=approved)


# --- editorial columns (§4.2.2) ---------------------------------------------------------------------------

COLUMN_KINDS = words(ColumnKind)
INDUSTRIES = words(Industry)
# Columns whose articles a lawyer may write (§4.2.1: risk alerts and annotated templates), reviewed as any.
LAWYER_COLUMNS = ("risk_alerts", "contract_templates")
MAX_PLAN_DAYS = 366


def validate_industry(industry: str, field: str = "industry") -> str:
    if industry and industry not in INDUSTRIES:
        raise InvalidArgument.for_field(field, f"must be one of {', '.join(INDUSTRIES)}")
    return industry


def validate_industries(industries: list[str]) -> list[str]:
    """Distinct known industries, in the order given (none: the article is for every industry)."""
    for i, industry in enumerate(industries):
        validate_industry(industry, f"industries[{i}]")
    return list(dict.fromkeys(industries))


def require_article_author(principal: Principal | None, column_kind: str) -> Principal:
    """An editor writes any article; a lawyer only in a risk-alert or contract-template column."""
    principal = signed_in(principal, "write articles")
    if principal.has_role("editor"):
        return principal
    if principal.has_role("lawyer") and column_kind in LAWYER_COLUMNS:
        return principal
    raise PermissionDenied(
        "only an editor writes articles; a lawyer writes risk alerts and contract templates"
    )


def require_article_editor(principal: Principal | None) -> Principal:
    """An editor, or a lawyer (who edits and submits only their own articles: `may_edit_article`)."""
    principal = signed_in(principal, "edit articles")
    if not principal.has_role("editor", "lawyer"):
        raise PermissionDenied("only an editor, or the lawyer who wrote it, edits an article")
    return principal


def may_edit_article(principal: Principal, author_id: str) -> bool:
    """Editors edit and submit any article; a lawyer only their own."""
    return principal.has_role("editor") or principal.user_id == author_id


def industry_rank(column_industries: list[str], industry: str) -> int:
    """Where a column stands for a reader of `industry`: aimed at it 0, at every industry 1, at others 2."""
    if industry and industry in column_industries:
        return 0
    return 1 if not column_industries else 2


def validate_issue_title(title: str) -> str:
    return bounded_text(title, "title", MAX_TITLE)


def validate_plan_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument.for_field(field, "must be a date like 2026-12-31") from None


def plan_window(from_date: str, to_date: str, today: date) -> tuple[date, date]:
    """The calendar's dates: from `from_date` (today when empty) to `to_date` (90 days on when empty), at
    most a year."""
    first = validate_plan_date(from_date, "from_date") if from_date else today
    last = validate_plan_date(to_date, "to_date") if to_date else date.fromordinal(first.toordinal() + 90)
    if last < first or (last - first).days > MAX_PLAN_DAYS:
        raise InvalidArgument.for_field(
            "to_date", f"must be on or after from_date, at most {MAX_PLAN_DAYS} days on"
        )
    return first, last
