"""The platform operator's pages (§4.1.1, §4.1.2): the firms with their agreement's state and end date,
registering a firm's legal entity, recording its signed cooperation agreement and inviting its first admin;
and the verification queue (§4.2.1): every firm's lawyers whose submitted credentials await a decision."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.i18n import normalise_contact
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    UserDep,
    form_file,
    form_text,
    redirect,
    render,
    require_role,
)

router = APIRouter(dependencies=[require_role("operator")])

FIRM_FIELDS = ("name", "credit_code", "registered_capital", "address", "city")


def fen(yuan: str) -> int | None:
    """An amount typed in yuan ("1,000,000" or "1000000.5") in fen; None when it does not read as one."""
    try:
        amount = Decimal(yuan.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    return int(amount * 100) if amount.is_finite() and amount == amount.quantize(Decimal("0.01")) else None


@router.get("/operator/firms", response_class=HTMLResponse)
async def firms(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _firms(request, session, gateway)


async def _firms(
    request: Request,
    session: Session,
    gateway: Gateway,
    error: GatewayError | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/firms", params={"limit": 100})
    return render(
        request,
        "operator_firms.html",
        error.status if error else 200,
        firms=page["items"],
        error=error,
        errors=error.errors if error else {},
        values=values or {},
    )


@router.post("/operator/firms", response_class=HTMLResponse)
async def register_firm(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """Registers the firm's legal entity (pending until its agreement is recorded); the API's refusals are
    shown by the field they name (an invalid unified social credit code by `credit_code`)."""
    values = {name: form_text(form, name) for name in FIRM_FIELDS}
    capital = fen(values["registered_capital"])
    if capital is None:
        invalid = GatewayError(
            422, {"errors": [{"field": "registered_capital", "message": "amount_in_yuan"}]}
        )
        return await _firms(request, session, gateway, invalid, values)
    body: dict[str, Any] = {
        "name": values["name"],
        "credit_code": values["credit_code"].upper(),
        "registered_capital": {"amount": capital, "currency": "CNY"},
        "address": values["address"],
        "city": values["city"],
    }
    try:
        created = await gateway.call(
            session,
            "POST",
            "/api/v1/firms",
            json=body,
            headers={"Idempotency-Key": form_text(form, "idempotency_key") or uuid.uuid4().hex},
        )
    except GatewayError as exc:
        exc.errors = {name.removeprefix("registered_capital."): m for name, m in exc.errors.items()}
        return await _firms(request, session, gateway, exc, values)
    return redirect(f"/operator/firms/{created['id']}")


@router.get("/operator/firms/{firm_id}", response_class=HTMLResponse)
async def firm(request: Request, firm_id: str, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _firm(request, session, gateway, firm_id)


async def _firm(
    request: Request,
    session: Session,
    gateway: Gateway,
    firm_id: str,
    error: GatewayError | None = None,
    invited: str = "",
) -> HTMLResponse:
    item = await gateway.call(session, "GET", "/api/v1/firms/{id}", path={"id": firm_id})
    return render(
        request,
        "operator_firm.html",
        error.status if error else 200,
        firm=item,
        error=error,
        errors=error.errors if error else {},
        invited=invited,
    )


@router.post("/operator/firms/{firm_id}/agreement", response_class=HTMLResponse)
async def record_agreement(
    request: Request, firm_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Uploads the signed cooperation agreement with its term: the firm becomes active until its end date."""
    agreement = await form_file(form, "file")
    if agreement is None:
        missing = GatewayError(422, {"errors": [{"field": "file", "message": "file_missing"}]})
        return await _firm(request, session, gateway, firm_id, missing)
    try:
        await gateway.call(
            session,
            "POST",
            "/api/v1/firms/{id}/agreement",
            path={"id": firm_id},
            files={"file": agreement},
            data={"starts_on": form_text(form, "starts_on"), "ends_on": form_text(form, "ends_on")},
        )
    except GatewayError as exc:
        return await _firm(request, session, gateway, firm_id, exc)
    return redirect(f"/operator/firms/{firm_id}")


@router.post("/operator/firms/{firm_id}/admins", response_class=HTMLResponse)
async def invite_admin(
    request: Request, firm_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Invites the firm's first admin by phone or e-mail; the page says who was invited."""
    contact = form_text(form, "contact")
    channel, destination = normalise_contact(contact)
    body = {"phone" if channel == "sms" else "email": destination}
    try:
        await gateway.call(session, "POST", "/api/v1/firms/{id}/admins", path={"id": firm_id}, json=body)
    except GatewayError as exc:
        # The API names `phone` or `email`, whichever the typed contact was sent as: the page has one field.
        messages = list(exc.errors.values())
        exc.errors = {"contact": messages[0]} if messages else {}
        return await _firm(request, session, gateway, firm_id, exc)
    return await _firm(request, session, gateway, firm_id, invited=destination)


@router.get("/operator/verifications", response_class=HTMLResponse)
async def verifications(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _verifications(request, session, gateway)


async def _verifications(
    request: Request,
    session: Session,
    gateway: Gateway,
    error: GatewayError | None = None,
    error_lawyer: str = "",
) -> HTMLResponse:
    pending, firms = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/lawyers/credentials", params={"status": "pending"}),
        gateway.call(session, "GET", "/api/v1/firms", params={"limit": 100}),
    )
    return render(
        request,
        "operator_verifications.html",
        error.status if error else 200,
        lawyers=pending["items"],
        firm_names={firm["id"]: firm["name"] for firm in firms["items"]},
        error=error,
        errors=error.errors if error else {},
        error_lawyer=error_lawyer,
    )


@router.post("/operator/verifications/{lawyer_id}", response_class=HTMLResponse)
async def verify(
    request: Request, lawyer_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Decides on the lawyer's pending credentials, recording what was checked; the lawyer leaves the queue."""
    body = {"decision": form_text(form, "decision"), "notes": form_text(form, "notes")}
    try:
        await gateway.call(session, "POST", "/api/v1/lawyers/{id}/verify", path={"id": lawyer_id}, json=body)
    except GatewayError as exc:
        return await _verifications(request, session, gateway, exc, lawyer_id)
    return redirect("/operator/verifications")
