"""A signed-in person's own pages: the notifications inbox and its preferences; the account (linked logins,
membership card, activity, data export, erasure); and, for a client admin, the enterprise's members."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.i18n import normalise_contact
from services.portal.session import Session
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, relay, render, require_role

router = APIRouter()

ClientAdmin = require_role("client_admin")
MEMBER_ROLES = ("client", "client_admin")


@router.get("/notifications", response_class=HTMLResponse)
async def inbox(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _inbox(request, session, gateway)


async def _inbox(
    request: Request,
    session: Session,
    gateway: Gateway,
    error: GatewayError | None = None,
    saved: bool = False,
) -> HTMLResponse:
    page, preferences = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/notifications", params={"limit": 50}),
        gateway.call(session, "GET", "/api/v1/me/notification-preferences"),
    )
    return render(
        request,
        "notifications.html",
        error.status if error else 200,
        page=page,
        preferences=preferences,
        error=error,
        saved=saved,
    )


@router.post("/notifications/{notification_id}/read")
async def read(notification_id: str, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    await gateway.call(session, "POST", "/api/v1/notifications/{id}/read", path={"id": notification_id})
    return redirect("/notifications")


@router.post("/notifications/preferences", response_class=HTMLResponse)
async def preferences(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """Replaces the whole set (PUT): channels, quiet hours (both ends or none), marketing consent, language."""
    body: dict[str, Any] = {
        "channels": {"in_app": True, "email": form.get("email") == "yes", "sms": form.get("sms") == "yes"},
        "marketing_consent": form.get("marketing_consent") == "yes",
        "language": "en" if form_text(form, "language") == "en" else "zh",
        "email_address": form_text(form, "email_address") or None,
        "phone": form_text(form, "phone") or None,
    }
    if form_text(form, "quiet_start") and form_text(form, "quiet_end"):
        body["quiet_hours"] = {"start": form_text(form, "quiet_start"), "end": form_text(form, "quiet_end")}
    try:
        await gateway.call(session, "PUT", "/api/v1/me/notification-preferences", json=body)
    except GatewayError as exc:
        return await _inbox(request, session, gateway, exc)
    return await _inbox(request, session, gateway, saved=True)


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _account(request, session, gateway)


async def _account(
    request: Request,
    session: Session,
    gateway: Gateway,
    error: GatewayError | None = None,
    linked: dict[str, Any] | None = None,
) -> HTMLResponse:
    me, activity = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/me"),
        gateway.call(session, "GET", "/api/v1/me/activity", params={"limit": 20}),
    )
    return render(
        request,
        "account.html",
        error.status if error else 200,
        me=me,
        activity=activity["items"],
        error=error,
        linked=linked,
    )


@router.post("/account/membership-card", response_class=HTMLResponse)
async def link_card(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """Links an offline card; the answer shows its new PIN once when the person chose none."""
    body = {
        "card_number": form_text(form, "card_number"),
        "pin": form_text(form, "pin"),
        "new_pin": form_text(form, "new_pin") or None,
    }
    try:
        linked = await gateway.call(session, "POST", "/api/v1/me/membership-card", json=body)
    except GatewayError as exc:
        return await _account(request, session, gateway, exc)
    return await _account(request, session, gateway, linked=linked)


@router.get("/account/export")
async def export(session: UserDep, gateway: GatewayDep) -> Response:
    """The person's data as the API exports it (a JSON download)."""
    return relay(await gateway.download(session, "/api/v1/me/export", {}))


@router.post("/account/delete")
async def erase(form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """Erases the person's data (the API ends every session), then forgets this one."""
    if form.get("confirm") != "yes":
        raise HTTPException(422)
    await gateway.call(session, "DELETE", "/api/v1/me")
    session.sign_out()
    return redirect("/")


@router.get("/enterprise/members", response_class=HTMLResponse, dependencies=[ClientAdmin])
async def members(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    return await _members(request, session, gateway)


async def _members(
    request: Request, session: Session, gateway: Gateway, error: GatewayError | None = None, invited: str = ""
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/enterprise/members", params={"limit": 100})
    return render(
        request,
        "members.html",
        error.status if error else 200,
        members=page["items"],
        roles=MEMBER_ROLES,
        error=error,
        invited=invited,
    )


@router.post("/enterprise/members", response_class=HTMLResponse, dependencies=[ClientAdmin])
async def invite(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    channel, destination = normalise_contact(form_text(form, "contact"))
    role = form_text(form, "role")
    body = {"phone" if channel == "sms" else "email": destination, "role": role}
    try:
        await gateway.call(session, "POST", "/api/v1/enterprise/members", json=body)
    except GatewayError as exc:
        return await _members(request, session, gateway, exc)
    return await _members(request, session, gateway, invited=destination)


@router.post("/enterprise/members/{user_id}/remove", response_class=HTMLResponse, dependencies=[ClientAdmin])
async def remove_member(
    request: Request, user_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Takes a member out of the enterprise (they keep their own account) or withdraws an invitation."""
    try:
        await gateway.call(session, "DELETE", "/api/v1/enterprise/members/{id}", path={"id": user_id})
    except GatewayError as exc:
        return await _members(request, session, gateway, exc)
    return redirect("/enterprise/members")


@router.post("/enterprise/members/{user_id}/role", response_class=HTMLResponse, dependencies=[ClientAdmin])
async def set_role(
    request: Request, user_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    try:
        await gateway.call(
            session,
            "PUT",
            "/api/v1/enterprise/members/{id}/role",
            path={"id": user_id},
            json={"role": form_text(form, "role")},
        )
    except GatewayError as exc:
        return await _members(request, session, gateway, exc)
    return redirect("/enterprise/members")
