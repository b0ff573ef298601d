"""The gateway's route index (`services/gateway/routing.py`) must choose exactly the route a scan of the
route table would, for every route of the API (API.md's paths), while trying only a few of them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Match

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.routing import RouteIndex, add_routes, api_router


def gateway() -> FastAPI:
    return create_app(GatewaySettings(env="test"), clients=None)


def index_of(app: FastAPI) -> RouteIndex:
    return next(route for route in app.router.routes if isinstance(route, RouteIndex))


def scope(method: str, path: str, kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def scanned(app: FastAPI, request: dict[str, Any]) -> tuple[Match, BaseRoute | None]:
    """What a route-by-route scan of the table behind the index finds: the first full match, else the
    first partial one."""
    routes = app.router.routes
    partial = None
    for route in routes[routes.index(index_of(app)) + 1 :]:
        match, _ = route.matches(request)
        if match is Match.FULL:
            return match, route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return (Match.PARTIAL, partial) if partial else (Match.NONE, None)


def indexed(app: FastAPI, request: dict[str, Any]) -> tuple[Match, BaseRoute | None]:
    match, child_scope = index_of(app).matches(request)
    return match, child_scope.get("route")


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "p-1", template)


def requests_for_every_route(app: FastAPI) -> list[dict[str, Any]]:
    requests = []
    for route in app.router.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                requests.append(scope(method, concrete(route.path)))
            requests.append(scope("PATCH" if "PATCH" not in route.methods else "PUT", concrete(route.path)))
            requests.append(scope("GET", concrete(route.path) + "/"))
            requests.append(scope("GET", concrete(route.path) + "/more"))
        elif isinstance(route, APIWebSocketRoute):
            requests.append(scope("GET", concrete(route.path), kind="websocket"))
    return requests


def test_the_index_chooses_what_a_scan_of_the_table_chooses_for_every_route() -> None:
    app = gateway()
    requests = requests_for_every_route(app)
    assert len(requests) > 400
    for request in requests:
        assert indexed(app, request) == scanned(app, request), request


def test_the_index_tries_only_routes_sharing_the_paths_literal_segments() -> None:
    app = gateway()
    table = len(app.router.routes)
    candidates = index_of(app).candidates("/api/v1/products/p-1")
    assert 0 < len(candidates) < 10 < table
    assert all(candidate.path.startswith("/api/v1/products") for candidate in candidates)  # type: ignore[attr-defined]


def test_a_route_added_after_the_app_was_built_is_found() -> None:
    app = gateway()

    @app.get("/api/v1/late/{thing}")
    async def late(thing: str) -> dict[str, str]:
        return {"thing": thing}

    match, route = indexed(app, scope("GET", "/api/v1/late/x"))
    assert match is Match.FULL and route is app.router.routes[-1]


def test_behind_a_root_path_the_index_steps_aside_for_the_scan() -> None:
    app = gateway()
    request = {**scope("GET", "/prefix/api/v1/products/p-1"), "root_path": "/prefix"}
    assert index_of(app).matches(request) == (Match.NONE, {})
    assert scanned(app, request)[0] is Match.FULL


@pytest.fixture
async def client() -> Any:
    app = FastAPI()
    router = api_router("test")

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @router.get("/things/special")  # declared after the template: the template wins, as in a scan
    async def special() -> dict[str, str]:
        return {"thing": "never"}

    add_routes(app, router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def test_requests_reach_their_route_and_table_order_decides(client: httpx.AsyncClient) -> None:
    assert (await client.get("/things/7")).json() == {"thing": "7"}
    assert (await client.get("/things/special")).json() == {"thing": "special"}
    assert (await client.delete("/things/7")).status_code == 405
    assert (await client.get("/nothing")).status_code == 404
    redirected = await client.get("/things/7/")
    assert redirected.status_code == 307 and redirected.headers["location"].endswith("/things/7")
