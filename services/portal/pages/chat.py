"""The chat dialog box: a client asks and gets FAQ answers at once, then an agent; agents work the live queue
with each client's purchase intent and its reasons. Every page works as a plain form; the page's script adds
the conversation live over the chat WebSocket, which the portal relays to the gateway's with the session's
token (the browser's socket carries only the session cookie)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.sockets import relay_socket
from services.portal.web import FormDep, GatewayDep, UserDep, form_text, redirect, render, require_role

router = APIRouter()

# The chat socket's protocol (API.md).
CHAT_SUBPROTOCOL = "counsel.chat.v1"
AgentOnly = require_role("agent", "supervisor")


async def _conversation(session: Session, gateway: Gateway, conversation_id: str) -> dict[str, Any]:
    return await gateway.call(  # type: ignore[no-any-return]
        session,
        "GET",
        "/api/v1/chat/conversations/{id}/messages",
        path={"id": conversation_id},
        params={"limit": 500},
    )


@router.get("/chat", response_class=HTMLResponse)
async def new_chat(request: Request, session: UserDep) -> HTMLResponse:
    return render(request, "chat.html", conversation=None, messages=[], error=None)


@router.get("/chat/{conversation_id}", response_class=HTMLResponse)
async def chat(request: Request, conversation_id: str, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    answer = await _conversation(session, gateway, conversation_id)
    return render(
        request, "chat.html", conversation=answer["conversation"], messages=answer["messages"], error=None
    )


@router.post("/chat", response_class=HTMLResponse)
async def say(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    """Posts a message (the FAQ's answer comes back with it) and shows the conversation; agents write to the
    conversation they serve from their own page."""
    conversation_id = form_text(form, "conversation_id")
    body = {
        "conversation_id": conversation_id or None,
        "body": form_text(form, "body"),
        "client_message_id": form_text(form, "client_message_id") or uuid.uuid4().hex,
        "request_agent": form_text(form, "request_agent") == "yes",
    }
    try:
        posted = await gateway.call(session, "POST", "/api/v1/chat/messages", json=body)
    except GatewayError as exc:
        answer = await _conversation(session, gateway, conversation_id) if conversation_id else {}
        return render(
            request,
            "chat.html",
            exc.status,
            conversation=answer.get("conversation"),
            messages=answer.get("messages", []),
            error=exc,
        )
    back = "/work/chat/{id}" if session.has_role("agent", "supervisor") else "/chat/{id}"
    return redirect(back.format(id=posted["conversation"]["id"]))


@router.get("/work/chat", response_class=HTMLResponse, dependencies=[AgentOnly])
async def queue(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """Conversations waiting for an agent (longest first) and being served, each with the client's purchase
    intent and its reasons."""
    waiting = await gateway.call(session, "GET", "/api/v1/chat/queue")
    return render(request, "chat_queue.html", conversations=waiting["items"])


@router.get("/work/chat/{conversation_id}", response_class=HTMLResponse, dependencies=[AgentOnly])
async def serve(
    request: Request, conversation_id: str, session: UserDep, gateway: GatewayDep
) -> HTMLResponse:
    answer = await _conversation(session, gateway, conversation_id)
    insight = await gateway.call(
        session,
        "GET",
        "/api/v1/chat/clients/{id}/insight",
        path={"id": answer["conversation"]["client_id"]},
    )
    return render(
        request,
        "chat_serve.html",
        conversation=answer["conversation"],
        messages=answer["messages"],
        insight=insight,
    )


@router.post("/work/chat/{conversation_id}/pickup", dependencies=[AgentOnly])
async def pickup(conversation_id: str, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    await gateway.call(
        session, "POST", "/api/v1/chat/conversations/{id}/pickup", path={"id": conversation_id}
    )
    return redirect(f"/work/chat/{conversation_id}")


@router.post("/chat/{conversation_id}/close")
async def close(conversation_id: str, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    await gateway.call(session, "POST", "/api/v1/chat/conversations/{id}/close", path={"id": conversation_id})
    return redirect("/work/chat" if session.has_role("agent", "supervisor") else f"/chat/{conversation_id}")


@router.websocket("/chat/{conversation_id}/socket")
async def socket(websocket: WebSocket, conversation_id: str) -> None:
    """The conversation's frames, live (services/portal/sockets.py)."""
    after = websocket.query_params.get("after", "0")
    await relay_socket(
        websocket, "/api/v1/chat", CHAT_SUBPROTOCOL, {"conversation_id": conversation_id, "after": after}
    )
