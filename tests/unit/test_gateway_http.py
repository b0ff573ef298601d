"""The gateway's translation layer: JSON ⇄ proto, gRPC status → problem+json, authentication, health.
Peer services are tiny fakes returning real proto messages or raising real AioRpcErrors; no servers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import grpc
import httpx
import jwt
import pytest
from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY, generate_latest

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import money_pb2, paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.notification.v1 import notification_service_pb2 as notification_pb
from services.consultation.domain import ProductToBuy, order_required
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.runtime.config import SERVICE_NAMES
from services.runtime.context import access_token_var, correlation_id_var
from services.runtime.grpc_server import error_trailers
from tests.support.factories import consultation, stamp
from tests.support.gateway import FakeClients, FakeHealth, assert_problem, fields, make_client, rpc_error
from tests.support.tokens import Issuer

# --- request validation ------------------------------------------------------------------------------


async def test_malformed_json_is_400_naming_body(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.post(
        "/api/v1/consultations",
        content=b'{"kind": "general",',
        headers={**auth, "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 400)
    assert fields(problem) == ["body"]


async def test_unknown_field_is_422_naming_it(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"kind": "general", "subject": "s", "question": "q", "priority": "high"}
    problem = assert_problem(await client.post("/api/v1/consultations", json=body, headers=auth), 422)
    assert fields(problem) == ["priority"]


async def test_wrong_type_is_422_naming_the_field(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"kind": "urgent", "subject": 42, "question": "q"}
    problem = assert_problem(await client.post("/api/v1/consultations", json=body, headers=auth), 422)
    assert sorted(fields(problem)) == ["kind", "subject"]


async def test_bad_query_parameters_are_422_naming_them(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/products", params={"category": "weapons"}), 422)
    assert fields(problem) == ["category"]
    problem = assert_problem(await client.get("/api/v1/products", params={"limit": "101"}), 422)
    assert fields(problem) == ["limit"]


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nowhere"), 404)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/products")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


# --- authentication ----------------------------------------------------------------------------------


async def test_no_token_is_401(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    response = await client.get("/api/v1/consultations/c-1")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert fakes.fake("consultation").calls == []


@pytest.mark.parametrize("case", ["expired", "tampered", "foreign_audience", "not_bearer", "garbage"])
async def test_bad_token_is_401(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer, case: str
) -> None:
    if case == "expired":
        header = f"Bearer {keys.token(expires_in=-60)}"
    elif case == "tampered":
        head, _payload, signature = keys.token().split(".")
        forged = jwt.utils.base64url_encode(b'{"sub":"admin","roles":["supervisor"]}').decode()
        header = f"Bearer {head}.{forged}.{signature}"
    elif case == "foreign_audience":
        header = f"Bearer {keys.token(aud='someone-else')}"
    elif case == "not_bearer":
        header = "Basic dXNlcjpwYXNz"
    else:
        header = "Bearer not-a-jwt"
    assert_problem(await client.get("/api/v1/consultations/c-1", headers={"Authorization": header}), 401)
    assert fakes.fake("consultation").calls == []


async def test_verified_token_is_forwarded_to_the_service(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    token = keys.token()
    fakes.fake("identity").on(
        "GetMe",
        lambda request: identity_pb.GetMeResponse(
            user=identity_pb.User(
                id="user-1", display_name="Li Lei", email="li@example.test", roles=["client"]
            ),
            login_methods=identity_pb.LoginMethods(email="li@example.test"),
        ),
    )
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "user-1",
        "display_name": "Li Lei",
        "email": "li@example.test",
        "phone": None,
        "tenant_id": None,
        "roles": ["client"],
        "firm_id": None,
        "enterprise": None,
        "login_methods": {
            "password": False,
            "phone": None,
            "email": "li@example.test",
            "membership_cards": [],
        },
        "lawyer_id": None,  # a client: no catalog call
    }
    [(method, _request, forwarded)] = fakes.fake("identity").calls
    assert (method, forwarded) == ("GetMe", token)
    # Nothing leaks into the next request's context.
    assert access_token_var.get() == ""


# --- gRPC status → problem ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
    ],
)
async def test_grpc_status_maps_to_http(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str], code: grpc.StatusCode, status: int
) -> None:
    fakes.fake("consultation").on(
        "GetConsultation", lambda request: rpc_error(code, "secret internals at 10.0.0.7:50053")
    )
    response = await client.get("/api/v1/consultations/c-1", headers=auth)
    assert_problem(response, status)
    if status in (429, 503):
        assert int(response.headers["retry-after"]) > 0
    if status >= 500:
        assert "10.0.0.7" not in response.text


async def test_not_found_carries_the_reason_as_type(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    fakes.fake("consultation").on(
        "GetConsultation",
        lambda request: rpc_error(grpc.StatusCode.NOT_FOUND, "no such consultation", reason="not_found"),
    )
    problem = assert_problem(await client.get("/api/v1/consultations/c-9", headers=auth), 404)
    assert problem["type"] == "https://counsel.local/problems/not_found"
    assert problem["detail"] == "no such consultation"


async def test_order_required_names_the_product_to_buy_in_a_member_of_its_problem(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    """A call no paid order pays for: consultation's refusal, as its interceptor sends it (ErrorDetails with
    the `product_id` member), is a 409 order_required whose `product_id` member names the product to buy,
    beside the standard members; a member never takes the place of a standard one."""
    refusal = order_required(ProductToBuy("consult-phone", "电话咨询"), "no paid order is left")
    refusal.members["status"] = "not a standard member"

    def refuse(request: consultation_pb.StartOnlineCallRequest) -> grpc.aio.AioRpcError:
        return grpc.aio.AioRpcError(
            refusal.code,
            initial_metadata=grpc.aio.Metadata(),
            trailing_metadata=grpc.aio.Metadata(*error_trailers(refusal)),
            details=refusal.message,
        )

    fakes.fake("consultation").on("StartOnlineCall", refuse)
    response = await client.post("/api/v1/calls", json={"lawyer_id": "l-1", "media": "audio"}, headers=auth)
    problem = assert_problem(response, 409)
    assert problem["type"] == "https://counsel.local/problems/order_required"
    assert (problem["product_id"], problem["status"]) == ("consult-phone", 409)
    assert fields(problem) == ["order_id"]


async def test_invalid_argument_field_violations_become_errors(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    fakes.fake("consultation").on(
        "CreateConsultation",
        lambda request: rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            "order_id: a professional consultation needs a paid order",
            reason="invalid_argument",
            violations=(("order_id", "a professional consultation needs a paid order"),),
        ),
    )
    body = {"kind": "professional", "subject": "s", "question": "q"}
    problem = assert_problem(await client.post("/api/v1/consultations", json=body, headers=auth), 422)
    assert problem["errors"] == [
        {"field": "order_id", "message": "a professional consultation needs a paid order"}
    ]
    assert problem["type"] == "https://counsel.local/problems/invalid_argument"


async def test_failed_precondition_is_409_with_reason(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    fakes.fake("consultation").on(
        "CloseConsultation",
        lambda request: rpc_error(
            grpc.StatusCode.FAILED_PRECONDITION, "already closed", reason="ALREADY_CLOSED"
        ),
    )
    problem = assert_problem(await client.post("/api/v1/consultations/c-1/close", headers=auth), 409)
    assert problem["type"] == "https://counsel.local/problems/already_closed"


async def test_unexpected_exception_is_500_without_details(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    def explode(request: Any) -> Any:
        raise ZeroDivisionError("secret-detail-42")

    fakes.fake("consultation").on("GetConsultation", explode)
    response = await client.get("/api/v1/consultations/c-1", headers=auth)
    problem = assert_problem(response, 500)
    assert "secret-detail-42" not in response.text
    assert "Traceback" not in response.text and "ZeroDivisionError" not in response.text
    assert problem["type"] == "https://counsel.local/problems/internal_error"
    assert response.headers["x-correlation-id"]


# --- resources ---------------------------------------------------------------------------------------


def product() -> catalog_pb.Product:
    return catalog_pb.Product(
        id="p-1",
        category="document",
        name="Employment contract",
        description="Drafted by a lawyer",
        parameters={"language": "zh-CN"},
        price=money_pb2.Money(amount=99900, currency="CNY"),
        tiers=[
            catalog_pb.Tier(
                id="t-simple",
                name="Simple",
                price=money_pb2.Money(amount=99900, currency="CNY"),
                complexity="simple",
                delivery_hours=24,
                revision_days=3,
                acknowledge_minutes=30,
            ),
            catalog_pb.Tier(id="t-basic", name="Basic", price=money_pb2.Money(amount=5000, currency="CNY")),
        ],
        process=[catalog_pb.ProcessStage(stage="drafting", title="Drafting", description="A lawyer drafts")],
        rating=catalog_pb.Rating(average=4.5, count=2),
        requirement_fields=[
            catalog_pb.RequirementField(name="party", label="Other party", type="text", required=True),
            catalog_pb.RequirementField(
                name="term", label="Term", type="choice", required=False, choices=["1y", "3y"]
            ),
        ],
    )


async def test_product_shape(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("catalog").on("GetProduct", lambda request: catalog_pb.GetProductResponse(product=product()))
    response = await client.get("/api/v1/products/p-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["price"] == {"amount": 99900, "currency": "CNY"}
    assert body["tiers"] == [
        {
            "id": "t-simple",
            "name": "Simple",
            "price": {"amount": 99900, "currency": "CNY"},
            "complexity": "simple",
            "delivery_hours": 24,
            "revision_days": 3,
            "acknowledge_minutes": 30,
        },
        {"id": "t-basic", "name": "Basic", "price": {"amount": 5000, "currency": "CNY"}},
    ]
    assert body["rating"] == {"average": 4.5, "count": 2}
    assert body["reviews"] == []
    assert body["media"] == []
    assert body["parameters"] == {"language": "zh-CN"}
    assert body["process"] == [{"stage": "drafting", "title": "Drafting", "description": "A lawyer drafts"}]
    assert body["requirement_fields"] == [
        {"name": "party", "label": "Other party", "type": "text", "required": True},
        {"name": "term", "label": "Term", "type": "choice", "required": False, "choices": ["1y", "3y"]},
    ]
    assert body["consultation_kind"] is None
    [(_, request, forwarded)] = fakes.fake("catalog").calls
    assert request.product_id == "p-1" and forwarded == ""


async def test_product_list_passes_filters_and_paging(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("catalog").on(
        "ListProducts",
        lambda request: catalog_pb.ListProductsResponse(
            products=[product()], page=paging_pb2.PageResponse(next_cursor="next-1")
        ),
    )
    response = await client.get(
        "/api/v1/products", params={"category": "document", "q": "contract", "limit": 5}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == ["p-1"] and body["next_cursor"] == "next-1"
    [(_, request, _)] = fakes.fake("catalog").calls
    assert (request.category, request.query, request.page.limit, request.page.cursor) == (
        "document",
        "contract",
        5,
        "",
    )
    # An empty category means all categories; an empty next cursor is null.
    fakes.fake("catalog").on("ListProducts", lambda request: catalog_pb.ListProductsResponse())
    response = await client.get("/api/v1/products?category=")
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_create_consultation_is_201_with_idempotency_key_forwarded(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    fakes.fake("consultation").on(
        "CreateConsultation",
        lambda request: consultation_pb.CreateConsultationResponse(consultation=consultation()),
    )
    key = str(uuid.uuid4())
    body = {
        "kind": "professional",
        "subject": "Overtime pay",
        "question": "Is my employer allowed to…?",
        "order_id": "o-1",
    }
    response = await client.post("/api/v1/consultations", json=body, headers={**auth, "Idempotency-Key": key})
    assert response.status_code == 201, response.text
    [(_, request, _)] = fakes.fake("consultation").calls
    assert (request.kind, request.order_id, request.idempotency_key) == ("professional", "o-1", key)
    created = response.json()
    assert created["id"] == "c-1" and created["status"] == "submitted"
    assert created["reply_due_at"] == "2026-11-29T08:00:00Z"
    assert created["created_at"] == "2026-11-28T08:00:00Z"
    assert created["legal_field"] is None and created["assigned_lawyer_id"] is None
    assert created["messages"] == []
    assert created["stages"] == [
        {
            "stage": "submitted",
            "status": "current",
            "entered_at": "2026-11-28T08:00:00Z",
            "due_at": None,
            "actor": "user-1",
        }
    ]


async def test_consultation_list_and_close(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    fake = fakes.fake("consultation")
    fake.on(
        "ListConsultations",
        lambda request: consultation_pb.ListConsultationsResponse(consultations=[consultation()]),
    )
    fake.on(
        "CloseConsultation",
        lambda request: consultation_pb.CloseConsultationResponse(
            consultation=consultation(status="closed", legal_field="labour", assigned_lawyer_id="lawyer-1")
        ),
    )
    listed = await client.get(
        "/api/v1/consultations", params={"status": "submitted", "limit": 10}, headers=auth
    )
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]] == ["c-1"] and listed.json()["next_cursor"] is None
    closed = await client.post("/api/v1/consultations/c-1/close", headers=auth)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["legal_field"] == "labour"
    assert [(m, r.consultation_id if m == "CloseConsultation" else r.status) for m, r, _ in fake.calls] == [
        ("ListConsultations", "submitted"),
        ("CloseConsultation", "c-1"),
    ]


async def test_login(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("identity").on(
        "Login",
        lambda request: identity_pb.LoginResponse(
            user=identity_pb.User(id="u-1", display_name="Client", email=request.identifier, tenant_id="t-1"),
            tokens=identity_pb.TokenPair(access_token="a.b.c", refresh_token="r", expires_in=900),
        ),
    )
    body = {"method": "password", "identifier": "client@demo.counsel.test", "secret": "Demo-Passw0rd!"}
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert (
        tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900 and tokens["access_token"] == "a.b.c"
    )
    assert tokens["user"]["tenant_id"] == "t-1"


async def test_jwks(client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer) -> None:
    import json

    fakes.fake("identity").on(
        "GetJwks", lambda request: identity_pb.GetJwksResponse(jwks_json=json.dumps(keys.jwks))
    )
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response.json() == keys.jwks


async def test_notifications(client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]) -> None:
    item = notification_pb.Notification(
        id="n-1",
        user_id="user-1",
        kind="consultation.replied",
        title="Your lawyer replied",
        body="…",
        subject_type="consultation",
        subject_id="c-1",
        created_at=stamp("2026-11-28T09:30:00.250000+00:00"),
    )
    fake = fakes.fake("notification")
    fake.on(
        "ListNotifications",
        lambda request: notification_pb.ListNotificationsResponse(notifications=[item], unread_count=1),
    )
    read = notification_pb.Notification()
    read.CopyFrom(item)
    read.read_at.CopyFrom(stamp("2026-11-28T10:00:00+00:00"))
    fake.on(
        "MarkNotificationRead",
        lambda request: notification_pb.MarkNotificationReadResponse(notification=read),
    )
    listed = await client.get("/api/v1/notifications?unread=1", headers=auth)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [
            {
                "id": "n-1",
                "kind": "consultation.replied",
                "title": "Your lawyer replied",
                "body": "…",
                "subject_type": "consultation",
                "subject_id": "c-1",
                "created_at": "2026-11-28T09:30:00.250Z",
                "read_at": None,
                "category": "status",
            }
        ],
        "next_cursor": None,
        "unread_count": 1,
    }
    assert fake.calls[0][1].unread_only is True
    marked = await client.post("/api/v1/notifications/n-1/read", headers=auth)
    assert marked.status_code == 200 and marked.json()["read_at"] == "2026-11-28T10:00:00Z"


# --- health, metrics, dev, correlation ---------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_ready_when_every_peer_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    verbose = await client.get("/readyz?verbose=1")
    assert verbose.status_code == 200
    assert verbose.json() == {
        "status": "ready",
        "services": dict.fromkeys(SERVICE_NAMES, "SERVING"),
        "dependencies": {"postgres": "ok", "nats": "ok", "temporal": "ok"},
    }


async def test_a_service_that_cannot_reach_its_database_leaves_the_gateway_ready_and_is_named_in_verbose(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    """Issue 19 item 3: the gateway's readiness is its own ability to serve; taking it out of rotation for one
    service's database (failing over, say) would make every other route unavailable too."""
    fakes.health = {
        **fakes.health,
        "catalog": FakeHealth(postgres=health_pb2.HealthCheckResponse.NOT_SERVING),
    }
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    response = await client.get("/readyz?verbose=1")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["catalog"] == "SERVING"  # alive, but not ready
    assert body["dependencies"]["postgres"] == "unreachable from catalog"
    assert body["dependencies"]["nats"] == "ok"


async def test_verbose_readiness_names_the_peers_that_are_not_serving(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    class Down:
        async def Check(self, request: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109 (a gRPC stub's signature)
            raise rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused")

    fakes.health = {
        **fakes.health,
        "booking": FakeHealth(health_pb2.HealthCheckResponse.NOT_SERVING),
        "payment": Down(),
    }
    assert (await client.get("/readyz")).status_code == 200
    response = await client.get("/readyz?verbose=1")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["booking"] == "NOT_SERVING"
    assert body["services"]["payment"] == "UNAVAILABLE"
    assert body["services"]["catalog"] == "SERVING"


async def test_a_gateway_without_its_channels_is_not_ready(keys: Issuer) -> None:
    """Before its lifespan opened the channels to the services, or after it closed them on the way out."""
    app = create_app(GatewaySettings(env="test"), verifier=keys.verifier())  # lifespan not run: no channels
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        for path in ("/readyz", "/readyz?verbose=1"):
            response = await http.get(path)
            assert response.status_code == 503
            assert response.json() == {"status": "stopping"}


async def test_metrics_use_the_route_template(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("catalog").on("GetProduct", lambda request: catalog_pb.GetProductResponse(product=product()))
    labels = {"route": "/api/v1/products/{product_id}", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("counsel_http_requests_total", labels) or 0.0
    assert (await client.get("/api/v1/products/p-123")).status_code == 200
    assert REGISTRY.get_sample_value("counsel_http_requests_total", labels) == before + 1
    exported = generate_latest().decode()
    assert 'route="/api/v1/products/{product_id}"' in exported and "p-123" not in exported
    # Metrics are served on the gateway's metrics port only (services/gateway/main.py), never publicly.
    assert (await client.get("/metrics")).status_code == 404


async def test_correlation_id_is_adopted_or_created(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Correlation-Id": "abc-123"})
    assert response.headers["x-correlation-id"] == "abc-123"
    response = await client.get("/healthz", headers={"X-Correlation-Id": "bad id <script>"})
    assert response.headers["x-correlation-id"] not in ("", "bad id <script>")
    assert correlation_id_var.get() == ""


async def test_dev_outbox_in_test_env(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("notification").on(
        "ListDevOutbox",
        lambda request: notification_pb.ListDevOutboxResponse(
            messages=[
                notification_pb.DevMessage(
                    id="m-1",
                    channel="sms",
                    to=request.to,
                    body="Your code is 123456",
                    created_at=stamp("2026-11-28T08:00:00+00:00"),
                )
            ]
        ),
    )
    response = await client.get("/api/v1/dev/outbox", params={"to": "+8613800000000"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [
            {
                "channel": "sms",
                "to": "+8613800000000",
                "subject": None,
                "body": "Your code is 123456",
                "created_at": "2026-11-28T08:00:00Z",
            }
        ]
    }


async def test_dev_outbox_absent_in_prod(fakes: FakeClients, keys: Issuer) -> None:
    settings = GatewaySettings(env="prod", secret_key="k" * 48)
    async with make_client(settings, fakes, keys) as http:
        assert_problem(await http.get("/api/v1/dev/outbox"), 404)
        openapi = (await http.get("/openapi.json")).json()
    assert "/api/v1/dev/outbox" not in openapi["paths"]
    assert fakes.fake("notification").calls == []


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/products",
        "/api/v1/products/{product_id}",
        "/api/v1/consultations",
        "/api/v1/consultations/{consultation_id}",
        "/api/v1/consultations/{consultation_id}/close",
        "/api/v1/notifications",
        "/api/v1/dev/outbox",
    ):
        assert path in openapi["paths"], path
    tier = openapi["components"]["schemas"]["Tier"]
    assert {"id", "name", "delivery_hours", "revision_days"} <= set(tier["properties"])
    assert (await client.get("/docs")).status_code == 200


async def test_api_docs_load_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    """/docs and /redoc render offline: every script, style sheet, icon and the spec they name is served by
    the gateway itself (FastAPI's defaults name a public CDN, blank without internet)."""
    for page in ("/docs", "/redoc"):
        response = await client.get(page)
        html = response.text
        # What the bundles themselves name elsewhere (ReDoc's footer logo) the browser is told not to load.
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "img-src 'self' data:" in policy and "https:" not in policy
        referenced = re.findall(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", html)
        assert referenced, page
        for url in referenced:
            assert url.startswith("/") and not url.startswith("//"), (page, url)
            assert (await client.get(url)).status_code == 200, url
        assert "http://" not in html and "https://" not in html, page


def test_nested_field_paths_are_dotted_without_the_request_part() -> None:
    from fastapi.exceptions import RequestValidationError

    from services.gateway.problems import validation_problem

    error = RequestValidationError(
        [
            {"type": "missing", "loc": ("body", "requirements", 0, "name"), "msg": "Field required"},
            {"type": "int_parsing", "loc": ("query", "limit"), "msg": "Input should be a valid integer"},
        ]
    )
    response = validation_problem(error)
    assert response.status_code == 422
    assert b'"field":"requirements.0.name"' in response.body and b'"field":"limit"' in response.body
