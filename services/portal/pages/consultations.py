"""Consultations: a client asks (and follows up, rates, closes); the assigned lawyer and agents reply. The
lawyer's queue (staff.py) links here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.legal_fields import LEGAL_FIELDS
from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    ResourcePage,
    UserDep,
    form_text,
    rating_of,
    redirect,
    render,
)

router = APIRouter()


async def _staff_tools(session: Session, gateway: Gateway, item: dict[str, Any]) -> dict[str, Any]:
    """An agent classifies by hand and bridges a phone consultation to a lawyer: the fields and lawyers. A call
    names the lawyer by their account (`user_id`, as a consultation's assigned lawyer), not the profile's id."""
    if not session.has_role("agent") or item["status"] == "closed":
        return {"fields": (), "lawyers": []}
    lawyers = (
        await gateway.call(
            session,
            "GET",
            "/api/v1/lawyers",
            params={"limit": 100, "field": item["legal_field"] or ""},
            signed_in=False,
        )
        if item["kind"] == "phone"
        else {"items": []}
    )
    return {"fields": LEGAL_FIELDS, "lawyers": lawyers["items"]}


PAGE = ResourcePage(
    "/api/v1/consultations/{id}", "/consultations/{id}", "consultation.html", "c", _staff_tools
)


@router.get("/my/consultations", response_class=HTMLResponse)
async def my_consultations(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/consultations", params={"limit": 50})
    return render(request, "consultations.html", consultations=page["items"], values={}, error=None)


@router.post("/my/consultations", response_class=HTMLResponse)
async def ask(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    values = {name: str(form.get(name) or "").strip() for name in ("subject", "question")}
    try:
        created = await gateway.call(
            session, "POST", "/api/v1/consultations", json={"kind": "general", **values}
        )
    except GatewayError as exc:
        page = await gateway.call(session, "GET", "/api/v1/consultations", params={"limit": 50})
        return render(
            request, "consultations.html", exc.status, consultations=page["items"], values=values, error=exc
        )
    return redirect(f"/consultations/{created['id']}")


@router.get("/consultations/{consultation_id}", response_class=HTMLResponse)
async def consultation(request: Request, consultation_id: str, session: UserDep) -> HTMLResponse:
    return await PAGE.show(request, session, consultation_id)


@router.post("/consultations/{consultation_id}/messages", response_class=HTMLResponse)
async def post_message(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"body": str(form.get("body") or "")}
    return await PAGE.act(request, session, consultation_id, "/messages", json=body)


@router.post("/consultations/{consultation_id}/rating", response_class=HTMLResponse)
async def rate(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"rating": rating_of(form), "comment": str(form.get("comment") or "")}
    return await PAGE.act(request, session, consultation_id, "/rating", json=body)


@router.post("/consultations/{consultation_id}/close", response_class=HTMLResponse)
async def close(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    return await PAGE.act(request, session, consultation_id, "/close", json={"reason": "resolved"})


@router.post("/consultations/{consultation_id}/classification", response_class=HTMLResponse)
async def classify(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"legal_field": form_text(form, "legal_field")}
    return await PAGE.act(request, session, consultation_id, "/classification", json=body)


@router.post("/consultations/{consultation_id}/calls", response_class=HTMLResponse)
async def bridge(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"lawyer_id": form_text(form, "lawyer_id")}
    return await PAGE.act(request, session, consultation_id, "/calls", json=body)


@router.post("/consultations/{consultation_id}/calls/{call_id}/end", response_class=HTMLResponse)
async def end_call(
    request: Request, consultation_id: str, call_id: str, form: FormDep, session: UserDep
) -> Response:
    body = {"outcome": form_text(form, "outcome")}
    return await PAGE.act(request, session, consultation_id, f"/calls/{call_id}/end", json=body)


@router.post("/consultations/{consultation_id}/major", response_class=HTMLResponse)
async def escalate_major(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"reason": form_text(form, "reason")}
    return await PAGE.act(request, session, consultation_id, "/major", json=body)


@router.post("/consultations/{consultation_id}/conclusion", response_class=HTMLResponse)
async def write_conclusion(
    request: Request, consultation_id: str, form: FormDep, session: UserDep
) -> Response:
    body = {"body": form_text(form, "conclusion")}
    return await PAGE.act(request, session, consultation_id, "/conclusion", json=body)


@router.post("/consultations/{consultation_id}/conclusion/sign", response_class=HTMLResponse)
async def sign_conclusion(
    request: Request, consultation_id: str, form: FormDep, session: UserDep
) -> Response:
    return await PAGE.act(request, session, consultation_id, "/conclusion/sign", json={})
