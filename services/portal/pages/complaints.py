"""Complaints (R-CS-3, §6.1.4.4): a client complains about a consultation, document order, booking or order
from its page and follows them on /complaints, where they accept a resolution or reopen it with a reason;
agents and supervisors take complaints on and resolve them there. The response clock's due time is shown."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter()

# The page of each subject a complaint can be about: its form is there, and the client goes back to it.
SUBJECT_PAGES = {
    "consultation": "/consultations/{id}",
    "document_order": "/documents/{id}",
    "booking": "/bookings/{id}",
    "order": "/my/orders/{id}",
}
Client = require_role("client", "client_admin")


async def _list(
    request: Request, session: Session, gateway: Gateway, error: GatewayError | None = None
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/complaints", params={"limit": 100})
    return render(
        request,
        "complaints.html",
        error.status if error else 200,
        complaints=page["items"],
        subject_pages=SUBJECT_PAGES,
        error=error,
    )


@router.get("/complaints", response_class=HTMLResponse)
async def complaints(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """A client's enterprise's complaints, or every complaint for agents and supervisors, newest first."""
    return await _list(request, session, gateway)


@router.post("/complaints", response_class=HTMLResponse, dependencies=[Client])
async def complain(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """A client complains about the service the form was on, and goes back to its page."""
    subject_type, subject_id = form_text(form, "subject_type"), form_text(form, "subject_id")
    body = {"subject_type": subject_type, "subject_id": subject_id, "body": form_text(form, "body")}
    try:
        await gateway.call(session, "POST", "/api/v1/complaints", json=body)
    except GatewayError as exc:
        return await _list(request, session, gateway, exc)
    return redirect(SUBJECT_PAGES[subject_type].format(id=subject_id))


async def _act(
    request: Request,
    session: Session,
    gateway: Gateway,
    complaint_id: str,
    command: str,
    body: dict[str, str],
) -> Response:
    """POSTs `command` to the complaint and shows the list again, with the refusal if the API refused."""
    try:
        await gateway.call(
            session, "POST", "/api/v1/complaints/{id}" + command, path={"id": complaint_id}, json=body
        )
    except GatewayError as exc:
        return await _list(request, session, gateway, exc)
    return redirect("/complaints")


@router.post(
    "/complaints/{complaint_id}",
    response_class=HTMLResponse,
    dependencies=[require_role("agent", "supervisor")],
)
async def handle_complaint(
    request: Request, complaint_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """An agent takes a complaint on or resolves it with a resolution."""
    body = {"status": form_text(form, "status"), "resolution": form_text(form, "resolution")}
    return await _act(request, session, gateway, complaint_id, "", body)


@router.post("/complaints/{complaint_id}/reopen", response_class=HTMLResponse, dependencies=[Client])
async def reopen(
    request: Request, complaint_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    """The client reopens a resolution with a reason."""
    body = {"reason": form_text(form, "reason")}
    return await _act(request, session, gateway, complaint_id, "/reopen", body)


@router.post("/complaints/{complaint_id}/accept", response_class=HTMLResponse, dependencies=[Client])
async def accept(request: Request, complaint_id: str, session: UserDep, gateway: GatewayDep) -> Response:
    """The client accepts the resolution: the complaint is closed."""
    return await _act(request, session, gateway, complaint_id, "/accept", {})
