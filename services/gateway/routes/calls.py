"""Online calls (§6.2.4.1, §6.2.4.4): a client calls an online lawyer in the browser, the lawyer accepts from
the workbench, either ends it; the call record is the consultation service's.

`GET /api/v1/calls/{id}/signal` is a WebSocket carrying the WebRTC signalling between the call's two parties
only. A call id over CALL_ID_MAX_LENGTH characters or one that cannot be stored as text is refused first,
before authentication: the handshake is answered 422 problem+json naming `call_id` (close 4422 with a
reason naming it where the server cannot answer a handshake with HTTP). Authentication as the chat's (routes/chat.py): the access token as the subprotocol `bearer.<token>`
next to `counsel.signal.v1`, or an `Authorization` header. A missing or refused token closes with 4401 (before the handshake);
anyone who is not the call's client or called lawyer with 4403 (counted in
`counsel_call_signal_refusals_total`), before anything is read or relayed; an ended call with 4409.
Once the socket listens for its party the server sends `{"type": "ready", "party": "client"|"lawyer",
"status", "ice_servers"}` (the STUN/TURN servers to give RTCPeerConnection, COUNSEL_WEBRTC_ICE_SERVERS); frames sent to a party not connected yet are lost, so each side announces itself with
`{"type": "join"}` after `ready`, the lawyer answers a client's `join` with its own, and the client makes
its offer when the lawyer's `join` arrives. Frames (JSON, at most 64 KiB): `join`, `{"type":
"offer"|"answer", "sdp": "…"}`, `{"type": "candidate", "candidate": {…}}`, `{"type": "bye"}` — each relayed
to the other party with only these fields and `"from": "client"|"lawyer"`; anything else is answered with
`{"type": "error", "detail"}`. Nothing is stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, Literal

import grpc
from fastapi import Depends, Path, Query, WebSocket, WebSocketDisconnect, status
from prometheus_client import Counter

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.call_signals import SignalRelay
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.problems import domain_problem
from services.gateway.routes.chat import CLOSE_FORBIDDEN, signed_in_socket
from services.gateway.routing import api_router
from services.gateway.schemas.calls import EndOnlineCall, OnlineCall, OnlineCallList, StartOnlineCall
from services.runtime.errors import InvalidArgument
from services.runtime.limits import text_problem

router = api_router("calls")

SUBPROTOCOL = "counsel.signal.v1"
CLOSE_CALL_ENDED = 4409
CLOSE_INVALID_CALL_ID = 4422
CALL_ID_MAX_LENGTH = 200
# The ASGI extension by which a server answers a WebSocket handshake with an HTTP response.
DENIAL_RESPONSE = "websocket.http.response"
MAX_FRAME_BYTES = 64 * 1024
SIGNAL_TYPES = ("join", "offer", "answer", "candidate", "bye")
SIGNAL_REFUSALS = Counter(
    "counsel_call_signal_refusals",
    "Signalling sockets refused because the caller is not a party of the call",
    ["reason"],
)
CallId = Annotated[str, Path(max_length=CALL_ID_MAX_LENGTH)]
Client = Depends(require_roles("client", "client_admin"))
Lawyer = Depends(require_roles("lawyer"))


@router.post(
    "/api/v1/calls", response_model=OnlineCall, status_code=status.HTTP_201_CREATED, dependencies=[Client]
)
async def start_online_call(
    body: StartOnlineCall, principal: CurrentPrincipal, clients: ClientsDep
) -> OnlineCall:
    """A client calls an online lawyer; 409 when the lawyer is offline, not_assignable (with the catalog's
    reason) when they take no new work, or order_required (naming the product to buy) when no paid order pays
    for the call."""
    reply = await clients.consultation.StartOnlineCall(
        pb.StartOnlineCallRequest(
            lawyer_id=body.lawyer_id,
            media=body.media,
            consultation_id=body.consultation_id or "",
            order_id=body.order_id or "",
        )
    )
    return OnlineCall.from_proto(reply.call)


@router.get("/api/v1/calls", response_model=OnlineCallList, dependencies=[Lawyer])
async def list_online_calls(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    call_status: Annotated[Literal["ringing", "connected", "ended"], Query(alias="status")] = "ringing",
) -> OnlineCallList:
    """The lawyer's own calls in one status, newest first (an addition to API.md: the workbench shows the
    calls ringing for them)."""
    reply = await clients.consultation.ListOnlineCalls(pb.ListOnlineCallsRequest(status=call_status))
    return OnlineCallList(items=[OnlineCall.from_proto(call) for call in reply.items])


@router.get("/api/v1/calls/{call_id}", response_model=OnlineCall)
async def get_online_call(call_id: CallId, principal: CurrentPrincipal, clients: ClientsDep) -> OnlineCall:
    """The call record, for its client and its lawyer."""
    reply = await clients.consultation.GetOnlineCall(pb.GetOnlineCallRequest(call_id=call_id))
    return OnlineCall.from_proto(reply.call)


@router.post("/api/v1/calls/{call_id}/accept", response_model=OnlineCall, dependencies=[Lawyer])
async def accept_online_call(call_id: CallId, principal: CurrentPrincipal, clients: ClientsDep) -> OnlineCall:
    """The called lawyer accepts a ringing call."""
    reply = await clients.consultation.AcceptOnlineCall(pb.AcceptOnlineCallRequest(call_id=call_id))
    return OnlineCall.from_proto(reply.call)


@router.post("/api/v1/calls/{call_id}/end", response_model=OnlineCall)
async def end_online_call(
    call_id: CallId, body: EndOnlineCall, principal: CurrentPrincipal, clients: ClientsDep
) -> OnlineCall:
    """Either party ends the call with what came of it; the record keeps the duration."""
    reply = await clients.consultation.EndOnlineCall(
        pb.EndOnlineCallRequest(call_id=call_id, outcome=body.outcome)
    )
    return OnlineCall.from_proto(reply.call)


@router.websocket("/api/v1/calls/{call_id}/signal")
async def signal_socket(websocket: WebSocket, call_id: str) -> None:
    """The call's WebRTC signalling (see the module's docstring)."""
    if problem := _call_id_problem(call_id):
        await _refuse_call_id(websocket, problem)
        return
    caller = await signed_in_socket(websocket)
    if caller is None:
        return
    _, offered = caller
    # Accepted before the membership check so that a browser sees the close code (a refused handshake
    # shows it nothing); a refused socket is closed before it reads or is sent anything.
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        reply = await websocket.app.state.clients.consultation.GetOnlineCall(
            pb.GetOnlineCallRequest(call_id=call_id)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
            raise
        SIGNAL_REFUSALS.labels("not_a_party").inc()
        await websocket.close(CLOSE_FORBIDDEN, "only the call's two parties signal")
        return
    if reply.call.status == "ended":
        await websocket.close(CLOSE_CALL_ENDED, "the call has ended")
        return
    party = reply.party
    peer = "lawyer" if party == "client" else "client"
    relay: SignalRelay = websocket.app.state.call_signals
    async with relay.joined(call_id, party) as inbound:
        ready = {
            "type": "ready",
            "party": party,
            "status": reply.call.status,
            "ice_servers": websocket.app.state.settings.ice_servers(),
        }
        await websocket.send_text(json.dumps(ready))
        forward = asyncio.create_task(_forward(websocket, inbound))
        try:
            while True:
                text = await websocket.receive_text()
                frame = _signal(text)
                if frame is None:
                    await websocket.send_text(
                        json.dumps({"type": "error", "detail": "not a signalling frame"})
                    )
                    continue
                await relay.send(call_id, peer, json.dumps({**frame, "from": party}).encode())
        except WebSocketDisconnect:
            pass
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await forward


def _call_id_problem(call_id: str) -> str | None:
    """Why `call_id` names no call that could exist, or None: the HTTP routes' CallId rules."""
    if len(call_id) > CALL_ID_MAX_LENGTH:
        return f"must be at most {CALL_ID_MAX_LENGTH} characters"
    return text_problem(call_id)


async def _refuse_call_id(websocket: WebSocket, problem: str) -> None:
    """Refuse the handshake as a request naming an invalid `call_id`: 422 problem+json where the server can
    answer a handshake with HTTP, else (accepted first, so that the client sees it) close 4422."""
    if DENIAL_RESPONSE in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(domain_problem(InvalidArgument.for_field("call_id", problem)))
        return
    await websocket.accept()
    await websocket.close(CLOSE_INVALID_CALL_ID, f"call_id {problem}")


async def _forward(websocket: WebSocket, inbound: asyncio.Queue[bytes]) -> None:
    while True:
        await websocket.send_text((await inbound.get()).decode())


def _signal(text: str) -> dict[str, Any] | None:
    """The frame's signalling fields, or None when it is not a signalling frame."""
    if len(text.encode()) > MAX_FRAME_BYTES:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") not in SIGNAL_TYPES:
        return None
    kept = {key: frame[key] for key in ("type", "sdp", "candidate") if key in frame}
    if "sdp" in kept and not isinstance(kept["sdp"], str):
        return None
    return kept
