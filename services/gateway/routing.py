"""How the gateway declares its routes and finds the one a request is for.

Starlette and FastAPI try routes one by one, in order, on every request. With the gateway's ~110 routes that
was a fifth of the gateway's CPU per request for a route near the end of the table (bench `gateway
overhead`, py-spy), and FastAPI 0.165's `include_router` made each try dearer still: an included router is a
branch matched through per-route context bookkeeping, and matched twice. So:
- `add_routes` puts the routers' routes on the app itself, as earlier FastAPI versions did (the gateway's
  routers carry nothing of their own to apply at inclusion: no prefix, no dependencies);
- a `RouteIndex` in front of them picks the few routes whose literal path segments lead to the request's
  path and tries only those, in table order. The routes stay in the table behind it, so OpenAPI, `url_for`,
  405s and slash redirects work as before; a path the index finds nothing for falls through to the scan."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from services.gateway.problems import PROBLEM_MEDIA_TYPE
from services.gateway.schemas.common import Problem
from services.gateway.validation import CheckedRoute

# Every operation may answer a problem; 422 replaces FastAPI's own validation-error schema.
_PROBLEM = {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": "RFC 9457 problem details"}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {422: _PROBLEM, "4XX": _PROBLEM, "5XX": _PROBLEM}

# Routes matched by one path regex, so a route's literal path head bounds the paths it can match. Anything
# else (a Mount, a Host, an included router) is tried for every path.
_PATH_ROUTES = (APIRoute, APIWebSocketRoute, Route, WebSocketRoute)


def api_router(*tags: str) -> APIRouter:
    """The router of one area of the API (one module of `routes/`), documented under `tags`. Its routes refuse
    values no service can store (`validation.CheckedRoute`)."""
    return APIRouter(tags=list(tags), responses=PROBLEM_RESPONSES, route_class=CheckedRoute)


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Puts the routers' routes on the app itself, in order, behind the app's `RouteIndex`."""
    if not any(isinstance(route, RouteIndex) for route in app.router.routes):
        app.router.routes.append(RouteIndex(app.router))
    for router in routers:
        app.router.routes.extend(router.routes)


class _Node:
    __slots__ = ("children", "routes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.routes: list[tuple[int, BaseRoute]] = []  # (position in the table, route)


def _literal_segments(route: BaseRoute) -> list[str] | None:
    """The whole path segments before the route's first parameter; None when the route's kind does not
    bound its paths by a head."""
    if not isinstance(route, _PATH_ROUTES):
        return None
    head = route.path.split("{", 1)[0]
    segments = head.split("/")[1:]
    if "{" in route.path:
        segments.pop()  # the segment holding the first parameter (possibly after a literal part)
    return segments


class RouteIndex(BaseRoute):
    """Matches a request against only the routes after it in the table whose literal segments are a prefix
    of the request's path, in table order, and hands the request to the one that matched. Rebuilt when the
    table's length changes (routes added after the app was created, as the benchmark's no-op route is)."""

    def __init__(self, router: APIRouter) -> None:
        self._router = router
        self._indexed_length = -1
        self._root = _Node()

    def _refresh(self) -> None:
        routes = self._router.routes
        if len(routes) == self._indexed_length:
            return
        root = _Node()
        for position, route in enumerate(routes[routes.index(self) + 1 :]):
            node = root
            for segment in _literal_segments(route) or []:
                node = node.children.setdefault(segment, _Node())
            node.routes.append((position, route))
        self._root, self._indexed_length = root, len(routes)

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that may match `path`, in table order."""
        self._refresh()
        node = self._root
        found = list(node.routes)
        for segment in path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
            found += node.routes
        found.sort(key=lambda entry: entry[0])
        return [route for _, route in found]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Behind a root path the path to match is what follows it; the scan after the index handles that.
        if scope["type"] not in ("http", "websocket") or scope.get("root_path"):
            return Match.NONE, {}
        partial: Scope | None = None
        for route in self.candidates(scope["path"]):
            match, child_scope = route.matches(scope)
            if match is Match.NONE:
                continue
            child_scope["route"] = route  # what `handle` hands the request to
            if match is Match.FULL:
                return match, child_scope
            if partial is None:
                partial = child_scope
        if partial is not None:
            return Match.PARTIAL, partial
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope["route"]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)  # the routes behind the index answer for themselves
