"""Document orders nobody was assigned — no eligible lawyer had passed their legal field (README, "Nobody has
passed the field") — for agents and supervisors: each with why it waits, and a form assigning it to a lawyer,
those who practise the order's field first. A lawyer who has not passed the field takes it only with an
override reason; the API decides, and its refusals are shown beside the field they concern."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.labels import LABELS
from services.portal.pages.staff import documents_in_stage
from services.portal.session import Session
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter(dependencies=[require_role("agent", "supervisor")])

# The stages in which the API lets an agent assign an order: before its first draft.
ASSIGNABLE_STAGES = ("awaiting_acknowledgement", "drafting")


async def _unassigned(session: Session, gateway: Gateway) -> list[dict[str, Any]]:
    stages = await asyncio.gather(*(documents_in_stage(session, gateway, s) for s in ASSIGNABLE_STAGES))
    return [order for orders in stages for order in orders if not order["assigned_lawyer_id"]]


@router.get("/work/assignments", response_class=HTMLResponse)
async def unassigned(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """The document orders waiting for an agent to assign them, soonest due first within each stage."""
    return render(request, "assignments.html", orders=await _unassigned(session, gateway))


async def _assign_page(
    request: Request,
    session: Session,
    gateway: Gateway,
    document_order_id: str,
    error: GatewayError | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    order = await gateway.call(session, "GET", "/api/v1/document-orders/{id}", path={"id": document_order_id})
    everyone = _lawyers(session, gateway)
    if not order["assigned_lawyer_id"]:
        in_field, others = await asyncio.gather(_lawyers(session, gateway, order["legal_field"]), everyone)
    else:
        in_field, others = [], await everyone
    of_field = {lawyer["user_id"] for lawyer in in_field}
    errors = dict(error.errors) if error else {}
    if error and error.status == 409:  # about the order or the lawyer: said beside the choice of lawyer
        refusal = f"assignment_{error.reason}"
        errors["lawyer_id"] = refusal if refusal in LABELS else error.detail
    return render(
        request,
        "assign.html",
        error.status if error else 200,
        doc=order,
        in_field=in_field,
        others=[lawyer for lawyer in others if lawyer["user_id"] not in of_field],
        error=error,
        errors=errors,
        values=values or {},
    )


async def _lawyers(session: Session, gateway: Gateway, field: str = "") -> list[dict[str, Any]]:
    """Lawyers taking new work, of `field` when given, with an account (the documents service knows a lawyer
    by their user id)."""
    params: dict[str, Any] = {"limit": 100} | ({"field": field} if field else {})
    page = await gateway.call(session, "GET", "/api/v1/lawyers", params=params)
    return [lawyer for lawyer in page["items"] if lawyer["user_id"]]


@router.get("/work/assignments/{document_order_id}", response_class=HTMLResponse)
async def assign_form(
    request: Request, document_order_id: str, session: UserDep, gateway: GatewayDep
) -> HTMLResponse:
    return await _assign_page(request, session, gateway, document_order_id)


@router.post("/work/assignments/{document_order_id}", response_class=HTMLResponse)
async def assign(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Assigns the order and shows it; the API's refusal (422 naming `lawyer_id` or `override_reason`, 409
    `already_assigned`, `not_assignable`) is shown on the form with what was typed."""
    values = {
        "lawyer_id": form_text(form, "lawyer_id"),
        "override_reason": form_text(form, "override_reason"),
    }
    try:
        await gateway.call(
            session,
            "POST",
            "/api/v1/document-orders/{id}/assignment",
            path={"id": document_order_id},
            json=values,
        )
    except GatewayError as exc:
        return await _assign_page(request, session, gateway, document_order_id, exc, values)
    return redirect(f"/documents/{document_order_id}")
