"""The relay of WebRTC signalling (offer, answer, ICE candidates) between the two parties of an online call,
whichever gateway process each one's socket is on: a frame for a party is published on
`call_signal.<root>.<call_id>.<party>`, which only that party's socket subscribes to. Plain NATS, outside the
subject root on purpose: the event stream captures `<root>.>`, and signalling (SDP included) is never stored.
A frame for a party not connected yet is lost (routes/calls.py: the parties announce themselves). Without NATS (tests, a single process) frames go from socket to socket
within this process."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.aio.msg import Msg

from services.runtime.config import Settings
from services.runtime.events import connect_nats

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "call_signal"
# Frames waiting for a slow socket; beyond this the oldest are dropped rather than grow without bound.
QUEUED_FRAMES = 256


class SignalRelay:
    def __init__(self, settings: Settings, nc: nats.NATS | None = None) -> None:
        self._settings = settings
        self._nc = nc
        self._local: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)

    @classmethod
    async def connect(cls, settings: Settings) -> SignalRelay:
        """Over NATS when it can be reached; otherwise within this process (the reason is logged)."""
        try:
            nc = await connect_nats(settings, "counsel-gateway-call-signals")
        except Exception:
            log.warning("no event bus for call signalling; relaying within this process", exc_info=True)
            return cls(settings)
        return cls(settings, nc)

    @property
    def over_bus(self) -> bool:
        """Whether frames reach the other gateway processes (False: within this process only)."""
        return self._nc is not None

    def _subject(self, call_id: str, party: str) -> str:
        return f"{SUBJECT_PREFIX}.{self._settings.subject_root}.{call_id}.{party}"

    @asynccontextmanager
    async def joined(self, call_id: str, party: str) -> AsyncIterator[asyncio.Queue[bytes]]:
        """The frames sent to `party` of the call, for the block."""
        frames: asyncio.Queue[bytes] = asyncio.Queue(QUEUED_FRAMES)

        def deliver(frame: bytes) -> None:
            if frames.full():
                frames.get_nowait()
            frames.put_nowait(frame)

        if self._nc is None:
            key = self._subject(call_id, party)
            self._local[key].add(frames)
            try:
                yield frames
            finally:
                self._local[key].discard(frames)
                if not self._local[key]:
                    del self._local[key]
            return

        async def on_message(msg: Msg) -> None:
            deliver(msg.data)

        subscription = await self._nc.subscribe(self._subject(call_id, party), cb=on_message)
        await self._nc.flush()
        try:
            yield frames
        finally:
            await subscription.unsubscribe()

    async def send(self, call_id: str, party: str, frame: bytes) -> None:
        """Relay `frame` to `party`'s socket(s) of the call."""
        if self._nc is None:
            for queue in self._local.get(self._subject(call_id, party), ()):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(frame)
            return
        await self._nc.publish(self._subject(call_id, party), frame)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
