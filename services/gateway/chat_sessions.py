"""What happens on an open chat socket (the protocol is in services/gateway/routes/chat.py): a client's or an
agent's conversation (`ChatSession`), or an agent's queue (`QueueSession`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any

import grpc
from fastapi import WebSocket

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.chat_waker import ChatWaker
from services.gateway.clients import Clients
from services.gateway.problems import grpc_problem
from services.gateway.schemas.chat import ChatMessage, Conversation
from services.gateway.validation import printable, request_problems
from services.runtime.context import Principal
from services.runtime.service import cancel_all

# How often an open socket reads the conversation when nothing woke it: a safety net with the event bus,
# the only way without it.
POLL_SECONDS = 2.0
POLL_SECONDS_WITH_BUS = 20.0


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


def problem_frame(exc: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The problem+json body as an error frame; the problem's `type` URI moves to `problem_type`."""
    body = json.loads(bytes(grpc_problem(exc).body))
    body["problem_type"] = body.pop("type")
    return {"type": "error", **body}


def error_frame(status_code: int, detail: str, field: str = "") -> dict[str, Any]:
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
                await self.send(error_frame(422, "must be a non-empty string", "body"))
                return
            if not isinstance(client_message_id, str):
                await self.send(error_frame(422, "must be a string", "client_message_id"))
                return
            if not isinstance(request_agent, bool):
                await self.send(error_frame(422, "must be true or false", "request_agent"))
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
                await self.send(error_frame(409, "there is no conversation yet", "conversation_id"))
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
            await self.send(error_frame(422, "must be one of message, pickup, close, ping", "type"))

    async def receive(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                frame = json.loads(text)
            except ValueError:
                await self.send(error_frame(400, "a frame must be a JSON object", "body"))
                continue
            if not isinstance(frame, dict):
                await self.send(error_frame(400, "a frame must be a JSON object", "body"))
                continue
            # The same limits as every HTTP route (services.gateway.validation): a NUL in a message would
            # fail the service's insert, and a problem frame echoing a lone surrogate could not be sent.
            unstorable = request_problems({"frame": frame}, {"frame": ()})
            if unstorable:
                first = unstorable[0]
                field = ".".join(str(part) for part in first["loc"]) or "body"
                await self.send(error_frame(422, first["msg"], printable(field)))
                continue
            try:
                await self.handle(frame)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    raise
                await self.send(problem_frame(exc))

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
                error = error_frame(
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
