"""Online calls (§6.2.4.1): a signed-in client calls an online lawyer from the lawyers page, the lawyer accepts
from the workbench, and both talk on the call page, whose script (static/call.js) runs WebRTC with the
signalling relayed through the portal (services/portal/sockets.py) to the gateway's socket."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import GatewayError
from services.portal.sockets import relay_socket
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter()

# The signalling socket's protocol (API.md).
SIGNAL_SUBPROTOCOL = "counsel.signal.v1"


@router.post("/calls", dependencies=[require_role("client", "client_admin")])
async def start(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """Rings the lawyer (an offline one is refused: the error page says so) and opens the call page. Without a
    paid order to pay for the call (409 order_required) the page says why and links to the product to buy."""
    body = {"lawyer_id": form_text(form, "lawyer_id"), "media": form_text(form, "media")}
    try:
        call = await gateway.call(session, "POST", "/api/v1/calls", json=body)
    except GatewayError as exc:
        if exc.reason != "order_required":
            raise
        product_id = str(exc.problem.get("product_id") or "")
        buy = f"/products/{quote(product_id, safe='')}" if product_id else "/products"
        return render(request, "call.html", exc.status, call=None, call_id="", error=exc, buy=buy)
    return redirect(f"/calls/{call['id']}")


@router.get("/calls/{call_id}", response_class=HTMLResponse)
async def call_page(request: Request, call_id: str, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """The call: local and remote video and the end button. Someone who is not a party gets the page without
    the call; its script is refused by the signalling socket (4403) and says so."""
    try:
        call = await gateway.call(session, "GET", "/api/v1/calls/{id}", path={"id": call_id})
    except GatewayError as exc:
        return render(request, "call.html", exc.status, call=None, call_id=call_id, error=exc, buy=None)
    return render(request, "call.html", call=call, call_id=call_id, error=None, buy=None)


@router.post("/calls/{call_id}/accept", dependencies=[require_role("lawyer")])
async def accept(call_id: str, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    await gateway.call(session, "POST", "/api/v1/calls/{id}/accept", path={"id": call_id})
    return redirect(f"/calls/{call_id}")


@router.post("/calls/{call_id}/end")
async def end(call_id: str, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    outcome = form_text(form, "outcome")
    await gateway.call(
        session, "POST", "/api/v1/calls/{id}/end", path={"id": call_id}, json={"outcome": outcome}
    )
    return redirect(f"/calls/{call_id}")


@router.websocket("/calls/{call_id}/signal")
async def signal(websocket: WebSocket, call_id: str) -> None:
    """The call's signalling frames, relayed both ways (services/portal/sockets.py)."""
    path = f"/api/v1/calls/{quote(call_id, safe='')}/signal"
    await relay_socket(websocket, path, SIGNAL_SUBPROTOCOL, {})
