"""Products behind the public pages (§6.1.3.2, §9.5): an editor submits the product versions they drafted
through the API, a reviewer other than the author approves or rejects the submitted ones. Only an approved
version is public; the API refuses a reviewer reviewing their own version."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter()

# What each role works on: an editor their drafts and the rejected ones, a reviewer the submitted ones.
STATUSES = {"editor": ("draft", "rejected", "submitted"), "reviewer": ("submitted",)}


@router.get("/work/products", response_class=HTMLResponse, dependencies=[require_role("editor", "reviewer")])
async def product_versions(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _versions(request, session, gateway)


async def _versions(
    request: Request, session: Session, gateway: Gateway, error: GatewayError | None = None
) -> HTMLResponse:
    statuses = sorted({s for role, wanted in STATUSES.items() if session.has_role(role) for s in wanted})
    pages = await asyncio.gather(
        *(
            gateway.call(session, "GET", "/api/v1/product-versions", params={"status": s, "limit": 100})
            for s in statuses
        )
    )
    by_status = {status: page["items"] for status, page in zip(statuses, pages, strict=True)}
    return render(
        request, "work_products.html", error.status if error else 200, by_status=by_status, error=error
    )


async def _act(
    request: Request,
    session: Session,
    gateway: Gateway,
    template: str,
    product_id: str,
    body: dict[str, str] | None = None,
) -> Response:
    try:
        await gateway.call(session, "POST", template, path={"id": product_id}, json=body)
    except GatewayError as exc:
        return await _versions(request, session, gateway, exc)
    return redirect("/work/products")


@router.post(
    "/work/products/{product_id}/submit", response_class=HTMLResponse, dependencies=[require_role("editor")]
)
async def submit(
    request: Request, product_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    return await _act(request, session, gateway, "/api/v1/products/{id}/submit", product_id)


@router.post(
    "/work/products/{product_id}/review", response_class=HTMLResponse, dependencies=[require_role("reviewer")]
)
async def review(
    request: Request, product_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    fields = {"decision": form_text(form, "decision"), "comment": form_text(form, "comment")}
    return await _act(request, session, gateway, "/api/v1/products/{id}/review", product_id, fields)
