"""The gateway's authorization matrix (R-ACC-4, R-PRIV-1 least privilege): every route of the app ×
{anonymous, another tenant's client, a same-tenant client, the client_admin, each staff role}.

The gateway either refuses a caller (401 without a token, 403 for a role the route does not admit), with
no call to any service, or passes the request on with the caller's verified token, so the service can
scope it by tenant again (another tenant's object is then 404; those service-side checks are tested
with each service, e.g. tests/integration/test_identity_flows.py::test_users_of_another_tenant_are_not_found).

A route without an entry in MATRIX fails `test_every_route_has_an_entry`: a new route must say who may
call it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_health.v1 import health_pb2
from jwt.algorithms import OKPAlgorithm

from services.gateway.app import create_app
from services.gateway.clients import Clients
from services.gateway.routing import RouteIndex
from services.runtime.auth import TokenVerifier
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.context import access_token_var
from services.runtime.grpc_server import ERROR_DETAILS_KEY

ISSUER = "https://counsel.test/identity"
AUDIENCE = "counsel-api-test"
KID = "matrix-key"
STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor")


@dataclass(frozen=True)
class Actor:
    name: str
    roles: tuple[str, ...] = ()
    tenant: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.roles


ACTORS = (
    Actor("anonymous"),
    Actor("other_tenant_client", ("client",), "tenant-2"),
    Actor("same_tenant_client", ("client",), "tenant-1"),
    Actor("client_admin", ("client_admin",), "tenant-1"),
    *(Actor(role, (role,)) for role in STAFF_ROLES),
)


@dataclass(frozen=True)
class Access:
    """Who gets past the gateway: everyone (`public`), anyone signed in, or holders of `roles`."""

    public: bool = False
    roles: tuple[str, ...] = ()  # empty and not public: any signed-in user
    # A route that answers by itself (no service call), e.g. /healthz.
    local: bool = False

    def admits(self, actor: Actor) -> bool:
        if self.public:
            return True
        if actor.anonymous:
            return False
        return not self.roles or bool(set(self.roles) & set(actor.roles))


PUBLIC = Access(public=True)
LOCAL = Access(public=True, local=True)
SIGNED_IN = Access()


def roles(*names: str) -> Access:
    return Access(roles=names)


@dataclass(frozen=True)
class Entry:
    access: Access
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    # A multipart upload instead of a JSON body: field name → (file name, content, media type).
    files: dict[str, tuple[str, bytes, str]] | None = None
    # A server-sent event stream: admitted, it answers 200 at once and keeps going (see `first_chunk`).
    stream: bool = False
    # A WebSocket: refused before the handshake (close 4401/4403), or admitted and answering in frames.
    websocket: bool = False


LAWYER_PROFILE = {"name": "x", "fields": ["contract"], "years_of_practice": 3}


# (method, path template) → who may call it and a well-formed request. Path parameters are filled in
# with "x1". Keep it in the order of the app's routers.
MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/openapi.json"): Entry(LOCAL),
    ("GET", "/docs"): Entry(LOCAL),
    ("GET", "/docs/oauth2-redirect"): Entry(LOCAL),
    ("GET", "/redoc"): Entry(LOCAL),
    ("GET", "/docs/assets/swagger-ui-bundle.js"): Entry(LOCAL),
    ("GET", "/docs/assets/swagger-ui.css"): Entry(LOCAL),
    ("GET", "/docs/assets/redoc.standalone.js"): Entry(LOCAL),
    ("GET", "/docs/assets/favicon.png"): Entry(LOCAL),
    ("GET", "/healthz"): Entry(LOCAL),
    ("GET", "/readyz"): Entry(LOCAL),
    # identity
    ("POST", "/api/v1/auth/otp"): Entry(PUBLIC, {"channel": "sms", "destination": "13800138000"}),
    ("POST", "/api/v1/auth/register"): Entry(
        PUBLIC, {"phone": "13800138000", "code": "123456", "display_name": "x"}
    ),
    ("POST", "/api/v1/auth/login"): Entry(
        PUBLIC, {"method": "password", "identifier": "a@b.cn", "secret": "x"}
    ),
    ("POST", "/api/v1/auth/refresh"): Entry(PUBLIC, {"refresh_token": "r"}),
    ("POST", "/api/v1/auth/logout"): Entry(SIGNED_IN, {}),
    ("GET", "/api/v1/auth/oauth/{provider}/authorize"): Entry(PUBLIC),
    ("GET", "/api/v1/auth/oauth/{provider}/callback"): Entry(PUBLIC, query={"state": "s", "code": "c"}),
    ("GET", "/.well-known/jwks.json"): Entry(PUBLIC),
    ("GET", "/api/v1/me"): Entry(SIGNED_IN),
    ("PATCH", "/api/v1/me"): Entry(SIGNED_IN, {"display_name": "x"}),
    ("POST", "/api/v1/me/membership-card"): Entry(
        SIGNED_IN, {"card_number": "LF123456", "pin": "1234", "new_pin": "864209"}
    ),
    ("GET", "/api/v1/me/export"): Entry(SIGNED_IN),
    ("GET", "/api/v1/me/activity"): Entry(SIGNED_IN),
    ("DELETE", "/api/v1/me"): Entry(SIGNED_IN),
    ("POST", "/api/v1/enterprise/members"): Entry(roles("client_admin"), {"email": "a@b.cn"}),
    ("GET", "/api/v1/enterprise/members"): Entry(roles("client_admin")),
    ("PUT", "/api/v1/enterprise/members/{user_id}/role"): Entry(roles("client_admin"), {"role": "client"}),
    ("POST", "/api/v1/membership-cards"): Entry(
        roles("firm_admin"), {"card_number": "LF123456", "pin": "1234"}
    ),
    ("GET", "/api/v1/membership-cards"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/membership-cards/{card_id}/revoke"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/firm/service-clients"): Entry(roles("firm_admin"), {"name": "case management"}),
    ("POST", "/api/v1/firm/service-clients/{client_id}/revoke"): Entry(roles("firm_admin")),
    # catalog
    ("GET", "/api/v1/products"): Entry(PUBLIC),
    ("GET", "/api/v1/products/{product_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/firms"): Entry(PUBLIC),
    ("GET", "/api/v1/firms/{firm_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/lawyers"): Entry(PUBLIC),
    ("GET", "/api/v1/lawyers/{lawyer_id}"): Entry(PUBLIC),
    ("POST", "/api/v1/firms/{firm_id}/lawyers"): Entry(roles("firm_admin"), LAWYER_PROFILE),
    ("PUT", "/api/v1/lawyers/{lawyer_id}"): Entry(roles("firm_admin"), LAWYER_PROFILE),
    ("POST", "/api/v1/lawyers/{lawyer_id}/activate"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/lawyers/{lawyer_id}/deactivate"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/reviews"): Entry(roles("client", "client_admin"), {"order_id": "o1", "rating": 5}),
    ("PUT", "/api/v1/products/{product_id}"): Entry(
        roles("editor"),
        {
            "category": "document",
            "name": "x",
            "description": "x",
            "price": {"amount": 100, "currency": "CNY"},
            "tiers": [{"id": "t1", "name": "x", "price": {"amount": 100}}],
            "process": [{"stage": "s", "title": "x"}],
        },
    ),
    ("PUT", "/api/v1/firms/{firm_id}"): Entry(
        roles("firm_admin"),
        {"name": "x", "city": "北京", "address": "x", "location": {"lat": 39.9, "lng": 116.4}},
    ),
    ("PUT", "/api/v1/lawyer/status"): Entry(roles("lawyer"), {"online": True}),
    # content
    ("POST", "/api/v1/articles"): Entry(roles("editor"), {"kind": "news", "title": "x", "body": "x"}),
    ("PUT", "/api/v1/articles/{article_id}"): Entry(roles("editor"), {"title": "x", "body": "x"}),
    ("POST", "/api/v1/articles/{article_id}/submit"): Entry(roles("editor")),
    ("POST", "/api/v1/articles/{article_id}/review"): Entry(roles("reviewer"), {"decision": "approve"}),
    ("GET", "/api/v1/articles"): Entry(PUBLIC),
    ("GET", "/api/v1/articles/{article_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/search"): Entry(PUBLIC, query={"q": "合同"}),
    # consultation: the service decides by role and tenant; staff-only operations are refused here too
    ("POST", "/api/v1/consultations"): Entry(
        roles("client", "client_admin"), {"kind": "general", "subject": "s", "question": "q"}
    ),
    ("GET", "/api/v1/consultations"): Entry(SIGNED_IN),
    ("GET", "/api/v1/consultations/{consultation_id}"): Entry(SIGNED_IN),
    ("POST", "/api/v1/consultations/{consultation_id}/close"): Entry(SIGNED_IN, {}),
    ("POST", "/api/v1/consultations/{consultation_id}/messages"): Entry(SIGNED_IN, {"body": "b"}),
    ("POST", "/api/v1/consultations/{consultation_id}/rating"): Entry(
        roles("client", "client_admin"), {"rating": 5}
    ),
    ("POST", "/api/v1/consultations/{consultation_id}/classification"): Entry(
        roles("agent", "supervisor"), {"legal_field": "ip"}
    ),
    # instant chat (R-CS-1, R-CS-2)
    ("ANY", "/api/v1/chat"): Entry(
        roles("client", "client_admin", "agent", "supervisor"),
        query={"conversation_id": "x1"},
        websocket=True,
    ),
    ("POST", "/api/v1/chat/messages"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {"body": "x"}
    ),
    ("GET", "/api/v1/chat/conversations/{conversation_id}/messages"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("GET", "/api/v1/chat/queue"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/conversations/{conversation_id}/pickup"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/conversations/{conversation_id}/close"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("GET", "/api/v1/chat/clients/{client_id}/insight"): Entry(roles("agent", "supervisor")),
    ("GET", "/api/v1/chat/leads"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/clients/{client_id}/conversations"): Entry(
        roles("agent", "supervisor"), {"body": "x"}
    ),
    ("GET", "/api/v1/lawyer/queue"): Entry(roles("lawyer")),
    ("GET", "/api/v1/agent/at-risk"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/consultations/{consultation_id}/complaints"): Entry(
        roles("client", "client_admin"), {"body": "b"}
    ),
    ("GET", "/api/v1/complaints"): Entry(SIGNED_IN),
    ("POST", "/api/v1/complaints/{complaint_id}"): Entry(
        roles("agent", "supervisor"), {"status": "in_progress"}
    ),
    ("POST", "/api/v1/consultations/{consultation_id}/calls"): Entry(roles("agent"), {"lawyer_id": "l1"}),
    ("POST", "/api/v1/consultations/{consultation_id}/calls/{call_id}/end"): Entry(
        roles("agent"), {"outcome": "done"}
    ),
    # notification
    ("GET", "/api/v1/notifications"): Entry(SIGNED_IN),
    ("GET", "/api/v1/notifications/stream"): Entry(SIGNED_IN, stream=True),
    ("GET", "/api/v1/notifications/deliveries"): Entry(SIGNED_IN),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Entry(SIGNED_IN),
    ("GET", "/api/v1/me/notification-preferences"): Entry(SIGNED_IN),
    ("PUT", "/api/v1/me/notification-preferences"): Entry(
        SIGNED_IN,
        {"channels": {"email": True, "sms": False}, "quiet_hours": {"start": "22:00", "end": "08:00"}},
    ),
    # document services
    ("POST", "/api/v1/document-orders"): Entry(
        roles("agent", "supervisor"), {"tenant_id": "tenant-1", "client_id": "user-1", "complexity": "simple"}
    ),
    ("GET", "/api/v1/document-orders"): Entry(SIGNED_IN),
    ("GET", "/api/v1/document-orders/{document_order_id}"): Entry(SIGNED_IN),
    ("POST", "/api/v1/document-orders/{document_order_id}/acknowledge"): Entry(roles("agent"), {}),
    ("POST", "/api/v1/document-orders/{document_order_id}/drafts"): Entry(
        roles("lawyer"), files={"file": ("draft.txt", b"draft", "text/plain")}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/review"): Entry(
        roles("reviewer"), {"decision": "approve"}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/revisions"): Entry(
        roles("client", "client_admin"), {"instructions": "shorter"}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/accept"): Entry(roles("client", "client_admin")),
    ("GET", "/api/v1/document-orders/{document_order_id}/versions/{number}/file"): Entry(SIGNED_IN),
    # orders and payment: clients buy and pay, agents and supervisors follow and refund; the service scopes
    # every order by tenant; providers and anyone verifying a voucher need no account
    ("POST", "/api/v1/orders"): Entry(roles("client", "client_admin"), {"product_id": "p1"}),
    ("GET", "/api/v1/orders"): Entry(roles("client", "client_admin", "agent", "supervisor")),
    ("GET", "/api/v1/orders/{order_id}"): Entry(roles("client", "client_admin", "agent", "supervisor")),
    ("GET", "/api/v1/orders/{order_id}/timeline"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {}
    ),
    ("POST", "/api/v1/orders/{order_id}/refund"): Entry(roles("agent", "supervisor"), {}),
    ("POST", "/api/v1/orders/{order_id}/payments"): Entry(
        roles("client", "client_admin"), {"method": "sandbox"}
    ),
    ("GET", "/api/v1/orders/{order_id}/voucher"): Entry(SIGNED_IN),
    ("GET", "/api/v1/orders/{order_id}/invoice"): Entry(SIGNED_IN),
    ("POST", "/api/v1/payments/notify/{provider}"): Entry(PUBLIC, {"notify_id": "n1"}),
    ("GET", "/api/v1/vouchers/{code}/verify"): Entry(PUBLIC),
    ("GET", "/api/v1/ledger/verify"): Entry(roles("supervisor")),
    # booking (R-BK-1..3, R-Q-4): anyone sees free slots; clients book, lawyers run the meeting and record
    # visits, agents follow; the booking service scopes every booking and visit by tenant again
    ("GET", "/api/v1/lawyers/{lawyer_id}/availability"): Entry(PUBLIC),
    ("GET", "/api/v1/connect"): Entry(PUBLIC),
    ("POST", "/api/v1/connect/requests"): Entry(
        roles("client", "client_admin"), {"lawyer_id": "l1", "mode": "meeting", "needs": "n"}
    ),
    ("GET", "/api/v1/connect/requests"): Entry(
        roles("client", "client_admin", "lawyer", "agent", "supervisor")
    ),
    ("POST", "/api/v1/bookings"): Entry(
        roles("client", "client_admin"),
        {"lawyer_id": "l1", "mode": "at_firm", "start": "2030-01-07T10:00:00+08:00", "minutes": 60},
    ),
    ("GET", "/api/v1/bookings"): Entry(roles("client", "client_admin", "lawyer", "agent", "supervisor")),
    ("GET", "/api/v1/bookings/{booking_id}"): Entry(
        roles("client", "client_admin", "lawyer", "agent", "supervisor")
    ),
    ("POST", "/api/v1/bookings/{booking_id}/reschedule"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {"start": "2030-01-07T11:00:00+08:00"}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/check-in"): Entry(roles("lawyer")),
    ("POST", "/api/v1/bookings/{booking_id}/complete"): Entry(roles("lawyer"), {"summary": "s"}),
    ("POST", "/api/v1/bookings/{booking_id}/quality-checklist"): Entry(
        roles("lawyer"), {"checklist": {"advice_given": True}}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/rating"): Entry(roles("client", "client_admin"), {"rating": 5}),
    ("POST", "/api/v1/visits"): Entry(
        roles("lawyer"), {"enterprise_id": "t1", "date": "2026-11-01", "findings": "f"}
    ),
    ("GET", "/api/v1/visits"): Entry(roles("client", "client_admin", "lawyer", "supervisor")),
    # local development only (COUNSEL_ENV dev/test)
    ("GET", "/api/v1/dev/outbox"): Entry(PUBLIC, query={"to": "13800138000"}),
    ("POST", "/api/v1/dev/sandbox-pay/{payment_id}"): Entry(PUBLIC),
}


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


class Keys:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]}

    def token(self, actor: Actor) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"user-{actor.name}",
            "tid": actor.tenant,
            "roles": list(actor.roles),
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": KID})

    def verifier(self) -> TokenVerifier:
        async def fetch() -> dict[str, Any]:
            return self.jwks

        return TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE)


class Peer:
    """Every RPC is recorded with the forwarded token and answered NOT_FOUND, as a service answers a
    caller outside the object's tenant."""

    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(request: Any, **kwargs: Any) -> NotFoundCall:
            self.calls.append((method, access_token_var.get()))
            return NotFoundCall()

        return call


class NotFoundCall:
    """A call answered NOT_FOUND, whether awaited (unary) or read (server-streaming)."""

    def __await__(self) -> Generator[Any, None, Any]:
        return self.read().__await__()

    async def read(self) -> Any:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.NOT_FOUND,
            initial_metadata=grpc.aio.Metadata(),
            trailing_metadata=grpc.aio.Metadata((ERROR_DETAILS_KEY, b"")),
            details="no such thing",
        )


class Health:
    async def Check(self, request: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109 (a stub's signature)
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def fake_clients(calls: list[tuple[str, str]]) -> Clients:
    peers: dict[str, Any] = {name: Peer(calls) for name in SERVICE_NAMES}
    internal = {f"{name}_internal": peers[name] for name in ("identity", "payment", "notification")}
    return Clients(**peers, **internal, health={name: Health() for name in SERVICE_NAMES})


@dataclass
class Gateway:
    keys: Keys
    app: Any
    calls: list[tuple[str, str]]


@pytest.fixture(scope="module")
def gateway() -> Gateway:
    """One app for the whole matrix (building one per case would cost a minute)."""
    keys = Keys()
    calls: list[tuple[str, str]] = []
    app = create_app(
        Settings(env="test", gateway_rate_per_ip=0, gateway_rate_per_token=0),
        clients=fake_clients(calls),
        verifier=keys.verifier(),
    )
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
        Settings(env="test", gateway_rate_per_ip=0, gateway_rate_per_token=0),
        clients=fake_clients([]),
        verifier=Keys().verifier(),
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
    token = "" if actor.anonymous else gateway.keys.token(actor)
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
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        ) as http:
            response = await http.request(
                method, path, json=entry.body, files=entry.files, params=entry.query, headers=headers
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
    assert status not in (401, 403), text
    assert status < 500, text
    if entry.access.local:
        assert status == 200
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
