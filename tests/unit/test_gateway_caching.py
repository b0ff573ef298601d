"""The gateway's brief cache of anonymous catalog reads: fresh for its TTL, and when an entry expires one
request refreshes it while the others keep the old body (stale-while-revalidate, RFC 5861), so a popular
page does not send every concurrent request to the catalog service at once."""

from __future__ import annotations

from services.gateway.caching import REFRESH_CLAIM_SECONDS, PublicReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fresh_entry_is_served_with_its_etag() -> None:
    clock = Clock()
    cache = PublicReadCache(ttl=2.0, clock=clock)
    assert cache.get("/p") is None
    etag = cache.put("/p", b'{"id":"p"}')
    assert cache.get("/p") == (b'{"id":"p"}', etag)
    assert etag.startswith('"') and len(etag) == 34


def test_one_request_refreshes_an_expired_entry_while_the_others_get_the_old_body() -> None:
    clock = Clock()
    cache = PublicReadCache(ttl=2.0, stale_grace=2.0, clock=clock)
    old_etag = cache.put("/p", b"old")
    clock.now += 2.5
    assert cache.get("/p") is None  # this request asks the service
    assert cache.get("/p") == (b"old", old_etag)  # concurrent requests meanwhile
    assert cache.get("/p") == (b"old", old_etag)
    new_etag = cache.put("/p", b"new")
    assert cache.get("/p") == (b"new", new_etag)


def test_a_failed_refresh_is_retried_by_a_later_request() -> None:
    clock = Clock()
    cache = PublicReadCache(ttl=2.0, stale_grace=5.0, clock=clock)
    cache.put("/p", b"old")
    clock.now += 2.1
    assert cache.get("/p") is None  # claims the refresh, then fails: never calls put
    assert cache.get("/p") is not None
    clock.now += REFRESH_CLAIM_SECONDS
    assert cache.get("/p") is None  # the claim lapsed: the next request asks the service


def test_nothing_older_than_the_grace_is_served() -> None:
    clock = Clock()
    cache = PublicReadCache(ttl=2.0, stale_grace=2.0, clock=clock)
    cache.put("/p", b"old")
    clock.now += 4.0
    assert cache.get("/p") is None
    assert cache.get("/p") is None  # the entry is gone, not claimed


def test_a_write_clears_everything_and_the_oldest_entries_go_first() -> None:
    cache = PublicReadCache(max_entries=2)
    for key in ("/a", "/b", "/c"):
        cache.put(key, key.encode())
    assert cache.get("/a") is None and cache.get("/c") is not None
    cache.clear()
    assert cache.get("/b") is None and cache.get("/c") is None
