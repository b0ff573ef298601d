"""A firm admin's pages: the firm's public profile, its lawyers (activate, deactivate, weekly hours and
exceptions), its offline membership cards and the service credentials of the firm's own systems."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Unpack

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError, RequestParts
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    UserDep,
    form_file,
    form_lines,
    form_text,
    redirect,
    render,
    require_role,
)

router = APIRouter(dependencies=[require_role("firm_admin")])

# A line of weekly hours, "1 09:00-18:00" (ISO weekday); of an exception, "2026-12-24 休" or "2026-12-24 10:00-12:00".
HOURS_LINE = re.compile(r"^([1-7])\s+(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})$")
EXCEPTION_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(?:(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})|\S+)$")
# The profile fields a firm admin edits on the page; the rest (map position, hours, staff) is kept as it is.
FIRM_FIELDS = ("name", "city", "address", "phone", "description")


@router.get("/firm", response_class=HTMLResponse)
async def own_firm(session: UserDep, gateway: GatewayDep) -> Response:
    """The firm the admin works for (`firm_id` of GET /api/v1/me)."""
    me = await gateway.call(session, "GET", "/api/v1/me")
    if not me.get("firm_id"):
        raise HTTPException(404)
    return redirect(f"/firm/{me['firm_id']}")


@router.get("/firm/{firm_id}", response_class=HTMLResponse)
async def firm(request: Request, firm_id: str, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _firm(request, session, gateway, firm_id)


async def _firm(
    request: Request,
    session: Session,
    gateway: Gateway,
    firm_id: str,
    error: GatewayError | None = None,
    lawyer_id: str = "",
    secret: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The firm's page; `error` is the refusal of the last form, about lawyer `lawyer_id` when it was one of
    a lawyer's (its fields' messages are shown beside that lawyer's fields)."""
    item, lawyers, cards, systems = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/firms/{id}", path={"id": firm_id}),
        gateway.call(session, "GET", "/api/v1/lawyers", params={"firm_id": firm_id, "limit": 100}),
        gateway.call(session, "GET", "/api/v1/membership-cards", params={"limit": 100}),
        gateway.call(session, "GET", "/api/v1/firm/service-clients", params={"limit": 100}),
    )
    return render(
        request,
        "firm_admin.html",
        error.status if error else 200,
        firm=item,
        lawyers=lawyers["items"],
        cards=cards["items"],
        systems=systems["items"],
        error=error,
        errors=error.errors if error else {},
        error_lawyer=lawyer_id,
        secret=secret,
    )


async def _act(
    request: Request,
    session: Session,
    gateway: Gateway,
    firm_id: str,
    method: str,
    template: str,
    **parts: Unpack[RequestParts],
) -> Response:
    try:
        await gateway.call(session, method, template, **parts)
    except GatewayError as exc:
        return await _firm(request, session, gateway, firm_id, exc)
    return redirect(f"/firm/{firm_id}")


@router.post("/firm/{firm_id}", response_class=HTMLResponse)
async def edit_firm(
    request: Request, firm_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    current = await gateway.call(session, "GET", "/api/v1/firms/{id}", path={"id": firm_id})
    body = {
        **{name: form_text(form, name) for name in FIRM_FIELDS},
        "location": current["location"],
        "opening_hours": current["opening_hours"],
        "transit_routes": form_lines(form, "transit_routes"),
        "staff": [{**s, "lawyer_id": s["lawyer_id"] or ""} for s in current["staff"]],
    }
    return await _act(
        request, session, gateway, firm_id, "PUT", "/api/v1/firms/{id}", path={"id": firm_id}, json=body
    )


def profile_of(lawyer: dict[str, Any]) -> dict[str, Any]:
    """A lawyer's profile as PUT /api/v1/lawyers/{id} replaces it, as it is now (a member the API left out,
    such as a licence number not yet given, as empty)."""
    names = (
        "name",
        "specialty",
        "fields",
        "years_of_practice",
        "licence_number",
        "bio",
        "user_id",
        "online",
        "service_hours",
        "service_exceptions",
    )
    return {name: "" if lawyer.get(name) is None else lawyer[name] for name in names}


# Before /firm/{firm_id}/lawyers/{lawyer_id}/{command}, which would take these paths for its own.
@router.post("/firm/{firm_id}/lawyers/{lawyer_id}/credentials", response_class=HTMLResponse)
async def submit_credentials(
    request: Request, firm_id: str, lawyer_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """The lawyer's practising certificate number, its scan and the degree certificate's, the annual
    inspection date and the years of practice (kept on the profile), submitted for verification."""
    scans: dict[str, Any] = {}
    for name in ("practice_certificate", "degree_certificate"):
        scans[name] = await form_file(form, name)
        if scans[name] is None:
            missing = GatewayError(422, {"errors": [{"field": name, "message": "file_missing"}]})
            return await _firm(request, session, gateway, firm_id, missing, lawyer_id)
    try:
        years = int(form_text(form, "years_of_practice"))
    except ValueError:
        invalid = GatewayError(422, {"errors": [{"field": "years_of_practice", "message": "whole_years"}]})
        return await _firm(request, session, gateway, firm_id, invalid, lawyer_id)
    try:
        current = await gateway.call(session, "GET", "/api/v1/lawyers/{id}", path={"id": lawyer_id})
        if current["years_of_practice"] != years:
            await gateway.call(
                session,
                "PUT",
                "/api/v1/lawyers/{id}",
                path={"id": lawyer_id},
                json={**profile_of(current), "years_of_practice": years},
            )
        await gateway.call(
            session,
            "POST",
            "/api/v1/lawyers/{id}/credentials",
            path={"id": lawyer_id},
            files=scans,
            data={
                "certificate_number": form_text(form, "certificate_number"),
                "inspection_due_on": form_text(form, "inspection_due_on"),
            },
        )
    except GatewayError as exc:
        return await _firm(request, session, gateway, firm_id, exc, lawyer_id)
    return redirect(f"/firm/{firm_id}#lawyer-{lawyer_id}")


@router.post("/firm/{firm_id}/lawyers/{lawyer_id}/verify", response_class=HTMLResponse)
async def verify(
    request: Request, firm_id: str, lawyer_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Decides on the lawyer's pending credentials, recording what was checked."""
    body = {"decision": form_text(form, "decision"), "notes": form_text(form, "notes")}
    try:
        await gateway.call(session, "POST", "/api/v1/lawyers/{id}/verify", path={"id": lawyer_id}, json=body)
    except GatewayError as exc:
        return await _firm(request, session, gateway, firm_id, exc, lawyer_id)
    return redirect(f"/firm/{firm_id}#lawyer-{lawyer_id}")


@router.post("/firm/{firm_id}/lawyers/{lawyer_id}/{command}", response_class=HTMLResponse)
async def switch_lawyer(
    request: Request,
    firm_id: str,
    lawyer_id: str,
    command: str,
    form: FormDep,
    session: UserDep,
    gateway: GatewayDep,
) -> Response:
    if command not in ("activate", "deactivate"):
        return redirect(f"/firm/{firm_id}")
    return await _act(
        request, session, gateway, firm_id, "POST", "/api/v1/lawyers/{id}/" + command, path={"id": lawyer_id}
    )


def hours_of(lines: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """Weekly hours and exceptions from the page's lines; None when a line does not read as either."""
    hours: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []
    for line in lines:
        if match := HOURS_LINE.match(line):
            hours.append({"weekday": int(match[1]), "start": match[2], "end": match[3]})
        elif match := EXCEPTION_LINE.match(line):
            opens = match[2] is not None
            exceptions.append(
                {"date": match[1], "available": opens, "start": match[2] or "", "end": match[3] or ""}
            )
        else:
            return None
    return hours, exceptions


@router.post("/firm/{firm_id}/lawyers/{lawyer_id}", response_class=HTMLResponse)
async def lawyer_hours(
    request: Request, firm_id: str, lawyer_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Replaces a lawyer's weekly hours and exceptions (the rest of the profile as it is)."""
    parsed = hours_of(form_lines(form, "hours"))
    if parsed is None:
        invalid = GatewayError(422, {"title": "", "detail": "hours"})
        return await _firm(request, session, gateway, firm_id, invalid)
    current = await gateway.call(session, "GET", "/api/v1/lawyers/{id}", path={"id": lawyer_id})
    body = {**profile_of(current), "service_hours": parsed[0], "service_exceptions": parsed[1]}
    return await _act(
        request, session, gateway, firm_id, "PUT", "/api/v1/lawyers/{id}", path={"id": lawyer_id}, json=body
    )


@router.post("/firm/{firm_id}/cards", response_class=HTMLResponse)
async def issue_card(
    request: Request, firm_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    body = {"card_number": form_text(form, "card_number"), "pin": form_text(form, "pin")}
    return await _act(request, session, gateway, firm_id, "POST", "/api/v1/membership-cards", json=body)


@router.post("/firm/{firm_id}/cards/{card_id}/revoke", response_class=HTMLResponse)
async def revoke_card(
    request: Request, firm_id: str, card_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    return await _act(
        request,
        session,
        gateway,
        firm_id,
        "POST",
        "/api/v1/membership-cards/{id}/revoke",
        path={"id": card_id},
    )


@router.post("/firm/{firm_id}/service-clients", response_class=HTMLResponse)
async def new_credentials(
    request: Request, firm_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> HTMLResponse:
    """Credentials for one of the firm's systems: the secret is shown on this page once."""
    try:
        created = await gateway.call(
            session, "POST", "/api/v1/firm/service-clients", json={"name": form_text(form, "name")}
        )
    except GatewayError as exc:
        return await _firm(request, session, gateway, firm_id, exc)
    return await _firm(request, session, gateway, firm_id, secret=created)


@router.post("/firm/{firm_id}/service-clients/{client_id}/revoke", response_class=HTMLResponse)
async def revoke_credentials(
    request: Request, firm_id: str, client_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    template = "/api/v1/firm/service-clients/{id}/revoke"
    return await _act(request, session, gateway, firm_id, "POST", template, path={"id": client_id})
