"""The platform's own licences (ICP licence number, business licence) in every page's footer, from
`GET /api/v1/platform`. They change with a deployment, not per page: one gateway call every few minutes, not
one per render (the product list renders in ~5 ms)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from fastapi.requests import HTTPConnection

from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session

# How long a read is shown before it is read again; after a failed read, how soon it is tried again.
FRESH_SECONDS = 300.0
RETRY_SECONDS = 30.0


class PlatformLicences:
    """The last `GET /api/v1/platform` answer (None before the first that worked: the footer leaves them out
    rather than a page failing for them)."""

    def __init__(self) -> None:
        self.current: dict[str, Any] | None = None
        self._next_read_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh_if_due(self, gateway: Gateway) -> None:
        if time.monotonic() < self._next_read_at:
            return
        async with self._lock:  # one read for the pages that find it due at once
            if time.monotonic() < self._next_read_at:
                return
            try:
                self.current = await gateway.call(Session(), "GET", "/api/v1/platform", signed_in=False)
                self._next_read_at = time.monotonic() + FRESH_SECONDS
            except (GatewayError, httpx.HTTPError) as exc:
                logging.getLogger(__name__).warning("the platform's licences could not be read: %s", exc)
                self._next_read_at = time.monotonic() + RETRY_SECONDS


async def read_licences(connection: HTTPConnection) -> None:
    """Every route's dependency: the licences read again when due, before the page renders its footer."""
    await connection.app.state.licences.refresh_if_due(connection.app.state.gateway)
