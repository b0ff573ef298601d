"""Instant chat with customer service (R-CS-1, R-CON-1) and what agents see of a client (R-CS-2).

`GET /api/v1/chat` is a WebSocket. Authentication: browsers cannot set headers on a WebSocket, so the
access token travels as a subprotocol: offer `Sec-WebSocket-Protocol: counsel.chat.v1, bearer.<token>`
(the server selects `counsel.chat.v1`; the token is never echoed). Other clients may send
`Authorization: Bearer <token>` instead. Tokens are not accepted in the query string (it ends up in logs).
A missing or refused token closes the socket with 4401, a role that does not chat with 4403.

Query: `conversation_id` (clients: their open conversation when absent; agents without it get the queue:
`{"type": "queue", "items": [...]}` at once and again whenever a conversation is queued, picked up or
closed on any gateway) and `after`
(the last message sequence number the client saw; 0 for everything). On connect the server sends
`{"type": "ready", "conversation": …}` and then every stored message with `seq > after`, oldest first:
a reconnecting client resumes with `after=<last seq seen>` and misses nothing. Then it sends each new
message as it is stored, whichever gateway process the author is connected to: the consultation service
publishes `chat.message_posted` on `<root>.consultation.chat.message_posted.<conversation_id>` after the
commit (outbox), every gateway holding a socket of that conversation wakes up and reads the messages after
the last one it sent from storage. Frames from the client (JSON):

* `{"type": "message", "body": "…", "client_message_id": "…", "request_agent": false}` — a resend with
  the same `client_message_id` (after a reconnect) stores nothing new; answered with `{"type": "ack",
  "conversation_id", "client_message_id", "seq"}` before the message frames it caused;
* `{"type": "pickup"}` (agents) · `{"type": "close"}` · `{"type": "ping"}` (→ `pong`).

A refused frame is answered with `{"type": "error", "status", "detail", "errors": [{"field", …}],
"problem_type"}` (the problem+json fields) and the socket stays open; when the
token expires the socket closes with 4401: reconnect with a fresh token and `after=<last seq>`."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated

import grpc
from fastapi import Depends, Query, WebSocket, WebSocketDisconnect, status

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.gateway.chat_sessions import ChatSession, QueueSession, error_frame, problem_frame
from services.gateway.clients import Clients
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.chat import (
    ChatMessage,
    ChatQueue,
    ClientActivity,
    ClientInsight,
    Conversation,
    ConversationMessages,
    PostChatMessage,
    PostedChat,
    PurchaseIntent,
    PurchaseLead,
    PurchaseLeads,
    StartChat,
)
from services.gateway.schemas.common import INT32_MAX
from services.gateway.schemas.recommendations import Recommendations
from services.runtime.auth import bearer_token
from services.runtime.context import Principal, access_token_var, principal_var
from services.runtime.errors import DomainError
from services.runtime.limits import text_problem

router = api_router("chat")

CHAT_ROLES = ("client", "client_admin", "agent", "supervisor")
AgentOrSupervisor = Depends(require_roles("agent", "supervisor"))
# Clients chat, agents and supervisors serve; other staff are refused here and again in the service.
ChatRole = Depends(require_roles(*CHAT_ROLES))
SUBPROTOCOL = "counsel.chat.v1"
BEARER_PREFIX = "bearer."
ACTIVITY_SHOWN = 10

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


async def signed_in_socket(websocket: WebSocket) -> tuple[Principal, list[str]] | None:
    """The socket's caller and the subprotocols it offered, its principal and token set for the calls made on
    its behalf; None once the socket is closed 4401 (no token, or one the verifier refuses)."""
    token, offered = _credentials(websocket)
    if not token:
        await websocket.close(CLOSE_UNAUTHENTICATED, "sign in: offer the subprotocol bearer.<access_token>")
        return None
    try:
        principal = await websocket.app.state.verifier.verify(token)
    except DomainError:
        await websocket.close(CLOSE_UNAUTHENTICATED, "the access token was refused")
        return None
    principal_var.set(principal)
    access_token_var.set(token)
    return principal, offered


def _credentials(websocket: WebSocket) -> tuple[str | None, list[str]]:
    """(token, offered subprotocols): the token from a `bearer.<token>` subprotocol or the header."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    for protocol in offered:
        if protocol.startswith(BEARER_PREFIX):
            return protocol[len(BEARER_PREFIX) :], offered
    return bearer_token(websocket.headers.get("authorization")), offered


@router.websocket("/api/v1/chat")
async def chat_socket(websocket: WebSocket) -> None:
    """Instant chat (see the module's docstring for the protocol)."""
    caller = await signed_in_socket(websocket)
    if caller is None:
        return
    principal, offered = caller
    if not principal.has_role(*CHAT_ROLES):
        await websocket.close(CLOSE_FORBIDDEN, "your role does not chat")
        return
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    conversation_id = websocket.query_params.get("conversation_id", "")
    try:
        after = int(websocket.query_params.get("after", "0"))
        if not 0 <= after <= INT32_MAX:  # a sequence number: an `integer` column
            raise ValueError
    except ValueError:
        await websocket.send_text(
            json.dumps(error_frame(422, f"must be a whole number from 0 to {INT32_MAX}", "after"))
        )
        await websocket.close(CLOSE_BAD_REQUEST)
        return
    if problem := text_problem(conversation_id):
        await websocket.send_text(json.dumps(error_frame(422, problem, "conversation_id")))
        await websocket.close(CLOSE_BAD_REQUEST)
        return
    session: ChatSession | QueueSession
    if not conversation_id and not principal.is_client:
        session = QueueSession(
            websocket, websocket.app.state.clients, getattr(websocket.app.state, "chat_waker", None)
        )
    else:
        session = ChatSession(
            websocket,
            websocket.app.state.clients,
            getattr(websocket.app.state, "chat_waker", None),
            principal,
            conversation_id,
            after,
        )
    try:
        await session.run()
    except WebSocketDisconnect:
        return
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            await websocket.close(
                CLOSE_UNAUTHENTICATED, "the access token expired: reconnect with a fresh one"
            )
            return
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(problem_frame(exc), ensure_ascii=False))
        code = CLOSE_BAD_REQUEST if exc.code() != grpc.StatusCode.UNAVAILABLE else 1011
        with contextlib.suppress(Exception):
            await websocket.close(code)


# --- REST: the same conversation without a socket, and the agents' side ------------------------------------


@router.post(
    "/api/v1/chat/messages",
    response_model=PostedChat,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ChatRole],
)
async def post_chat_message(
    body: PostChatMessage, principal: CurrentPrincipal, clients: ClientsDep
) -> PostedChat:
    """A chat message without a socket (same rules as the socket's `message` frame)."""
    reply = await clients.consultation.PostChatMessage(
        pb.PostChatMessageRequest(
            conversation_id=body.conversation_id or "",
            body=body.body,
            client_message_id=body.client_message_id or "",
            request_agent=body.request_agent,
        )
    )
    return PostedChat(
        conversation=Conversation.from_proto(reply.conversation),
        messages=[ChatMessage.from_proto(m) for m in reply.messages],
    )


@router.get(
    "/api/v1/chat/conversations/{conversation_id}/messages",
    response_model=ConversationMessages,
    dependencies=[ChatRole],
)
async def list_chat_messages(
    conversation_id: str,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    after: Annotated[int, Query(ge=0, le=INT32_MAX, description="The last sequence number seen.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationMessages:
    reply = await clients.consultation.ListChatMessages(
        pb.ListChatMessagesRequest(conversation_id=conversation_id, after_seq=after, limit=limit)
    )
    return ConversationMessages(
        conversation=Conversation.from_proto(reply.conversation) if reply.HasField("conversation") else None,
        messages=[ChatMessage.from_proto(m) for m in reply.messages],
        more=reply.more,
    )


async def _activity(clients: Clients, client_id: str) -> list[ClientActivity]:
    reply = await clients.identity.ListUserActivity(
        identity_pb.ListUserActivityRequest(
            user_id=client_id, page=paging_pb2.PageRequest(limit=ACTIVITY_SHOWN)
        )
    )
    return [ClientActivity.from_proto(a) for a in reply.activities]


@router.get("/api/v1/chat/queue", response_model=ChatQueue, dependencies=[AgentOrSupervisor])
async def chat_queue(
    clients: ClientsDep,
    status_filter: Annotated[
        str, Query(alias="status", pattern="^(bot|queued|active)?$", description="bot, queued or active")
    ] = "",
) -> ChatQueue:
    """Conversations waiting for an agent (longest first) and being served, each with the client's
    purchase intent (R-CS-2) and recent activity (online behaviour, §6.1.4.3)."""
    reply = await clients.consultation.ListChatQueue(pb.ListChatQueueRequest(status=status_filter))
    activity: dict[str, list[ClientActivity]] = {}
    items = []
    for row in reply.conversations:
        if row.client_id not in activity:
            activity[row.client_id] = await _activity(clients, row.client_id)
        item = Conversation.from_proto(row)
        item.client_activity = activity[row.client_id]
        items.append(item)
    return ChatQueue(items=items)


@router.post(
    "/api/v1/chat/conversations/{conversation_id}/pickup",
    response_model=Conversation,
    dependencies=[AgentOrSupervisor],
)
async def pick_up_chat(conversation_id: str, clients: ClientsDep) -> Conversation:
    reply = await clients.consultation.PickUpChat(pb.PickUpChatRequest(conversation_id=conversation_id))
    return Conversation.from_proto(reply.conversation)


@router.post(
    "/api/v1/chat/conversations/{conversation_id}/close", response_model=Conversation, dependencies=[ChatRole]
)
async def close_chat(conversation_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Conversation:
    reply = await clients.consultation.CloseChat(pb.CloseChatRequest(conversation_id=conversation_id))
    return Conversation.from_proto(reply.conversation)


@router.get(
    "/api/v1/chat/clients/{client_id}/insight", response_model=ClientInsight, dependencies=[AgentOrSupervisor]
)
async def client_insight(client_id: str, clients: ClientsDep) -> ClientInsight:
    """A client's purchase intent with its reasons, their recent activity (R-CS-2) and their enterprise's
    next purchases (§5.5), for following up."""
    reply = await clients.consultation.GetPurchaseIntent(pb.GetPurchaseIntentRequest(client_id=client_id))
    suggested = await clients.catalog.GetRecommendations(
        catalog_pb.GetRecommendationsRequest(client_id=client_id)
    )
    return ClientInsight(
        purchase_intent=PurchaseIntent.from_proto(reply.purchase_intent),
        client_activity=await _activity(clients, client_id),
        recommendations=Recommendations.from_proto(suggested).items,
    )


@router.get("/api/v1/chat/leads", response_model=PurchaseLeads, dependencies=[AgentOrSupervisor])
async def purchase_leads(
    clients: ClientsDep,
    min_level: Annotated[
        str, Query(pattern="^(low|medium|high)?$", description="Only leads at this level or above.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PurchaseLeads:
    """Clients with buying signals in the last 30 days, highest purchase intent first, with the reasons
    (R-CS-2): whom to offer personalised advice. Follow up with POST /api/v1/chat/clients/{id}/conversations."""
    reply = await clients.consultation.ListPurchaseLeads(
        pb.ListPurchaseLeadsRequest(limit=limit, min_level=min_level)
    )
    return PurchaseLeads(items=[PurchaseLead.from_proto(lead) for lead in reply.leads])


@router.post(
    "/api/v1/chat/clients/{client_id}/conversations",
    response_model=PostedChat,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AgentOrSupervisor],
)
async def start_chat(client_id: str, body: StartChat, clients: ClientsDep) -> PostedChat:
    """An agent follows up with a client: takes over their open conversation (or starts one) and writes.
    The client sees it in their chat and gets an in-app notification."""
    reply = await clients.consultation.StartChat(pb.StartChatRequest(client_id=client_id, body=body.body))
    return PostedChat(
        conversation=Conversation.from_proto(reply.conversation),
        messages=[ChatMessage.from_proto(m) for m in reply.messages],
    )
