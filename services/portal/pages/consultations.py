"""Consultations: a client asks (and follows up, rates, closes); the assigned lawyer and agents reply. The
lawyer's queue (staff.py) links here."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import GatewayError
from services.portal.web import FormDep, GatewayDep, ResourcePage, UserDep, redirect, render

router = APIRouter()

PAGE = ResourcePage("/api/v1/consultations/{id}", "/consultations/{id}", "consultation.html", "c")


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
    try:
        rating = int(str(form.get("rating") or ""))
    except ValueError as exc:
        raise HTTPException(422) from exc
    body = {"rating": rating, "comment": str(form.get("comment") or "")}
    return await PAGE.act(request, session, consultation_id, "/rating", json=body)


@router.post("/consultations/{consultation_id}/close", response_class=HTMLResponse)
async def close(request: Request, consultation_id: str, form: FormDep, session: UserDep) -> Response:
    return await PAGE.act(request, session, consultation_id, "/close", json={"reason": "resolved"})
