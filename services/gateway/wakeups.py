"""Wake-ups from the event bus for the gateway's long-lived connections (the inbox stream, chat sockets).

A waker is a plain NATS subscription, not a durable consumer: the connections it wakes read their data from
the owning service, so a missed wake-up only delays news until the connection's next poll. Waiters register
an `asyncio.Event` under a key (a user, a conversation); an event for that key sets each of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Self

import nats
from nats.aio.msg import Msg

from services.runtime.config import Settings
from services.runtime.events import connect_nats

log = logging.getLogger(__name__)


class BusWaker:
    """Subclasses name the subject suffix they follow, their connection name and what the connections do
    without a bus, and turn each message into `wake(key)` calls in `_on_event`."""

    SUBJECT: ClassVar[str]
    CONNECTION_NAME: ClassVar[str]
    WITHOUT_BUS: ClassVar[str]  # logged when NATS cannot be reached

    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._nc: nats.NATS | None = None

    @classmethod
    async def connect(cls, settings: Settings) -> Self | None:
        """Subscribed and ready, or None when NATS cannot be reached or refuses the gateway's user (the
        connections then poll more often; the reason is logged)."""
        waker = cls()
        try:
            waker._nc = await connect_nats(settings, cls.CONNECTION_NAME, connect_timeout=2)
            await waker._nc.subscribe(settings.subject(cls.SUBJECT), cb=waker._on_event)
            await waker._nc.flush()
        except Exception:
            log.warning(cls.WITHOUT_BUS, exc_info=True)
            await waker.close()
            return None
        return waker

    async def _on_event(self, msg: Msg) -> None:
        raise NotImplementedError

    def wake(self, key: str) -> None:
        for event in self._watchers.get(key, ()):
            event.set()

    def add(self, key: str, event: asyncio.Event) -> None:
        self._watchers[key].add(event)

    def discard(self, key: str, event: asyncio.Event) -> None:
        watchers = self._watchers.get(key)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[key]

    @contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self.add(key, event)
        try:
            yield event
        finally:
            self.discard(key, event)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 5.0)
            self._nc = None
