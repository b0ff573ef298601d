"""Logging in (password, or a code sent by SMS or e-mail), registering by code, logging out."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import GatewayError
from services.portal.i18n import normalise_contact
from services.portal.web import FormDep, GatewayDep, SessionDep, form_text, redirect, render

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path of this site: a login must not send the person elsewhere (browsers read `/\\host` as
    `//host`)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = Query("/", max_length=500)) -> HTMLResponse:
    return render(
        request, "login.html", next=_safe_next(next), identifier="", notice="", error=None, consent=False
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, form: FormDep, session: SessionDep, gateway: GatewayDep) -> Response:
    """Logs in by password or code. A person who has not accepted the privacy policy in force (409
    `consent_required`) is shown its version and logs in again accepting it (a code is spent: a new one)."""
    identifier, next_page = form_text(form, "identifier"), _safe_next(form_text(form, "next"))
    method = "otp" if form_text(form, "method") == "otp" else "password"
    channel, destination = normalise_contact(identifier)
    if channel == "sms" or method == "otp":
        identifier = destination
    body = {"method": method, "identifier": identifier, "secret": form_text(form, "secret")}
    # Only a ticked acceptance sends a version (login.html offers it once the API asked for it).
    if accepted := form_text(form, "privacy_policy_version"):
        body["privacy_policy_version"] = accepted
    try:
        answer = await gateway.call(session, "POST", "/api/v1/auth/login", json=body, signed_in=False)
    except GatewayError as exc:
        consent = exc.status == 409 and exc.reason == "consent_required"
        return render(
            request,
            "login.html",
            exc.status if consent else 400,
            next=next_page,
            identifier=identifier,
            notice="",
            error=None if consent else exc,
            consent=consent,
        )
    session.sign_in(answer)
    return redirect(next_page if next_page != "/" else "/my")


@router.post("/login/code", response_class=HTMLResponse)
async def login_code(
    request: Request, form: FormDep, session: SessionDep, gateway: GatewayDep
) -> HTMLResponse:
    identifier = form_text(form, "identifier")
    error = await _send_code(session, gateway, identifier)
    return render(
        request,
        "login.html",
        400 if error else 200,
        next=_safe_next(form_text(form, "next")),
        identifier=identifier,
        notice="" if error else "sent",
        error=error,
        consent=form_text(form, "consent") == "asked",
    )


async def _send_code(session: Any, gateway: GatewayDep, identifier: str) -> GatewayError | None:
    channel, destination = normalise_contact(identifier)
    try:
        await gateway.call(
            session,
            "POST",
            "/api/v1/auth/otp",
            json={"channel": channel, "destination": destination},
            signed_in=False,
        )
    except GatewayError as exc:
        return exc
    return None


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request) -> HTMLResponse:
    return render(request, "register.html", values={}, notice="", error=None)


@router.post("/register/code", response_class=HTMLResponse)
async def register_code(
    request: Request, form: FormDep, session: SessionDep, gateway: GatewayDep
) -> HTMLResponse:
    values = {name: form_text(form, name) for name in ("identifier", "display_name", "enterprise_name")}
    error = await _send_code(session, gateway, values["identifier"])
    return render(
        request,
        "register.html",
        400 if error else 200,
        values=values,
        notice="" if error else "sent",
        error=error,
    )


@router.post("/register", response_class=HTMLResponse)
async def register(request: Request, form: FormDep, session: SessionDep, gateway: GatewayDep) -> Response:
    values = {name: form_text(form, name) for name in ("identifier", "display_name", "enterprise_name")}
    channel, destination = normalise_contact(values["identifier"])
    body: dict[str, Any] = {
        "phone" if channel == "sms" else "email": destination,
        "code": form_text(form, "code"),
        "display_name": values["display_name"],
        # The form cannot be sent without ticking its acceptance of the policy it links (register.html).
        "privacy_policy_version": form_text(form, "privacy_policy_version"),
    }
    if form_text(form, "password"):
        body["password"] = form_text(form, "password")
    if values["enterprise_name"]:
        body["enterprise_name"] = values["enterprise_name"]
    try:
        answer = await gateway.call(session, "POST", "/api/v1/auth/register", json=body, signed_in=False)
    except GatewayError as exc:
        return render(request, "register.html", 400, values=values, notice="", error=exc)
    session.sign_in(answer)
    return redirect("/my")


@router.post("/logout")
async def logout(form: FormDep, session: SessionDep, gateway: GatewayDep) -> Response:
    """Revokes this login's refresh token at the gateway, then forgets the session."""
    if session.signed_in:
        # Already revoked or expired: the session is forgotten all the same.
        with contextlib.suppress(GatewayError):
            await gateway.call(
                session, "POST", "/api/v1/auth/logout", json={"refresh_token": session.refresh_token}
            )
    session.sign_out()
    return redirect("/")
