"""What any caller may send the gateway (issue 17, R-OPS-3): bodies no larger than the route allows (413),
a rate per client address and per access token (429 with Retry-After), health probes never limited, and a
client address taken from X-Forwarded-For only when a configured trusted proxy sent it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from services.gateway.config import GatewaySettings
from services.gateway.limits import BodyLimit, RequestLimits
from services.gateway.main import server_config

PROBLEM = "application/problem+json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A route stand-in: answers 200 with the size of the body it received and the client it saw."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    client = scope.get("client") or ("", 0)
    body = f"{size} {client[0]}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def limited(clock: Clock | None = None, **settings: Any) -> httpx.AsyncClient:
    app = RequestLimits(
        echo,
        GatewaySettings(env="test", **settings),
        body_limits=[BodyLimit(re.compile(r"/upload/[^/]+"), 10 * 1024 * 1024)],
        clock=clock or Clock(),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with limited(gateway_rate_per_ip=0, gateway_rate_per_token=0) as http:
        yield http


async def test_a_body_over_the_default_limit_is_413_before_any_route(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/v1/orders", content=b"x" * (1024 * 1024 + 1))
    assert refused.status_code == 413 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"].endswith("/too_large") and "1048576" in refused.json()["detail"]
    accepted = await client.post("/api/v1/orders", content=b"x" * (1024 * 1024))
    assert (accepted.status_code, accepted.text.split()[0]) == (200, str(1024 * 1024))


async def test_a_chunked_body_without_a_length_is_counted_as_it_arrives(client: httpx.AsyncClient) -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield b"y" * (256 * 1024)

    assert (await client.post("/api/v1/orders", content=chunks(5))).status_code == 413
    whole = await client.post("/api/v1/orders", content=chunks(4))
    assert (whole.status_code, whole.text.split()[0]) == (200, str(1024 * 1024))


async def test_a_route_with_its_own_maximum_takes_larger_bodies_and_a_bad_length_is_refused(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/upload/o1", content=b"z" * (3 * 1024 * 1024))).status_code == 200
    assert (await client.post("/upload/o1", content=b"z" * (10 * 1024 * 1024 + 1))).status_code == 413
    assert (await client.post("/upload/o1/more", content=b"z" * (3 * 1024 * 1024))).status_code == 413
    bad = await client.post("/api/v1/orders", content=b"{}", headers={"content-length": "-1"})
    assert bad.status_code in (400, 413)  # h11 refuses it first when it can; never a route


async def test_one_address_past_its_budget_gets_429_with_retry_after_then_recovers() -> None:
    clock = Clock()
    async with limited(
        clock, gateway_rate_per_ip=1, gateway_burst_per_ip=3, gateway_rate_per_token=0
    ) as http:
        assert [(await http.get("/api/v1/products")).status_code for _ in range(3)] == [200, 200, 200]
        refused = await http.get("/api/v1/products")
        assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
        assert refused.headers["retry-after"] == "1" and refused.json()["type"].endswith("/rate_limited")
        # Probes answer whatever the load, or a busy pod would be taken out of service.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        clock.now += 1.0
        assert (await http.get("/api/v1/products")).status_code == 200
        assert (await http.get("/api/v1/products")).status_code == 429


async def test_each_access_token_has_its_own_budget_and_a_forged_one_spends_only_its_own() -> None:
    clock = Clock()
    async with limited(
        clock, gateway_rate_per_ip=0, gateway_rate_per_token=0.5, gateway_burst_per_token=2
    ) as http:
        busy = {"authorization": "Bearer token-of-a-busy-client"}
        assert [(await http.get("/x", headers=busy)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await http.get("/x", headers=busy)).headers["retry-after"] == "2"
        other = {"authorization": "Bearer another-token"}
        assert (await http.get("/x", headers=other)).status_code == 200
        assert (await http.get("/x")).status_code == 200  # anonymous: only the address budget applies


async def test_forwarded_for_is_believed_only_from_a_configured_trusted_proxy() -> None:
    spoofed = {"x-forwarded-for": "203.0.113.9"}

    async def client_seen(settings: GatewaySettings, peer: str = "10.1.2.3") -> str:
        config = server_config(settings, echo)
        config.load()  # wraps the app as uvicorn serves it (ProxyHeadersMiddleware when configured)
        transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return (await http.get("/", headers=spoofed)).text.split()[1]

    assert await client_seen(GatewaySettings(env="test")) == "10.1.2.3"
    # uvicorn's own default trusts 127.0.0.1: any process on the gateway's host could pick its address.
    assert await client_seen(GatewaySettings(env="test"), peer="127.0.0.1") == "127.0.0.1"
    assert await client_seen(GatewaySettings(env="test", gateway_trusted_proxies="10.1.2.3")) == "203.0.113.9"
    assert (
        await client_seen(GatewaySettings(env="test", gateway_trusted_proxies="10.0.0.0/8")) == "203.0.113.9"
    )
    assert (
        await client_seen(GatewaySettings(env="test", gateway_trusted_proxies="192.168.0.0/16")) == "10.1.2.3"
    )
