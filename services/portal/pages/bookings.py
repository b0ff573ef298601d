"""Bookings: a client picks a lawyer's free slot in the availability calendar, holds it and orders the booking
product (paid on the order's page); reschedules or cancels, the refund being what the booking service's terms
give. The booked lawyer sees the same booking in their calendar and checks in, completes it and fills in the
quality checklist; lawyers record their visits to client enterprises."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    ResourcePage,
    UserDep,
    form_lines,
    form_text,
    rating_of,
    redirect,
    render,
    require_role,
)

router = APIRouter()

# What the calendar shows: the next week of a lawyer's free starts.
CALENDAR_DAYS = 7
# The lengths a client may book, shortest first (the booking policy's minimum is 30 minutes).
MEETING_MINUTES = (30, 60, 90, 120)
# The booked lawyer's quality checklist after a meeting (the API's keys, every one answered).
CHECKLIST = ("identity_verified", "needs_understood", "advice_given", "risks_explained", "follow_up_agreed")


async def calendar(
    session: Session, gateway: Gateway, lawyer_id: str, mode: str, minutes: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The lawyer's free starts of the next CALENDAR_DAYS with room for a meeting of `minutes`, by day in the
    lawyer's time zone (a start late in a service window leaves less: offering it would only be refused)."""
    now = datetime.now(UTC)
    slots = await gateway.call(
        session,
        "GET",
        "/api/v1/lawyers/{id}/availability",
        path={"id": lawyer_id},
        params={
            "from": now.isoformat(),
            "to": (now + timedelta(days=CALENDAR_DAYS)).isoformat(),
            "mode": mode,
        },
        signed_in=False,
    )
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for slot in slots["items"]:
        if slot["minutes"] >= minutes:
            days[slot["start_local"][:10]].append(slot)
    return list(days.items())


async def _booking_extra(session: Session, gateway: Gateway, item: dict[str, Any]) -> dict[str, Any]:
    """A client may move a booking that has not happened yet to another free start of the lawyer's."""
    movable = session.has_role("client", "client_admin") and item["status"] in ("held", "confirmed")
    days = (
        await calendar(session, gateway, item["lawyer_id"], item["mode"], item["minutes"]) if movable else []
    )
    return {"days": days, "checklist": CHECKLIST}


PAGE = ResourcePage("/api/v1/bookings/{id}", "/bookings/{id}", "booking.html", "booking", _booking_extra)


async def _booking_form(
    request: Request,
    session: Session,
    gateway: Gateway,
    product_id: str,
    lawyer_id: str,
    error: GatewayError | None = None,
) -> HTMLResponse:
    product, lawyers = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/products/{id}", path={"id": product_id}, signed_in=False),
        gateway.call(session, "GET", "/api/v1/lawyers", params={"limit": 100}, signed_in=False),
    )
    if product["category"] != "booking":
        raise HTTPException(404)
    mode = product["parameters"].get("mode", "at_firm")
    days = await calendar(session, gateway, lawyer_id, mode, MEETING_MINUTES[0]) if lawyer_id else []
    return render(
        request,
        "booking_new.html",
        error.status if error else 200,
        product=product,
        mode=mode,
        lawyers=lawyers["items"],
        lawyer_id=lawyer_id,
        days=days,
        minutes=MEETING_MINUTES,
        error=error,
    )


@router.get("/book/{product_id}", response_class=HTMLResponse)
async def booking_form(
    request: Request,
    product_id: str,
    session: UserDep,
    gateway: GatewayDep,
    lawyer_id: str = Query("", max_length=200),
) -> HTMLResponse:
    return await _booking_form(request, session, gateway, product_id, lawyer_id)


@router.post("/book/{product_id}", response_class=HTMLResponse)
async def hold(
    request: Request, product_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """Holds the slot, then orders the booking product for it: the order's page takes the payment, which
    confirms the booking."""
    lawyer_id = form_text(form, "lawyer_id")
    product = await gateway.call(
        session, "GET", "/api/v1/products/{id}", path={"id": product_id}, signed_in=False
    )
    body: dict[str, Any] = {
        "lawyer_id": lawyer_id,
        "mode": product["parameters"].get("mode", "at_firm"),
        "start": form_text(form, "start"),
        "minutes": next(
            (m for m in MEETING_MINUTES if str(m) == form_text(form, "minutes")), MEETING_MINUTES[0]
        ),
        "needs": form_text(form, "needs"),
    }
    if form_text(form, "address"):
        body["address"] = form_text(form, "address")
    key = form_text(form, "idempotency_key") or uuid.uuid4().hex
    try:
        booking = await gateway.call(
            session, "POST", "/api/v1/bookings", json=body, headers={"Idempotency-Key": key}
        )
        order = await gateway.call(
            session,
            "POST",
            "/api/v1/orders",
            json={"product_id": product_id, "requirements": {}, "booking": {"booking_id": booking["id"]}},
            headers={"Idempotency-Key": key},
        )
    except GatewayError as exc:
        return await _booking_form(request, session, gateway, product_id, lawyer_id, exc)
    return redirect(f"/my/orders/{order['id']}")


@router.get("/bookings", response_class=HTMLResponse)
async def bookings(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """A client's enterprise's bookings, or a lawyer's calendar: by day, soonest first."""
    page = await gateway.call(session, "GET", "/api/v1/bookings", params={"mine": 1, "limit": 100})
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for booking in sorted(page["items"], key=lambda b: b["start"] or ""):
        days[(booking["start_local"] or "")[:10]].append(booking)
    return render(request, "bookings.html", days=list(days.items()))


@router.get("/bookings/{booking_id}", response_class=HTMLResponse)
async def booking(request: Request, booking_id: str, session: UserDep) -> HTMLResponse:
    return await PAGE.show(request, session, booking_id)


@router.post("/bookings/{booking_id}/reschedule", response_class=HTMLResponse)
async def reschedule(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    return await PAGE.act(
        request, session, booking_id, "/reschedule", json={"start": form_text(form, "start")}
    )


@router.post("/bookings/{booking_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"reason": form_text(form, "reason") or None}
    return await PAGE.act(request, session, booking_id, "/cancel", json=body)


@router.post("/bookings/{booking_id}/check-in", response_class=HTMLResponse)
async def check_in(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    return await PAGE.act(request, session, booking_id, "/check-in")


@router.post("/bookings/{booking_id}/complete", response_class=HTMLResponse)
async def complete(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"summary": form_text(form, "summary")}
    return await PAGE.act(request, session, booking_id, "/complete", json=body)


@router.post("/bookings/{booking_id}/quality-checklist", response_class=HTMLResponse)
async def quality_checklist(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    body = {
        "checklist": {item: form.get(item) == "yes" for item in CHECKLIST},
        "note": form_text(form, "note"),
    }
    return await PAGE.act(request, session, booking_id, "/quality-checklist", json=body)


@router.post("/bookings/{booking_id}/rating", response_class=HTMLResponse)
async def rate(request: Request, booking_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"rating": rating_of(form), "comment": form_text(form, "comment")}
    return await PAGE.act(request, session, booking_id, "/rating", json=body)


@router.get(
    "/visits",
    response_class=HTMLResponse,
    dependencies=[require_role("lawyer", "supervisor", "client_admin")],
)
async def visits(
    request: Request, session: UserDep, gateway: GatewayDep, enterprise_id: str = Query("", max_length=200)
) -> HTMLResponse:
    return await _visits(request, session, gateway, {"enterprise_id": enterprise_id})


async def _visits(
    request: Request,
    session: Session,
    gateway: Gateway,
    values: dict[str, str],
    error: GatewayError | None = None,
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/visits", params={"limit": 100})
    return render(
        request,
        "visits.html",
        error.status if error else 200,
        visits=page["items"],
        values=values,
        error=error,
    )


@router.post("/visits", response_class=HTMLResponse, dependencies=[require_role("lawyer")])
async def record_visit(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    values = {name: form_text(form, name) for name in ("enterprise_id", "date", "findings")}
    body = {
        **values,
        "attendees": form_lines(form, "attendees"),
        "follow_ups": form_lines(form, "follow_ups"),
    }
    try:
        await gateway.call(
            session,
            "POST",
            "/api/v1/visits",
            json=body,
            headers={"Idempotency-Key": form_text(form, "idempotency_key") or uuid.uuid4().hex},
        )
    except GatewayError as exc:
        return await _visits(request, session, gateway, values, exc)
    return redirect("/visits")
