"""Fast public reads (issue 4): conditional GETs and a brief in-process cache.

* Every public catalog read carries an `ETag` over its exact JSON body and answers `304 Not Modified` when
  the client's `If-None-Match` names it (RFC 9110 §13.1.2). Responses differ by caller (staff see licence
  numbers), so shared caches must key on Authorization (`Vary`) and revalidate (`no-cache`).
* Anonymous reads are kept for `PUBLIC_READ_TTL_SECONDS` in this gateway process; every catalog write made
  through this gateway clears them. Writes made elsewhere (another replica, a firm over gRPC) show within
  the TTL. Signed-in reads always reach the service (their answer may be personal, and views are recorded).
* When an entry expires, one request refreshes it from the service while the others keep getting the old
  body for up to `STALE_GRACE_SECONDS` (stale-while-revalidate, RFC 5861): without this, every request
  arriving during the refresh went to the service too, the service slowed down, more requests missed, and
  a product page at a few hundred requests per second collapsed to the service's own uncached rate.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from pydantic import BaseModel

PUBLIC_READ_TTL_SECONDS = 2.0
STALE_GRACE_SECONDS = 2.0
# How long one request's claim to refresh an expired entry holds; if it fails, the next request claims.
REFRESH_CLAIM_SECONDS = 1.0
MAX_ENTRIES = 2000


@dataclass
class _Entry:
    expires: float
    body: bytes
    etag: str
    refreshing_until: float = 0.0  # a request is refreshing this entry until then


class PublicReadCache:
    """Anonymous response bodies by path and query, for a short time, least recently stored evicted first.
    `clock` is injectable for tests (monotonic seconds)."""

    def __init__(
        self,
        ttl: float = PUBLIC_READ_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        *,
        stale_grace: float = STALE_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.stale_grace = stale_grace
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The body and ETag to answer with, or None: this request should ask the service (and `put`)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self._clock()
        if now < entry.expires:
            return entry.body, entry.etag
        if now >= entry.expires + self.stale_grace:
            del self._entries[key]
            return None
        if now < entry.refreshing_until:
            return entry.body, entry.etag  # another request is refreshing it
        entry.refreshing_until = now + REFRESH_CLAIM_SECONDS
        return None

    def put(self, key: str, body: bytes) -> str:
        """Keep `body` for `ttl`; returns its ETag."""
        etag = _etag(body)
        self._entries[key] = _Entry(self._clock() + self.ttl, body, etag)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return etag

    def clear(self) -> None:
        self._entries.clear()


def _cache(request: Request) -> PublicReadCache:
    cache: PublicReadCache | None = getattr(request.app.state, "public_reads", None)
    if cache is None:
        cache = request.app.state.public_reads = PublicReadCache()
    return cache


def _key(request: Request) -> str | None:
    """The cache key of an anonymous read; None when the caller sent credentials."""
    if request.headers.get("authorization"):
        return None
    return f"{request.url.path}?{'&'.join(sorted(str(request.query_params).split('&')))}"


def _tags(header: str) -> set[str]:
    # Weak comparison: W/"x" and "x" match (RFC 9110 §8.8.3.2).
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _respond(request: Request, body: bytes, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Authorization"}
    wanted = _tags(request.headers.get("if-none-match", ""))
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def cached(request: Request) -> Response | None:
    """The answer to an anonymous read still in the cache (200 or 304), or None: ask the service."""
    key = _key(request)
    hit = _cache(request).get(key) if key else None
    return None if hit is None else _respond(request, *hit)


def conditional(request: Request, model: BaseModel) -> Response:
    """`model` as application/json with its ETag, or an empty 304 when the client already has it. Anonymous
    answers are kept briefly for `cached`."""
    body = model.model_dump_json().encode()
    key = _key(request)
    etag = _cache(request).put(key, body) if key else _etag(body)
    return _respond(request, body, etag)


def invalidate_public_reads(request: Request) -> None:
    """Call after a successful catalog write, so this gateway's next anonymous read sees it."""
    _cache(request).clear()
