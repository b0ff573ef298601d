"""Articles behind the public pages: an editor drafts and submits them; a reviewer other than the
author approves or rejects the submitted ones (the API refuses a reviewer reviewing their own)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter()

Editor = require_role("editor")
Reviewer = require_role("reviewer")
KINDS = ("news", "case", "contract_template")
# What each role works on: an editor their drafts and the rejected ones, a reviewer the submitted ones.
STATUSES = {"editor": ("draft", "rejected", "submitted"), "reviewer": ("submitted",)}


@router.get("/work/articles", response_class=HTMLResponse, dependencies=[require_role("editor", "reviewer")])
async def articles(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _articles(request, session, gateway)


async def _articles(
    request: Request, session: Session, gateway: Gateway, error: GatewayError | None = None
) -> HTMLResponse:
    statuses = sorted({s for role, wanted in STATUSES.items() if session.has_role(role) for s in wanted})
    pages = await asyncio.gather(
        *(
            gateway.call(session, "GET", "/api/v1/articles", params={"status": s, "limit": 100})
            for s in statuses
        )
    )
    by_status = {status: page["items"] for status, page in zip(statuses, pages, strict=True)}
    return render(
        request,
        "work_articles.html",
        error.status if error else 200,
        by_status=by_status,
        kinds=KINDS,
        error=error,
    )


async def _act(
    request: Request,
    session: Session,
    gateway: Gateway,
    method: str,
    template: str,
    article_id: str,
    body: dict[str, str] | None = None,
) -> Response:
    try:
        await gateway.call(session, method, template, path={"id": article_id}, json=body)
    except GatewayError as exc:
        return await _articles(request, session, gateway, exc)
    return redirect("/work/articles")


@router.post("/work/articles", response_class=HTMLResponse, dependencies=[Editor])
async def draft(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    body = {name: form_text(form, name) for name in ("kind", "title", "body")}
    try:
        await gateway.call(
            session,
            "POST",
            "/api/v1/articles",
            json=body,
            headers={"Idempotency-Key": form_text(form, "idempotency_key") or uuid.uuid4().hex},
        )
    except GatewayError as exc:
        return await _articles(request, session, gateway, exc)
    return redirect("/work/articles")


@router.post("/work/articles/{article_id}/submit", response_class=HTMLResponse, dependencies=[Editor])
async def submit(
    request: Request, article_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    return await _act(request, session, gateway, "POST", "/api/v1/articles/{id}/submit", article_id)


@router.post("/work/articles/{article_id}/review", response_class=HTMLResponse, dependencies=[Reviewer])
async def review(
    request: Request, article_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    fields = {"decision": form_text(form, "decision"), "comment": form_text(form, "comment")}
    return await _act(request, session, gateway, "POST", "/api/v1/articles/{id}/review", article_id, fields)
