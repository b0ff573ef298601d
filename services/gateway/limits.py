"""What any caller may send the gateway, before a route sees it (R-OPS-3): a body no larger than its route
allows (413) and no more requests than a per-address and a per-token budget (429 with Retry-After).

A plain ASGI middleware in front of routing, so a flood or an oversized body costs a dictionary look-up and
never reaches token verification, a route or a peer service. The client address is the TCP peer's, or the
one a trusted proxy named (uvicorn rewrites it from X-Forwarded-For only for `gateway_trusted_proxies`)."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.config import GatewaySettings
from services.gateway.problems import problem

# Probes must answer whatever the load: a limited readiness probe would take a healthy pod out of service.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Buckets kept at most (least recently used dropped first): bounds memory under a spray of addresses.
MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class BodyLimit:
    """Routes (by path pattern) whose bodies may be larger or must be smaller than the default."""

    pattern: re.Pattern[str]
    max_bytes: int


class TokenBuckets:
    """One token bucket per key: `rate` tokens a second up to `burst`; a request takes one."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until the key has a token again."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        settings: GatewaySettings,
        body_limits: Sequence[BodyLimit] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.max_body = settings.gateway_max_body_bytes
        self.body_limits = tuple(body_limits)
        self.per_address = (
            TokenBuckets(settings.gateway_rate_per_ip, settings.gateway_burst_per_ip, clock)
            if settings.gateway_rate_per_ip > 0
            else None
        )
        self.per_token = (
            TokenBuckets(settings.gateway_rate_per_token, settings.gateway_burst_per_token, clock)
            if settings.gateway_rate_per_token > 0
            else None
        )

    def body_limit(self, path: str) -> int:
        for limit in self.body_limits:
            if limit.pattern.fullmatch(path):
                return limit.max_bytes
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        wait = self._wait(scope, headers)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            refused = problem(
                429,
                "Too many requests; slow down.",
                reason="rate_limited",
                headers={"Retry-After": retry_after},
            )
            await refused(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.body_limit(scope["path"])
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._too_large(limit, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No length declared (chunked): read the body here, up to the limit, and hand it on whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._too_large(limit, scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    def _wait(self, scope: Scope, headers: Headers) -> float:
        waits = [0.0]
        if self.per_address is not None:
            client = scope.get("client")
            waits.append(self.per_address.take(client[0] if client else ""))
        authorization = headers.get("authorization", "")
        if self.per_token is not None and authorization:
            # Keyed by the token itself, never by a claim read before the signature is checked: a forged
            # `sub` must not spend somebody else's budget.
            waits.append(self.per_token.take(hashlib.sha256(authorization.encode()).hexdigest()))
        return max(waits)

    @staticmethod
    async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        refused = problem(
            413,
            f"The request body must be at most {limit} bytes.",
            reason="too_large",
            headers={"Connection": "close"},  # the rest of the body is not read
        )
        await refused(scope, receive, send)


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A `receive` that gives `messages` first, then the server's own (which reports the disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else await then()

    return receive
