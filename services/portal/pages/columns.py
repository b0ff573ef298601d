"""Editorial columns (§4.2.2): anyone reads the columns (a signed-in client's industry's first) and a column's
articles; editors and reviewers see a column's calendar of planned issues, and editors plan issues on it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    SessionDep,
    UserDep,
    form_text,
    redirect,
    render,
    require_role,
)

router = APIRouter()

CALENDAR_ROLES = ("editor", "reviewer")


async def _columns(session: Session, gateway: Gateway) -> list[dict[str, Any]]:
    """The columns as the API orders them: with a login, the client's industry's first."""
    if session.signed_in:
        await gateway.fresh(session)
    page = await gateway.call(session, "GET", "/api/v1/columns", signed_in=session.signed_in)
    items: list[dict[str, Any]] = page["items"]
    return items


@router.get("/columns", response_class=HTMLResponse)
async def columns(request: Request, session: SessionDep, gateway: GatewayDep) -> HTMLResponse:
    return render(request, "columns.html", columns=await _columns(session, gateway))


@router.get("/columns/{column_id}", response_class=HTMLResponse)
async def column(request: Request, column_id: str, session: SessionDep, gateway: GatewayDep) -> HTMLResponse:
    return await _column(request, session, gateway, column_id)


async def _column(
    request: Request,
    session: Session,
    gateway: Gateway,
    column_id: str,
    error: GatewayError | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    listed, articles = await asyncio.gather(
        _columns(session, gateway),
        gateway.call(
            session, "GET", "/api/v1/articles", params={"column": column_id, "limit": 50}, signed_in=False
        ),
    )
    found = next((c for c in listed if c["id"] == column_id), None)
    if found is None:
        raise HTTPException(404)
    calendar = (
        await gateway.call(session, "GET", "/api/v1/columns/{id}/issues", path={"id": column_id})
        if session.has_role(*CALENDAR_ROLES)
        else None
    )
    return render(
        request,
        "column.html",
        error.status if error else 200,
        column=found,
        articles=articles["items"],
        calendar=calendar["items"] if calendar else None,
        error=error,
        errors=error.errors if error else {},
        values=values or {},
    )


@router.post(
    "/columns/{column_id}/issues", response_class=HTMLResponse, dependencies=[require_role("editor")]
)
async def plan_issue(
    request: Request, column_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Plans an issue of the column on a date (its article optional); refusals shown by their field."""
    values = {name: form_text(form, name) for name in ("planned_for", "title", "article_id")}
    body = {**values, "article_id": values["article_id"] or None}
    try:
        await gateway.call(session, "POST", "/api/v1/columns/{id}/issues", path={"id": column_id}, json=body)
    except GatewayError as exc:
        return await _column(request, session, gateway, column_id, exc, values)
    return redirect(f"/columns/{column_id}")
