"""The gateway's authorization matrix (R-ACC-4, R-PRIV-1 least privilege): every route of the app ×
{anonymous, another tenant's client, a same-tenant client, the client_admin, each staff role}.

The gateway either refuses a caller (401 without a token, 403 for a role the route does not admit), with
no call to any service, or passes the request on with the caller's verified token, so the service can
scope it by tenant again (another tenant's object is then 404; those service-side checks are tested
with each service, e.g. tests/integration/test_identity_flows.py::test_users_of_another_tenant_are_not_found).

A route without an entry in MATRIX (tests/support/authorization.py) fails `test_every_route_has_an_entry`: a
new route must say who may call it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.routing import RouteIndex
from tests.support.authorization import ACTORS, MATRIX, Actor
from tests.support.gateway import memory_export_files, not_found_clients
from tests.support.tokens import Issuer


def app_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers."""
    for route in routes:
        if isinstance(route, RouteIndex):
            continue  # it only hands requests to the routes behind it, which are listed themselves
        if hasattr(route, "path"):
            methods = getattr(route, "methods", None)
            if not methods:  # a WebSocket route
                yield "ANY", prefix + route.path
            for method in sorted(methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path
        elif hasattr(route, "original_router"):
            context_prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            yield from app_routes(route.original_router.routes, prefix + context_prefix)
        else:  # a mount or a websocket route: name it in MATRIX by its path
            yield "ANY", prefix + str(getattr(route, "path", repr(route)))


# --- fakes ------------------------------------------------------------------------------------------


@dataclass
class Gateway:
    keys: Issuer
    app: Any
    calls: list[tuple[str, str]]


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    """One app for the whole matrix (building one per case would cost a minute)."""
    keys = Issuer()
    calls: list[tuple[str, str]] = []
    app = create_app(
        GatewaySettings(
            env="test", secret_key="matrix-" * 6, gateway_rate_per_ip=0, gateway_rate_per_token=0
        ),
        clients=not_found_clients(calls),
        verifier=keys.verifier(),
    )
    app.state.export_files = memory_export_files()
    return Gateway(keys, app, calls)


async def first_chunk(app: Any, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """GET a server-sent event stream: (status, content type, first body chunk). It drives the app
    directly, since httpx's ASGI transport waits for the whole body and a stream does not end by itself:
    the client goes away once the first chunk has arrived, which ends the stream."""
    messages: list[dict[str, Any]] = []
    first = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await first.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and (message.get("body") or not message.get("more_body")):
            first.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"gateway.test")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content_type = dict(start["headers"]).get(b"content-type", b"").decode()
    body = next(
        (m.get("body", b"") for m in messages if m["type"] == "http.response.body" and m.get("body")), b""
    )
    return start["status"], content_type, body.decode()


async def first_frame(
    app: Any, path: str, query: dict[str, str], headers: dict[str, str]
) -> tuple[int, str, str]:
    """Open a WebSocket by driving the app directly: (status, "websocket", first frame). A refusal before
    the handshake is its close code as an HTTP status (4401 → 401, 4403 → 403); an admitted socket reports
    the service's answer in its first frame (an error frame carries the problem's status)."""
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await answered.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] in ("websocket.send", "websocket.close"):
            answered.set()

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": "&".join(f"{k}={v}" for k, v in query.items()).encode(),
        "headers": [(b"host", b"gateway.test")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
        "subprotocols": [],
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    first = next(m for m in sent if m["type"] in ("websocket.send", "websocket.close"))
    if first["type"] == "websocket.close":
        return int(first.get("code", 1000)) - 4000, "websocket", str(first.get("reason", ""))
    frame = json.loads(first["text"])
    status = int(frame.get("status", 200)) if frame.get("type") == "error" else 200
    return status, "websocket", first["text"]


# --- the matrix -------------------------------------------------------------------------------------


def test_every_route_has_an_entry() -> None:
    app = create_app(
        GatewaySettings(env="test", gateway_rate_per_ip=0, gateway_rate_per_token=0),
        clients=not_found_clients([]),
        verifier=Issuer().verifier(),
    )
    routes = set(app_routes(list(app.routes)))
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without an authorization entry in MATRIX: {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"MATRIX entries for routes that do not exist: {stale}"


CASES = [(route, actor) for route in MATRIX for actor in ACTORS]


@pytest.mark.parametrize(("route", "actor"), CASES, ids=[f"{m} {p} as {a.name}" for (m, p), a in CASES])
async def test_route_admits_exactly_its_callers(
    route: tuple[str, str], actor: Actor, gateway: Gateway
) -> None:
    method, template = route
    entry = MATRIX[route]
    calls = gateway.calls
    calls.clear()
    app = gateway.app
    token = "" if actor.anonymous else actor.token(gateway.keys)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = (
        template.replace("{provider}", "demo")
        .replace("{number}", "1")
        .replace("{", "")
        .replace("}", "")
        .replace("_id", "-x1")
    )
    if entry.stream:
        status, content_type, text = await first_chunk(app, path, headers)
    elif entry.websocket:
        status, content_type, text = await first_frame(app, path, entry.query, headers)
    else:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test", cookies=entry.cookies
        ) as http:
            response = await http.request(
                method,
                path,
                json=entry.body,
                files=entry.files,
                data=entry.form,
                params=entry.query,
                headers=headers,
            )
        status, content_type, text = (
            response.status_code,
            response.headers.get("content-type", ""),
            response.text,
        )

    if not entry.access.admits(actor):
        expected = 401 if actor.anonymous else 403
        assert status == expected, text
        assert calls == [], "a refused caller must not reach any service"
        return
    if entry.parties_only:
        # The fake service knows no such object, so no caller is a party: asked, then refused.
        assert calls and status == 403, text
        assert {token_sent for _, token_sent in calls} == {token}
        return
    assert status not in (401, 403), text
    assert status < 500, text
    if entry.access.local:
        assert status == 200
        return
    if entry.access.own_store:
        assert status == 404 and calls == [], text
        return
    # Passed on, with the caller's own verified token, for the service to scope by tenant; routes open
    # to everyone may not look at a token at all, and then forward none.
    assert calls, f"{method} {template} called no service"
    forwarded = {token_sent for _, token_sent in calls}
    assert forwarded == {token} or (entry.access.public and forwarded == {""}), forwarded
    if entry.stream:
        # A stream opens at once and reports the service's answer in it, as a comment.
        assert status == 200 and content_type.startswith("text/event-stream"), (status, text)
        assert "the inbox is unavailable" in text, text
        return
    assert status == 404  # what the (fake) service answered
