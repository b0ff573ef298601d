"""The platform's own licences (ICP licence number, business licence) in every page's footer, from
`GET /api/v1/platform`. They change with a deployment, not per page: read in the background when the portal
starts and again every few minutes, in the background (the product list renders in ~5 ms): a page waits
only for the first read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session

# How long a read is shown before it is read again; after a failed read, how soon it is tried again.
FRESH_SECONDS = 300.0
RETRY_SECONDS = 5.0
# How long a page waits for the first read (the portal may start before the gateway answers).
FIRST_READ_WAIT_SECONDS = 1.0


class PlatformLicences:
    """The last `GET /api/v1/platform` answer (None before the first that worked: the footer leaves them out
    rather than a page waiting or failing for them)."""

    def __init__(self, gateway: Gateway) -> None:
        self.current: dict[str, Any] | None = None
        self._gateway = gateway
        self._next_read_at = 0.0
        self._reading: asyncio.Task[None] | None = None

    def refresh_when_due(self) -> None:
        """Starts a background read when the last one is due for renewal (and none is under way)."""
        if time.monotonic() < self._next_read_at or (self._reading and not self._reading.done()):
            return
        self._reading = asyncio.get_running_loop().create_task(self._read())

    async def first_read(self) -> None:
        """Until a read has worked, a page waits a moment for one (started when due), so the first pages
        after a start have the footer too; after that, never."""
        if self.current is not None:
            return
        self.refresh_when_due()
        if self._reading and not self._reading.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reading), FIRST_READ_WAIT_SECONDS)

    async def stop(self) -> None:
        if self._reading and not self._reading.done():
            self._reading.cancel()

    async def _read(self) -> None:
        try:
            self.current = await self._gateway.call(Session(), "GET", "/api/v1/platform", signed_in=False)
            self._next_read_at = time.monotonic() + FRESH_SECONDS
        except (GatewayError, httpx.HTTPError) as exc:
            logging.getLogger(__name__).warning("the platform's licences could not be read: %s", exc)
            self._next_read_at = time.monotonic() + RETRY_SECONDS
