"""The chat sockets' wake-up from the event bus (see services/gateway/wakeups.py)."""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from services.gateway.wakeups import BusWaker

log = logging.getLogger(__name__)


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
