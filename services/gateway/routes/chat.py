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

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Annotated, Any

import grpc
from fastapi import Depends, Query, WebSocket, WebSocketDisconnect, status
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from pydantic import BaseModel, Field

from counsel.common.v1 import paging_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.consultation.v1 import events_pb2
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.gateway.clients import Clients
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.problems import grpc_problem
from services.gateway.routing import api_router
from services.gateway.schemas.chat import (
    ChatMessage,
    ChatQueue,
    ClientActivity,
    ClientInsight,
    Conversation,
    ConversationMessages,
    PurchaseIntent,
    PurchaseLead,
    PurchaseLeads,
)
from services.gateway.schemas.common import INT32_MAX, RequestModel
from services.gateway.validation import printable, request_problems
from services.gateway.wakeups import BusWaker
from services.runtime.auth import bearer_token
from services.runtime.context import Principal, access_token_var, principal_var
from services.runtime.errors import DomainError
from services.runtime.limits import text_problem
from services.runtime.service import cancel_all

log = logging.getLogger(__name__)

router = api_router("chat")

CHAT_ROLES = ("client", "client_admin", "agent", "supervisor")
AgentOrSupervisor = Depends(require_roles("agent", "supervisor"))
# Clients chat, agents and supervisors serve; other staff are refused here and again in the service.
ChatRole = Depends(require_roles(*CHAT_ROLES))
SUBPROTOCOL = "counsel.chat.v1"
BEARER_PREFIX = "bearer."
# How often an open socket reads the conversation when nothing woke it: a safety net with the event bus,
# the only way without it.
POLL_SECONDS = 2.0
POLL_SECONDS_WITH_BUS = 20.0
ACTIVITY_SHOWN = 10

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ChatWaker(BusWaker):
    """Wakes this process's open sockets of a conversation when the consultation service publishes
    `chat.message_posted` for it (sockets read storage, so a missed wake-up only delays a message until the
    next poll), and the agents' queue sockets on every status change."""

    SUBJECT = "consultation.chat.message_posted.*"
    CONNECTION_NAME = "counsel-gateway-chat"
    WITHOUT_BUS = "no event bus for the chat; sockets poll instead"

    def __init__(self) -> None:
        super().__init__()
        self._queue_watchers: set[asyncio.Event] = set()

    async def _on_event(self, msg: Msg) -> None:
        self.wake(msg.subject.rsplit(".", 1)[-1])
        try:
            posted = events_pb2.ChatMessagePosted()
            envelope = EventEnvelope.FromString(msg.data)
            if envelope.payload.Unpack(posted) and posted.author_role == "system":
                # Every status change (queued, picked up, closed) comes with a system message.
                for event in self._queue_watchers:
                    event.set()
        except DecodeError:
            log.warning("undecodable chat.message_posted event")

    def add_queue_watcher(self, event: asyncio.Event) -> None:
        self._queue_watchers.add(event)

    def discard_queue_watcher(self, event: asyncio.Event) -> None:
        self._queue_watchers.discard(event)


async def _until_either_ends(pump: Coroutine[Any, Any, None], receive: Coroutine[Any, Any, None]) -> None:
    """Run a socket's pump (what the socket is sent) and receiver until one ends (a disconnect, an error,
    which is raised here), then stop the other."""
    tasks = [asyncio.create_task(pump), asyncio.create_task(receive)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        await cancel_all(tasks, "gateway-chat")


def _credentials(websocket: WebSocket) -> tuple[str | None, list[str]]:
    """(token, offered subprotocols): the token from a `bearer.<token>` subprotocol or the header."""
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    for protocol in offered:
        if protocol.startswith(BEARER_PREFIX):
            return protocol[len(BEARER_PREFIX) :], offered
    return bearer_token(websocket.headers.get("authorization")), offered


def _problem_frame(exc: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The problem+json body as an error frame; the problem's `type` URI moves to `problem_type`."""
    body = json.loads(bytes(grpc_problem(exc).body))
    body["problem_type"] = body.pop("type")
    return {"type": "error", **body}


def _error_frame(status_code: int, detail: str, field: str = "") -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "status": status_code, "detail": detail}
    if field:
        frame["errors"] = [{"field": field, "message": detail}]
    return frame


class ChatSession:
    """One open socket: sends stored messages after `last_seq` whenever woken, handles client frames."""

    def __init__(
        self,
        websocket: WebSocket,
        clients: Clients,
        waker: ChatWaker | None,
        principal: Principal,
        conversation_id: str,
        after: int,
    ) -> None:
        self.websocket = websocket
        self.clients = clients
        self.waker = waker
        self.principal = principal
        self.conversation_id = conversation_id
        self.last_seq = after
        self.status = ""
        self.woken = asyncio.Event()
        self.sending = asyncio.Lock()
        self.poll_seconds = POLL_SECONDS_WITH_BUS if waker is not None else POLL_SECONDS

    def _watch(self, conversation_id: str) -> None:
        if self.conversation_id and self.waker is not None:
            self.waker.discard(self.conversation_id, self.woken)
        if self.conversation_id and self.conversation_id != conversation_id:
            # The client's conversation was closed and a new one started: its messages count from 1.
            self.last_seq, self.status = 0, ""
        self.conversation_id = conversation_id
        if self.waker is not None:
            self.waker.add(conversation_id, self.woken)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def deliver(self, *, first: bool = False) -> None:
        """Send every stored message after the last one sent (and a status frame when it changed)."""
        async with self.sending:
            while True:
                reply = await self.clients.consultation.ListChatMessages(
                    pb.ListChatMessagesRequest(
                        conversation_id=self.conversation_id, after_seq=self.last_seq, limit=100
                    )
                )
                conversation = reply.conversation if reply.HasField("conversation") else None
                if conversation is not None and conversation.id != self.conversation_id:
                    self._watch(conversation.id)
                if first:
                    first = False
                    shown = Conversation.from_proto(conversation).model_dump() if conversation else None
                    await self.send({"type": "ready", "conversation": shown, "after": self.last_seq})
                    self.status = conversation.status if conversation else ""
                for message in reply.messages:
                    if message.seq <= self.last_seq:
                        continue
                    await self.send(ChatMessage.from_proto(message).frame())
                    self.last_seq = message.seq
                if conversation is not None and conversation.status != self.status:
                    self.status = conversation.status
                    await self.send(
                        {
                            "type": "status",
                            "conversation_id": conversation.id,
                            "status": conversation.status,
                            "agent_id": conversation.agent_id or None,
                        }
                    )
                if not reply.more:
                    return

    async def pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.poll_seconds)
            self.woken.clear()
            await self.deliver()

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "message":
            body = frame.get("body")
            client_message_id = frame.get("client_message_id", "")
            request_agent = frame.get("request_agent", False)
            if not isinstance(body, str) or not body.strip():
                await self.send(_error_frame(422, "must be a non-empty string", "body"))
                return
            if not isinstance(client_message_id, str):
                await self.send(_error_frame(422, "must be a string", "client_message_id"))
                return
            if not isinstance(request_agent, bool):
                await self.send(_error_frame(422, "must be true or false", "request_agent"))
                return
            # Under the sending lock: the ack always comes before the message frames it caused.
            async with self.sending:
                reply = await self.clients.consultation.PostChatMessage(
                    pb.PostChatMessageRequest(
                        # A client writes in their open conversation (a new one once theirs was closed).
                        conversation_id="" if self.principal.is_client else self.conversation_id,
                        body=body,
                        client_message_id=client_message_id,
                        request_agent=request_agent,
                    )
                )
                if reply.conversation.id != self.conversation_id:
                    self._watch(reply.conversation.id)
                own = reply.messages[0] if reply.messages else None
                await self.send(
                    {
                        "type": "ack",
                        "conversation_id": reply.conversation.id,
                        "client_message_id": client_message_id or None,
                        "seq": own.seq if own else None,
                    }
                )
            self.woken.set()
        elif kind in ("pickup", "close"):
            if not self.conversation_id:
                await self.send(_error_frame(409, "there is no conversation yet", "conversation_id"))
                return
            if kind == "pickup":
                await self.clients.consultation.PickUpChat(
                    pb.PickUpChatRequest(conversation_id=self.conversation_id)
                )
            else:
                await self.clients.consultation.CloseChat(
                    pb.CloseChatRequest(conversation_id=self.conversation_id)
                )
            self.woken.set()
        else:
            await self.send(_error_frame(422, "must be one of message, pickup, close, ping", "type"))

    async def receive(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                frame = json.loads(text)
            except ValueError:
                await self.send(_error_frame(400, "a frame must be a JSON object", "body"))
                continue
            if not isinstance(frame, dict):
                await self.send(_error_frame(400, "a frame must be a JSON object", "body"))
                continue
            # The same limits as every HTTP route (services.gateway.validation): a NUL in a message would
            # fail the service's insert, and a problem frame echoing a lone surrogate could not be sent.
            unstorable = request_problems({"frame": frame}, {"frame": ()})
            if unstorable:
                first = unstorable[0]
                field = ".".join(str(part) for part in first["loc"]) or "body"
                await self.send(_error_frame(422, first["msg"], printable(field)))
                continue
            try:
                await self.handle(frame)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    raise
                await self.send(_problem_frame(exc))

    async def run(self) -> None:
        if self.conversation_id:
            self._watch(self.conversation_id)
        try:
            await self.deliver(first=True)
            await _until_either_ends(self.pump(), self.receive())
        finally:
            if self.conversation_id and self.waker is not None:
                self.waker.discard(self.conversation_id, self.woken)


class QueueSession:
    """An agent's socket without a conversation: the queue (`{"type": "queue", "items": [...]}`) at once and
    again whenever a conversation is queued, picked up or closed (on any gateway), so agents see new work
    without polling. Agents open a conversation's own socket to serve it."""

    def __init__(self, websocket: WebSocket, clients: Clients, waker: ChatWaker | None) -> None:
        self.websocket = websocket
        self.clients = clients
        self.waker = waker
        self.woken = asyncio.Event()
        self.poll_seconds = POLL_SECONDS_WITH_BUS if waker is not None else POLL_SECONDS

    async def send_queue(self) -> None:
        reply = await self.clients.consultation.ListChatQueue(pb.ListChatQueueRequest())
        items = [Conversation.from_proto(row).model_dump() for row in reply.conversations]
        await self.websocket.send_text(json.dumps({"type": "queue", "items": items}, ensure_ascii=False))

    async def pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.poll_seconds)
            self.woken.clear()
            await self.send_queue()

    async def receive(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                frame = json.loads(text)
            except ValueError:
                frame = None
            if isinstance(frame, dict) and frame.get("type") == "ping":
                await self.websocket.send_text(json.dumps({"type": "pong"}))
            else:
                error = _error_frame(
                    422, "a queue socket takes ping only; open a conversation to serve it", "type"
                )
                await self.websocket.send_text(json.dumps(error))

    async def run(self) -> None:
        if self.waker is not None:
            self.waker.add_queue_watcher(self.woken)
        try:
            await self.websocket.send_text(json.dumps({"type": "ready", "conversation": None, "after": 0}))
            await self.send_queue()
            await _until_either_ends(self.pump(), self.receive())
        finally:
            if self.waker is not None:
                self.waker.discard_queue_watcher(self.woken)


@router.websocket("/api/v1/chat")
async def chat_socket(websocket: WebSocket) -> None:
    """Instant chat (see the module's docstring for the protocol)."""
    token, offered = _credentials(websocket)
    if not token:
        await websocket.close(CLOSE_UNAUTHENTICATED, "sign in: offer the subprotocol bearer.<access_token>")
        return
    try:
        principal = await websocket.app.state.verifier.verify(token)
    except DomainError:
        await websocket.close(CLOSE_UNAUTHENTICATED, "the access token was refused")
        return
    if not principal.has_role(*CHAT_ROLES):
        await websocket.close(CLOSE_FORBIDDEN, "your role does not chat")
        return
    principal_var.set(principal)
    access_token_var.set(token)
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    conversation_id = websocket.query_params.get("conversation_id", "")
    try:
        after = int(websocket.query_params.get("after", "0"))
        if not 0 <= after <= INT32_MAX:  # a sequence number: an `integer` column
            raise ValueError
    except ValueError:
        await websocket.send_text(
            json.dumps(_error_frame(422, f"must be a whole number from 0 to {INT32_MAX}", "after"))
        )
        await websocket.close(CLOSE_BAD_REQUEST)
        return
    if problem := text_problem(conversation_id):
        await websocket.send_text(json.dumps(_error_frame(422, problem, "conversation_id")))
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
            await websocket.send_text(json.dumps(_problem_frame(exc), ensure_ascii=False))
        code = CLOSE_BAD_REQUEST if exc.code() != grpc.StatusCode.UNAVAILABLE else 1011
        with contextlib.suppress(Exception):
            await websocket.close(code)


# --- REST: the same conversation without a socket, and the agents' side ------------------------------------


class PostChatMessage(RequestModel):
    conversation_id: str | None = Field(
        default=None, max_length=200, description="Clients: empty for their open one."
    )
    body: str = Field(min_length=1, max_length=4000)
    client_message_id: str | None = Field(default=None, max_length=100, description="Deduplicates a resend.")
    request_agent: bool = False


class PostedChat(BaseModel):
    conversation: Conversation
    messages: list[ChatMessage]


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
    """A client's purchase intent with its reasons and their recent activity (R-CS-2), for following up."""
    reply = await clients.consultation.GetPurchaseIntent(pb.GetPurchaseIntentRequest(client_id=client_id))
    return ClientInsight(
        purchase_intent=PurchaseIntent.from_proto(reply.purchase_intent),
        client_activity=await _activity(clients, client_id),
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


class StartChat(RequestModel):
    body: str = Field(min_length=1, max_length=4000)


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
