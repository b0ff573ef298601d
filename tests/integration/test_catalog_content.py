"""Catalog and content through the real stack minus the network edge: the gateway app (httpx ASGI) → gRPC →
the catalog service in-process → a migrated, seeded PostgreSQL database; events checked in the outbox and
relayed to a real JetStream. Covers R-INFO-2 (firms, lawyers), §4.2.1 (activation), R-INFO-3 (article
review gate, including search) and Chinese search over products, lawyers and articles."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import grpc
import httpx
import pytest
from sqlalchemy import select, text

from counsel.catalog.v1 import catalog_service_pb2
from counsel.catalog.v1.catalog_service_pb2_grpc import (
    CatalogServiceStub,
)
from counsel.catalog.v1.events_pb2 import (
    ArticlePublished,
    ItemViewed,
    LawyerActivated,
    ProductPublished,
    ReviewAdded,
)
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.identity.v1.events_pb2 import UserErased
from counsel.payment.v1 import events_pb2 as payment_events
from deploy.local.servers import NatsServer, PostgresServer
from services.catalog import events
from services.catalog.files import QualificationFiles
from services.catalog.models import TABLES, ReviewRow
from services.catalog.seed import seed_demo
from services.catalog.store.sealed import seal_clear_rows
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.identity.seed import LAWYER_EMAILS, demo_email
from services.identity.seed import demo_user_id as identity_demo_user_id
from services.runtime.config import Settings
from services.runtime.context import access_token_var
from services.runtime.db import Database
from services.runtime.erasure import ERASED_TEXT
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind, unpack
from services.runtime.grpc_client import open_channel
from services.runtime.keys import SEALED_PREFIX, tenant_subject
from services.runtime.pki import TlsMaterial
from services.runtime.records import encode_cursor, utcnow
from tests.support import factories
from tests.support.gateway import problem_fields
from tests.support.platform import catalog_service, catalog_stores, gateway_clients, isolated_settings
from tests.support.tokens import Issuer

FIRM_ADMIN = identity_demo_user_id(demo_email("firm_admin"))
OWN_FIRM = "firm-beijing-zhengda"
OTHER_FIRM = "firm-beijing-zhixin"
OTHER_FIRMS_LAWYER = "lawyer-4"
PROBLEM = "application/problem+json"


CREDENTIAL_SCANS = {
    "practice_certificate": ("practice.png", b"practising certificate scan", "image/png"),
    "degree_certificate": ("degree.png", b"degree certificate scan", "image/png"),
}


def next_year() -> str:
    return (date.today() + timedelta(days=365)).isoformat()


@dataclass
class Platform:
    http: httpx.AsyncClient
    keys: Issuer
    db: Database
    outbox: Outbox
    settings: Settings
    stub: Any

    def firm_admin(self) -> dict[str, str]:
        return self.keys.headers(FIRM_ADMIN, roles=("firm_admin",), tenant_id="")

    def operator(self) -> dict[str, str]:
        return self.keys.headers("operator-1", roles=("operator",), tenant_id="")

    async def verify(self, lawyer_id: str) -> None:
        """The firm admin submits the lawyer's credentials and the operator verifies them (§4.2.1)."""
        submitted = await self.http.post(
            f"/api/v1/lawyers/{lawyer_id}/credentials",
            files=CREDENTIAL_SCANS,
            data={"certificate_number": "11012015123456789", "inspection_due_on": next_year()},
            headers=self.firm_admin(),
        )
        assert submitted.status_code == 200 and submitted.json()["verification"] == "pending", submitted.text
        verified = await self.http.post(
            f"/api/v1/lawyers/{lawyer_id}/verify", json={"decision": "verified"}, headers=self.operator()
        )
        assert verified.status_code == 200 and verified.json()["verification"] == "verified", verified.text

    def editor(self) -> dict[str, str]:
        return self.keys.headers("editor-1", roles=("editor",), tenant_id="")

    def reviewer(self) -> dict[str, str]:
        return self.keys.headers("reviewer-1", roles=("reviewer", "lawyer"), tenant_id="")

    def client(self) -> dict[str, str]:
        return self.keys.headers("client-1", roles=("client",), tenant_id="tenant-1")

    async def events(self, event_type: str) -> list[EventEnvelope]:
        async with self.db.transaction() as session:
            rows = (
                (await session.execute(select(TABLES.outbox.c.payload).order_by(TABLES.outbox.c.seq)))
                .scalars()
                .all()
            )
        envelopes = [EventEnvelope.FromString(payload) for payload in rows]
        return [e for e in envelopes if e.type == event_type]


@pytest.fixture(scope="module")
def settings(postgres_server: PostgresServer, nats_server: NatsServer) -> Settings:
    return isolated_settings(postgres_server, nats_server, secret_key=secrets.token_urlsafe(32))


@pytest.fixture(scope="module")
async def platform(settings: Settings, pki: Callable[[str], TlsMaterial]) -> AsyncIterator[Platform]:
    """One migrated, seeded catalog database and service for the module: the tests create their own
    lawyers and articles with fresh ids, so they do not disturb one another."""
    keys = Issuer.for_settings(settings)
    bus = await EventBus.connect(settings, "catalog-content-test")
    files = await QualificationFiles.open(bus.js, settings.jetstream_replicas)
    async with catalog_service(settings, keys.verifier(), pki("catalog"), files) as (address, db):
        await seed_demo(catalog_stores(db, settings))  # idempotent: a restart seeds again
        async with open_channel(address, pki("gateway"), default_timeout=10.0) as channel:
            stub = CatalogServiceStub(channel)
            app = create_app(
                GatewaySettings.from_settings(settings),
                gateway_clients(catalog=stub),
                verifier=keys.verifier(),
            )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as http:
                yield Platform(http, keys, db, Outbox("catalog", settings, TABLES), settings, stub)
    await bus.close()


def profile(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "测试律师 Test Lawyer",
        "specialty": "劳动争议 Employment disputes",
        "fields": ["labour"],
        "service_hours": [{"weekday": 1, "start": "09:00", "end": "12:00"}],
        "years_of_practice": 5,
        "licence_number": "11012015123456789",
    }
    body.update(overrides)
    return body


# --- firms and lawyers (R-INFO-2, §6.2.4.2) -------------------------------------------------------------


async def test_demo_firms_span_cities_and_lawyers_cover_the_fields(platform: Platform) -> None:
    firms = (await platform.http.get("/api/v1/firms")).json()["items"]
    assert len({f["city"] for f in firms}) >= 2
    firm = (await platform.http.get(f"/api/v1/firms/{OWN_FIRM}")).json()
    for key in ("name", "address", "location", "opening_hours", "rating", "transit_routes", "staff"):
        assert firm[key], key
    assert set(firm["location"]) == {"lat", "lng"}

    lawyers = (await platform.http.get("/api/v1/lawyers", params={"limit": 100})).json()["items"]
    seeded = {x["id"]: x for x in lawyers if x["id"].startswith("lawyer-")}
    assert len(seeded) >= 10
    covered = {field for x in seeded.values() for field in x["fields"]}
    assert {"contract", "labour", "company", "ip", "tax", "litigation"} <= covered
    # Every demo lawyer account has its profile (API.md: lawyer1@… lawyerN@…).
    assert {identity_demo_user_id(email) for email in LAWYER_EMAILS} <= {
        x["user_id"] for x in seeded.values()
    }
    for lawyer in seeded.values():
        assert {
            "name",
            "firm_id",
            "specialty",
            "fields",
            "service_hours",
            "years_of_practice",
            "online",
            "rating",
        } <= set(lawyer)


async def test_lawyer_filters_and_licence_shown_to_staff_only(platform: Platform) -> None:
    response = await platform.http.get("/api/v1/lawyers", params={"field": "labour", "online": "true"})
    items = response.json()["items"]
    assert items and all("labour" in x["fields"] and x["online"] for x in items)
    shanghai = (await platform.http.get("/api/v1/lawyers", params={"city": "上海"})).json()["items"]
    assert shanghai and all(x["city"] == "上海" for x in shanghai)

    public = (await platform.http.get("/api/v1/lawyers/lawyer-1")).json()
    assert "licence_number" not in public
    as_client = (await platform.http.get("/api/v1/lawyers/lawyer-1", headers=platform.client())).json()
    assert "licence_number" not in as_client
    as_staff = (
        await platform.http.get(
            "/api/v1/lawyers/lawyer-1", headers=platform.keys.headers("a", roles=("agent",), tenant_id="")
        )
    ).json()
    assert len(as_staff["licence_number"]) == 17

    both = await platform.http.get("/api/v1/lawyers", params={"online": "", "field": "", "limit": 100})
    assert {x["online"] for x in both.json()["items"]} == {True, False}
    bad = await platform.http.get("/api/v1/lawyers", params={"field": "astrology"})
    assert bad.status_code == 422 and problem_fields(bad) == ["field"]
    assert (await platform.http.get("/api/v1/lawyers/nobody")).status_code == 404


async def test_firm_admin_adds_and_activates_a_lawyer_only_when_eligible(platform: Platform) -> None:
    """§4.2.1: no licence number or < 2 years of practice → cannot be activated (422 naming the field)."""
    admin = platform.firm_admin()
    created = await platform.http.post(
        f"/api/v1/firms/{OWN_FIRM}/lawyers",
        json=profile(licence_number="", years_of_practice=1, name="新人律师 Junior"),
        headers={**admin, "Idempotency-Key": "new-junior"},
    )
    assert created.status_code == 201, created.text
    lawyer = created.json()
    assert lawyer["active"] is False and lawyer["firm_id"] == OWN_FIRM
    replay = await platform.http.post(
        f"/api/v1/firms/{OWN_FIRM}/lawyers",
        json=profile(licence_number="", years_of_practice=1, name="新人律师 Junior"),
        headers={**admin, "Idempotency-Key": "new-junior"},
    )
    assert replay.status_code == 201 and replay.json()["id"] == lawyer["id"]

    # Inactive: invisible to the public, visible to its own firm's admin.
    assert (await platform.http.get(f"/api/v1/lawyers/{lawyer['id']}")).status_code == 404
    assert (await platform.http.get(f"/api/v1/lawyers/{lawyer['id']}", headers=admin)).status_code == 200
    listed = (await platform.http.get("/api/v1/lawyers", params={"limit": 100})).json()["items"]
    assert lawyer["id"] not in {x["id"] for x in listed}

    activate = f"/api/v1/lawyers/{lawyer['id']}/activate"
    refused = await platform.http.post(activate, headers=admin)
    assert refused.status_code == 422 and problem_fields(refused) == ["licence_number"]
    updated = await platform.http.put(
        f"/api/v1/lawyers/{lawyer['id']}", json=profile(years_of_practice=1), headers=admin
    )
    assert updated.status_code == 200, updated.text
    refused = await platform.http.post(activate, headers=admin)
    assert refused.status_code == 422 and problem_fields(refused) == ["years_of_practice"]

    await platform.http.put(
        f"/api/v1/lawyers/{lawyer['id']}", json=profile(years_of_practice=2), headers=admin
    )
    # Issue 24: and verified credentials (409 until then).
    refused = await platform.http.post(activate, headers=admin)
    assert refused.status_code == 409 and "not verified" in refused.json()["detail"], refused.text
    await platform.verify(lawyer["id"])
    activated = await platform.http.post(activate, headers=admin)
    assert activated.status_code == 200 and activated.json()["active"] is True
    assert (await platform.http.get(f"/api/v1/lawyers/{lawyer['id']}")).status_code == 200
    events = [unpack(e, LawyerActivated) for e in await platform.events("lawyer.activated")]
    assert [e.lawyer_id for e in events].count(lawyer["id"]) == 1
    # An active lawyer cannot lose the licence that made it eligible.
    dropped = await platform.http.put(
        f"/api/v1/lawyers/{lawyer['id']}", json=profile(licence_number=""), headers=admin
    )
    assert dropped.status_code == 422 and problem_fields(dropped) == ["licence_number"]


async def test_bad_lawyer_profiles_are_422_naming_the_field(platform: Platform) -> None:
    admin = platform.firm_admin()
    url = f"/api/v1/firms/{OWN_FIRM}/lawyers"
    overlapping = profile(
        service_hours=[
            {"weekday": 2, "start": "09:00", "end": "12:00"},
            {"weekday": 2, "start": "11:00", "end": "14:00"},
        ]
    )
    cases = [
        (overlapping, "service_hours[1]"),
        (profile(fields=["astrology"]), "fields.0"),
        (profile(service_hours=[{"weekday": 3, "start": "14:00", "end": "09:00"}]), "service_hours[0].end"),
        (profile(years_of_practice=-1), "years_of_practice"),
        (profile(licence_number="12AB"), "licence_number"),
        (
            profile(service_exceptions=[{"date": "2027-02-30", "available": False}]),
            "service_exceptions[0].date",
        ),
    ]
    for body, field in cases:
        response = await platform.http.post(url, json=body, headers=admin)
        assert response.status_code == 422, (field, response.text)
        assert problem_fields(response) == [field], response.text


async def test_the_verification_queue_lists_pending_credentials_by_firm(platform: Platform) -> None:
    """GET /api/v1/lawyers/credentials?status=pending: the operator sees every firm's, a firm admin their
    own firm's; a verified lawyer leaves the queue."""
    admin = platform.firm_admin()
    created = await platform.http.post(
        f"/api/v1/firms/{OWN_FIRM}/lawyers",
        json=profile(years_of_practice=3, name="待核律师 Pending"),
        headers={**admin, "Idempotency-Key": "queue-pending"},
    )
    assert created.status_code == 201, created.text
    lawyer_id = created.json()["id"]
    submitted = await platform.http.post(
        f"/api/v1/lawyers/{lawyer_id}/credentials",
        files=CREDENTIAL_SCANS,
        data={"certificate_number": "11012015123456789", "inspection_due_on": next_year()},
        headers=admin,
    )
    assert submitted.status_code == 200, submitted.text

    async def queue(headers: dict[str, str]) -> list[dict[str, Any]]:
        listed = await platform.http.get(
            "/api/v1/lawyers/credentials", params={"status": "pending"}, headers=headers
        )
        assert listed.status_code == 200, listed.text
        return listed.json()["items"]

    pending = {x["id"]: x for x in await queue(platform.operator())}
    assert pending[lawyer_id]["verification"] == "pending"
    assert pending[lawyer_id]["inspection_due_on"] == next_year()
    assert pending[lawyer_id]["licence_number"] == "11012015123456789"
    own = await queue(admin)
    assert lawyer_id in {x["id"] for x in own} and {x["firm_id"] for x in own} == {OWN_FIRM}
    stranger = platform.keys.headers("someone-else", roles=("firm_admin",), tenant_id="")
    assert await queue(stranger) == []

    assert (
        await platform.http.get("/api/v1/lawyers/credentials", headers=platform.client())
    ).status_code == 403
    assert (await platform.http.get("/api/v1/lawyers/credentials")).status_code == 401
    other_status = await platform.http.get(
        "/api/v1/lawyers/credentials", params={"status": "verified"}, headers=platform.operator()
    )
    assert other_status.status_code == 422 and problem_fields(other_status) == ["status"]

    verified = await platform.http.post(
        f"/api/v1/lawyers/{lawyer_id}/verify", json={"decision": "verified"}, headers=platform.operator()
    )
    assert verified.status_code == 200, verified.text
    assert lawyer_id not in {x["id"] for x in await queue(platform.operator())}


async def test_another_firms_lawyer_is_404_and_roles_are_checked(platform: Platform) -> None:
    admin = platform.firm_admin()
    other = await platform.http.put(f"/api/v1/lawyers/{OTHER_FIRMS_LAWYER}", json=profile(), headers=admin)
    assert other.status_code == 404
    assert (
        await platform.http.post(f"/api/v1/lawyers/{OTHER_FIRMS_LAWYER}/activate", headers=admin)
    ).status_code == 404
    into_other = await platform.http.post(
        f"/api/v1/firms/{OTHER_FIRM}/lawyers", json=profile(), headers=admin
    )
    assert into_other.status_code == 404
    # A firm admin of no firm at all sees nothing to manage either.
    stranger = platform.keys.headers("someone-else", roles=("firm_admin",), tenant_id="")
    assert (
        await platform.http.put("/api/v1/lawyers/lawyer-1", json=profile(), headers=stranger)
    ).status_code == 404
    # Other roles are refused by the gateway; without a token, 401.
    client = await platform.http.post(
        f"/api/v1/firms/{OWN_FIRM}/lawyers", json=profile(), headers=platform.client()
    )
    assert client.status_code == 403
    assert (await platform.http.post(f"/api/v1/firms/{OWN_FIRM}/lawyers", json=profile())).status_code == 401


async def test_the_service_checks_roles_itself(platform: Platform) -> None:
    """Defence in depth: a caller reaching the gRPC API directly with a client's token is refused there."""
    reset = access_token_var.set(platform.client()["authorization"].split(" ", 1)[1])
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.stub.CreateArticle(
                catalog_service_pb2.CreateArticleRequest(kind="news", title="t", body="b")
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.stub.ActivateLawyer(
                catalog_service_pb2.ActivateLawyerRequest(lawyer_id="lawyer-1")
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        access_token_var.reset(reset)


async def test_firm_admin_edits_only_their_own_firm(platform: Platform) -> None:
    admin = platform.firm_admin()
    firm = (await platform.http.get(f"/api/v1/firms/{OWN_FIRM}")).json()
    body = {
        key: firm[key]
        for key in (
            "name",
            "city",
            "address",
            "location",
            "opening_hours",
            "transit_routes",
            "staff",
            "phone",
        )
    }
    body["transit_routes"] = [*firm["transit_routes"], "机场快轨 Airport Express"]
    body["staff"] = [{k: v for k, v in m.items() if v is not None} for m in firm["staff"]]
    updated = await platform.http.put(f"/api/v1/firms/{OWN_FIRM}", json=body, headers=admin)
    assert updated.status_code == 200, updated.text
    assert updated.json()["transit_routes"][-1] == "机场快轨 Airport Express"
    assert updated.json()["rating"] == firm["rating"]
    assert (
        await platform.http.put(f"/api/v1/firms/{OTHER_FIRM}", json=body, headers=admin)
    ).status_code == 404
    overlapping = {
        **body,
        "opening_hours": [
            {"weekday": 1, "opens": "09:00", "closes": "12:00"},
            {"weekday": 1, "opens": "11:00", "closes": "18:00"},
        ],
    }
    response = await platform.http.put(f"/api/v1/firms/{OWN_FIRM}", json=overlapping, headers=admin)
    assert response.status_code == 422 and problem_fields(response) == ["opening_hours[1]"]
    far = await platform.http.put(
        f"/api/v1/firms/{OWN_FIRM}", json={**body, "location": {"lat": 91, "lng": 0}}, headers=admin
    )
    assert far.status_code == 422 and problem_fields(far) == ["location.lat"]
    assert (
        await platform.http.put(f"/api/v1/firms/{OWN_FIRM}", json=body, headers=platform.editor())
    ).status_code == 403


async def test_a_lawyer_reads_their_own_profile(platform: Platform) -> None:
    """GetOwnLawyer (the gateway's `lawyer_id` in GET /api/v1/me): the caller's profile, unset without one."""
    lawyer = platform.keys.headers(identity_demo_user_id(LAWYER_EMAILS[2]), roles=("lawyer",), tenant_id="")
    stranger = platform.keys.headers("no-profile", roles=("lawyer",), tenant_id="")
    for headers, expected in ((lawyer, "lawyer-3"), (stranger, "")):
        reset = access_token_var.set(headers["authorization"].split(" ", 1)[1])
        try:
            reply = await platform.stub.GetOwnLawyer(catalog_service_pb2.GetOwnLawyerRequest())
        finally:
            access_token_var.reset(reset)
        assert reply.lawyer.id == expected
        assert reply.HasField("lawyer") == bool(expected)


async def test_a_lawyer_sets_their_own_online_status(platform: Platform) -> None:
    lawyer = platform.keys.headers(
        identity_demo_user_id(LAWYER_EMAILS[2]), roles=("lawyer",), tenant_id=""
    )  # lawyer-3, offline
    online = await platform.http.put("/api/v1/lawyer/status", json={"online": True}, headers=lawyer)
    assert online.status_code == 200 and online.json()["id"] == "lawyer-3" and online.json()["online"] is True
    listed = (await platform.http.get("/api/v1/lawyers", params={"online": "true", "limit": 100})).json()[
        "items"
    ]
    assert "lawyer-3" in [x["id"] for x in listed]
    await platform.http.put("/api/v1/lawyer/status", json={"online": False}, headers=lawyer)
    assert (await platform.http.get("/api/v1/lawyers/lawyer-3")).json()["online"] is False
    stranger = platform.keys.headers("no-profile", roles=("lawyer",), tenant_id="")
    assert (
        await platform.http.put("/api/v1/lawyer/status", json={"online": True}, headers=stranger)
    ).status_code == 404
    assert (
        await platform.http.put("/api/v1/lawyer/status", json={"online": True}, headers=platform.client())
    ).status_code == 403


# --- products: tier rules through the API (R-INFO-1, §6.2.2) -------------------------------------------


def document_product(**overrides: Any) -> dict[str, Any]:
    tiers = [
        {
            "id": complexity,
            "name": complexity,
            "price": {"amount": price, "currency": "CNY"},
            "complexity": complexity,
            "delivery_hours": hours,
            "revision_days": days,
            "acknowledge_minutes": 30,
        }
        for complexity, price, hours, days in [
            ("simple", 29900, 24, 3),
            ("standard", 59900, 48, 5),
            ("complex", 99900, 72, 7),
        ]
    ]
    body: dict[str, Any] = {
        "category": "document",
        "name": "劳动合同审查 Employment contract review",
        "description": "审查劳动合同中的试用期、竞业限制与解除条款。",
        "price": {"amount": 29900, "currency": "CNY"},
        "tiers": tiers,
        "process": [{"stage": "drafting", "title": "起草 Drafting"}],
        "requirement_fields": [
            {"name": "contract", "label": "合同 Contract", "type": "textarea", "required": True}
        ],
    }
    body.update(overrides)
    return body


async def test_editors_publish_products_and_bad_tiers_are_422(platform: Platform) -> None:
    editor, path = platform.editor(), "/api/v1/products/doc-employment-review"
    created = await platform.http.put(path, json=document_product(), headers=editor)
    assert created.status_code == 200, created.text
    assert [t["delivery_hours"] for t in created.json()["tiers"]] == [24, 48, 72]
    # Public once a reviewer approves it (§9.5; tests/integration/test_product_review.py has the rest).
    assert (await platform.http.post(f"{path}/submit", headers=editor)).status_code == 200
    approved = await platform.http.post(
        f"{path}/review", json={"decision": "approve"}, headers=platform.reviewer()
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert (await platform.http.get("/api/v1/products", params={"q": "竞业限制"})).json()["items"][0][
        "id"
    ] == "doc-employment-review"
    published = await platform.events("product.published")
    assert "doc-employment-review" in [unpack(e, ProductPublished).product_id for e in published]

    no_complexity = document_product()
    del no_complexity["tiers"][1]["complexity"]
    wrong_clock = document_product()
    wrong_clock["tiers"][2]["revision_days"] = 5
    negative = document_product()
    negative["tiers"][0]["price"]["amount"] = -1
    for body, field in [
        (no_complexity, "tiers[1].complexity"),
        (wrong_clock, "tiers[2].revision_days"),
        (negative, "tiers[0].price"),
        (document_product(price={"amount": -100, "currency": "CNY"}), "price"),
        (document_product(category="rental"), "category"),
        (document_product(tiers=[]), "tiers"),
    ]:
        response = await platform.http.put(path, json=body, headers=editor)
        assert response.status_code == 422, (field, response.text)
        assert problem_fields(response) == [field], response.text
    assert (
        await platform.http.put(path, json=document_product(), headers=platform.firm_admin())
    ).status_code == 403
    # The refused writes changed nothing.
    assert (await platform.http.get(path)).json()["tiers"][1]["complexity"] == "standard"


# --- search (R-INFO-1, R-INFO-2) ------------------------------------------------------------------------


async def test_chinese_and_english_search_ranks_the_best_match_first(platform: Platform) -> None:
    async def ids(path: str, **params: Any) -> list[str]:
        response = await platform.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert (await ids("/api/v1/lawyers", q="劳动合同"))[0] == "lawyer-2"  # 孙丽: 劳动合同纠纷
    assert (await ids("/api/v1/lawyers", q="知识产权"))[0] == "lawyer-4"
    assert "lawyer-6" in await ids("/api/v1/lawyers", q="税务")
    assert (await ids("/api/v1/lawyers", q="Wang Jianguo"))[0] == "lawyer-1"
    assert await ids("/api/v1/lawyers", q="劳动", field="ip") == []
    assert (await ids("/api/v1/products", q="合同起草"))[0] == "doc-contract-drafting"
    assert (await ids("/api/v1/products", q="律师函"))[0] == "doc-lawyer-letter"
    assert (await ids("/api/v1/products", q="contract review"))[0] == "doc-contract-review"
    assert (await ids("/api/v1/articles", q="试用期"))[0] == "article-labour-contract-law"
    assert (await ids("/api/v1/articles", q="商标侵权"))[0] == "article-trademark-case"
    assert await ids("/api/v1/articles", q="量子物理") == []


async def test_product_filters_by_category_and_price(platform: Platform) -> None:
    cheap = (await platform.http.get("/api/v1/products", params={"max_price": 30000})).json()["items"]
    assert cheap and all(p["price"]["amount"] <= 30000 for p in cheap)
    documents = (
        await platform.http.get("/api/v1/products", params={"category": "document", "min_price": 50000})
    ).json()["items"]
    assert [p["id"] for p in documents] == ["doc-lawyer-letter"]
    for params, field in [({"min_price": -1}, "min_price"), ({"min_price": 9, "max_price": 1}, "max_price")]:
        response = await platform.http.get("/api/v1/products", params=params)
        assert response.status_code == 422 and problem_fields(response) == [field]


# --- articles: the review gate (R-INFO-3, §9.5) ---------------------------------------------------------


async def _public(platform: Platform, article_id: str, word: str) -> tuple[int, list[str]]:
    """The public status of GET /articles/{id} and the ids a search for `word` finds."""
    detail = await platform.http.get(f"/api/v1/articles/{article_id}")
    found = (await platform.http.get("/api/v1/articles", params={"q": word})).json()["items"]
    return detail.status_code, [a["id"] for a in found]


async def test_only_approved_articles_are_public_including_search(platform: Platform) -> None:
    editor, reviewer = platform.editor(), platform.reviewer()
    created = await platform.http.post(
        "/api/v1/articles",
        json={"kind": "case", "title": "独角兽股权纠纷案评析", "body": "独角兽公司股东之间的股权代持纠纷。"},
        headers=editor,
    )
    assert created.status_code == 201, created.text
    article = created.json()
    article_id = article["id"]
    assert article["latest"]["status"] == "draft" and article["published"] is None
    assert (article["title"], article["status"], article["version"]) == ("独角兽股权纠纷案评析", "draft", 1)
    assert await _public(platform, article_id, "独角兽") == (404, [])

    submitted = await platform.http.post(f"/api/v1/articles/{article_id}/submit", headers=editor)
    assert submitted.status_code == 200 and submitted.json()["latest"]["status"] == "submitted"
    assert await _public(platform, article_id, "独角兽") == (404, [])
    queue = (
        await platform.http.get("/api/v1/articles", params={"status": "submitted"}, headers=reviewer)
    ).json()
    assert article_id in [a["id"] for a in queue["items"]]
    assert (await platform.http.get("/api/v1/articles", params={"status": "submitted"})).status_code == 401

    no_reason = await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "reject"}, headers=reviewer
    )
    assert no_reason.status_code == 422 and problem_fields(no_reason) == ["comment"]
    by_editor = await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "approve"}, headers=editor
    )
    assert by_editor.status_code == 403
    rejected = await platform.http.post(
        f"/api/v1/articles/{article_id}/review",
        json={"decision": "reject", "comment": "请补充判决书案号"},
        headers=reviewer,
    )
    assert rejected.status_code == 200 and rejected.json()["latest"]["status"] == "rejected"
    assert await _public(platform, article_id, "独角兽") == (404, [])
    again = await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "approve"}, headers=reviewer
    )
    assert again.status_code == 409  # only a submitted version is reviewed

    await platform.http.put(
        f"/api/v1/articles/{article_id}",
        json={
            "title": "独角兽股权纠纷案评析",
            "body": "（2025）京01民终1号：独角兽公司股东之间的股权代持纠纷。",
        },
        headers=editor,
    )
    await platform.http.post(f"/api/v1/articles/{article_id}/submit", headers=editor)
    approved = await platform.http.post(
        f"/api/v1/articles/{article_id}/review",
        json={"decision": "approve", "comment": "同意"},
        headers=reviewer,
    )
    assert approved.status_code == 200, approved.text
    status, found = await _public(platform, article_id, "独角兽")
    assert status == 200 and found == [article_id]
    public = (await platform.http.get(f"/api/v1/articles/{article_id}")).json()
    assert public["reviewed_by"] == "reviewer-1" and public["published_at"] and public["version"] == 1
    events = [unpack(e, ArticlePublished) for e in await platform.events("article.published")]
    assert [(e.article_id, e.version) for e in events if e.article_id == article_id] == [(article_id, 1)]


async def test_editing_a_published_article_needs_review_again(platform: Platform) -> None:
    editor, reviewer = platform.editor(), platform.reviewer()
    article_id = (
        await platform.http.post(
            "/api/v1/articles",
            json={"kind": "news", "title": "个人所得税新政解读", "body": "专项附加扣除标准提高。"},
            headers=editor,
        )
    ).json()["id"]
    await platform.http.post(f"/api/v1/articles/{article_id}/submit", headers=editor)
    await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "approve"}, headers=reviewer
    )

    edited = await platform.http.put(
        f"/api/v1/articles/{article_id}",
        json={
            "title": "个人所得税新政解读（更新）",
            "body": "专项附加扣除标准提高，婴幼儿照护费用纳入扣除。",
        },
        headers=editor,
    )
    assert edited.status_code == 200
    assert edited.json()["latest"]["version"] == 2 and edited.json()["latest"]["status"] == "draft"
    public = (await platform.http.get(f"/api/v1/articles/{article_id}")).json()
    assert public["version"] == 1 and public["title"] == "个人所得税新政解读"
    assert public["latest"]["version"] == 1  # drafts never leak through a public read
    assert (await _public(platform, article_id, "婴幼儿"))[1] == []

    await platform.http.post(f"/api/v1/articles/{article_id}/submit", headers=editor)
    assert (
        await platform.http.put(
            f"/api/v1/articles/{article_id}", json={"title": "x", "body": "y"}, headers=editor
        )
    ).status_code == 409
    await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "approve"}, headers=reviewer
    )
    public = (await platform.http.get(f"/api/v1/articles/{article_id}")).json()
    assert public["version"] == 2 and public["title"] == "个人所得税新政解读（更新）"
    assert (await _public(platform, article_id, "婴幼儿"))[1] == [article_id]


async def test_bad_article_input_and_roles(platform: Platform) -> None:
    editor = platform.editor()
    bad_kind = await platform.http.post(
        "/api/v1/articles", json={"kind": "gossip", "title": "t", "body": "b"}, headers=editor
    )
    assert bad_kind.status_code == 422 and problem_fields(bad_kind) == ["kind"]
    empty = await platform.http.post(
        "/api/v1/articles", json={"kind": "news", "title": "", "body": "b"}, headers=editor
    )
    assert empty.status_code == 422 and problem_fields(empty) == ["title"]
    client = await platform.http.post(
        "/api/v1/articles", json={"kind": "news", "title": "t", "body": "b"}, headers=platform.client()
    )
    assert client.status_code == 403
    assert (await platform.http.get("/api/v1/articles", params={"kind": "gossip"})).status_code == 422
    assert (await platform.http.post("/api/v1/articles/nope/submit", headers=editor)).status_code == 404
    seeded = (await platform.http.get("/api/v1/articles", params={"kind": "contract_template"})).json()[
        "items"
    ]
    assert [a["id"] for a in seeded] == ["article-sales-contract-template"]


# --- reviews and ratings (R-Q-1) ------------------------------------------------------------------------


def envelope(event_type: str, payload: Any, tenant_id: str = "") -> tuple[bytes, str]:
    """An event as the consumer receives it: its bytes and its subject."""
    event = factories.envelope(event_type, payload, tenant_id=tenant_id)
    return event.SerializeToString(), factories.subject_of(event)


async def test_only_the_buyer_of_a_completed_order_reviews_it_once(platform: Platform) -> None:
    bus = await EventBus.connect(platform.settings, name="catalog-review-test")
    consumer = DurableConsumer(
        "catalog-orders-test",
        bus,
        platform.db,
        TABLES,
        bind(events.TABLE["orders"], catalog_stores(platform.db, platform.settings)),
    )
    try:
        buyer = platform.keys.headers("buyer-1", roles=("client",), tenant_id="tenant-1")
        order_id = f"order-{uuid.uuid4().hex[:8]}"
        before = (await platform.http.get("/api/v1/products/doc-contract-drafting")).json()["rating"]
        created = envelope(
            "order.created",
            payment_events.OrderCreated(
                order_id=order_id, client_id="buyer-1", product_id="doc-contract-drafting"
            ),
            "tenant-1",
        )
        assert await consumer.handle(*created) == "processed"
        assert await consumer.handle(*created) == "duplicate"  # redelivery has no second effect
        await consumer.handle(
            *envelope("order.paid", payment_events.OrderPaid(order_id=order_id, client_id="buyer-1"))
        )

        review = {"order_id": order_id, "rating": 4, "comment": "起草及时，条款清楚"}
        early = await platform.http.post("/api/v1/reviews", json=review, headers=buyer)
        assert early.status_code == 409 and early.json()["type"].endswith("order_not_completed")

        await consumer.handle(
            *envelope(
                "docorder.completed",
                documents_events.DocOrderCompleted(document_order_id="d1", order_id=order_id),
            )
        )
        someone_else = platform.keys.headers("buyer-2", roles=("client",), tenant_id="tenant-2")
        assert (
            await platform.http.post("/api/v1/reviews", json=review, headers=someone_else)
        ).status_code == 404
        assert (
            await platform.http.post("/api/v1/reviews", json=review, headers=platform.editor())
        ).status_code == 403
        bad = await platform.http.post("/api/v1/reviews", json={**review, "rating": 6}, headers=buyer)
        assert bad.status_code == 422 and problem_fields(bad) == ["rating"]

        first = await platform.http.post("/api/v1/reviews", json=review, headers=buyer)
        assert first.status_code == 201, first.text
        again = await platform.http.post("/api/v1/reviews", json=review, headers=buyer)
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
        other = await platform.http.post("/api/v1/reviews", json={**review, "rating": 1}, headers=buyer)
        assert other.status_code == 409

        product = (await platform.http.get("/api/v1/products/doc-contract-drafting")).json()
        assert product["rating"]["count"] == before["count"] + 1
        expected = (before["average"] * before["count"] + 4) / (before["count"] + 1)
        assert product["rating"]["average"] == pytest.approx(expected)
        assert first.json()["id"] in [r["id"] for r in product["reviews"]]
        assert "buyer-1" not in str(product["reviews"])  # the reviewer is not published
        added = [unpack(e, ReviewAdded) for e in await platform.events("review.added")]
        assert order_id in [e.order_id for e in added]
    finally:
        await bus.js.delete_stream(bus.stream)
        await bus.close()


async def test_a_review_text_is_sealed_shown_on_the_product_page_and_a_placeholder_after_erasure(
    platform: Platform,
) -> None:
    """R-PRIV-1 (docs/privacy.md): the comment is sealed with its owner's data key, the public product page
    shows it opened, and after the reviewer's erasure it reads as the placeholder (the stars stay)."""
    stores = catalog_stores(platform.db, platform.settings)
    buyer_id, tenant = f"buyer-{uuid.uuid4().hex[:6]}", f"tenant-{uuid.uuid4().hex[:6]}"
    order_id, marker = f"order-{uuid.uuid4().hex[:8]}", f"marker-{uuid.uuid4().hex[:8]}"
    async with platform.db.transaction() as session:
        for event in ("created", "paid", "completed"):
            await stores.orders.record_order_event(
                session, order_id, event, client_id=buyer_id, tenant_id=tenant, product_id="doc-lawyer-letter"
            )
    buyer = platform.keys.headers(buyer_id, roles=("client",), tenant_id=tenant)
    review = {"order_id": order_id, "rating": 5, "comment": f"很专业 {marker}"}
    first = await platform.http.post("/api/v1/reviews", json=review, headers=buyer)
    assert first.status_code == 201, first.text
    assert first.json()["comment"] == f"很专业 {marker}"
    again = await platform.http.post("/api/v1/reviews", json=review, headers=buyer)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]  # compared opened

    async def shown() -> str:  # signed in: past the gateway's brief cache of anonymous reads
        page = (
            await platform.http.get("/api/v1/products/doc-lawyer-letter", headers=platform.operator())
        ).json()
        return str(next(r["comment"] for r in page["reviews"] if r["id"] == first.json()["id"]))

    async def stored() -> tuple[str, int]:
        async with platform.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT comment, rating FROM reviews WHERE id = :id"), {"id": first.json()["id"]}
                )
            ).one()
        return row.comment, row.rating

    assert await shown() == f"很专业 {marker}"
    comment, _ = await stored()
    assert comment.startswith(SEALED_PREFIX) and marker not in comment
    erased = factories.envelope(
        "user.erased", UserErased(user_id=buyer_id, tenant_id=tenant, tenant_erased=True), tenant_id=tenant
    )
    async with platform.db.transaction() as session:
        await factories.deliver(events.TABLE["erasure"], stores, erased, session)
    assert await shown() == ERASED_TEXT
    assert await stored() == (ERASED_TEXT, 5)
    assert (await stores.keys.cipher(tenant_subject(tenant))).destroyed


async def test_review_texts_written_before_sealing_are_sealed_at_start(platform: Platform) -> None:
    """`seal_clear_rows` (run at start) seals the clear texts; one whose author was erased before (no
    `client_id`, so no key) is redacted; a second run finds nothing."""
    stores = catalog_stores(platform.db, platform.settings)
    ids = {name: f"review-{name}-{uuid.uuid4().hex[:6]}" for name in ("kept", "orphan")}
    async with platform.db.transaction() as session:
        for name, client_id in (("kept", "old-client"), ("orphan", "")):
            session.add(
                ReviewRow(
                    id=ids[name],
                    order_id=f"order-{ids[name]}",
                    product_id="doc-lawyer-letter",
                    client_id=client_id,
                    tenant_id="tenant-old",
                    rating=3,
                    comment=f"旧评价 {name}",
                    created_at=utcnow(),
                )
            )
    assert await seal_clear_rows(platform.db, stores.keys) == 2
    assert await seal_clear_rows(platform.db, stores.keys) == 0
    async with platform.db.engine.connect() as conn:
        rows = dict(
            (
                await conn.execute(
                    text("SELECT id, comment FROM reviews WHERE id = ANY(:ids)"), {"ids": list(ids.values())}
                )
            ).all()
        )
    assert rows[ids["kept"]].startswith(SEALED_PREFIX) and rows[ids["orphan"]] == ERASED_TEXT
    [kept] = await stores.reviews.written_by("old-client")
    assert kept.comment == "旧评价 kept"


async def test_a_closed_paid_consultation_rates_its_lawyer_and_firm(platform: Platform) -> None:
    bus = await EventBus.connect(platform.settings, name="catalog-review-test-2")
    consumer = DurableConsumer(
        "catalog-orders-test-2",
        bus,
        platform.db,
        TABLES,
        bind(events.TABLE["orders"], catalog_stores(platform.db, platform.settings)),
    )
    try:
        order_id, consultation_id = f"order-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        lawyer_before = (await platform.http.get("/api/v1/lawyers/lawyer-1")).json()["rating"]["count"]
        firm_before = (await platform.http.get(f"/api/v1/firms/{OWN_FIRM}")).json()["rating"]["count"]
        for event_type, payload in [
            (
                "order.created",
                payment_events.OrderCreated(
                    order_id=order_id, client_id="buyer-3", product_id="consult-professional"
                ),
            ),
            ("order.paid", payment_events.OrderPaid(order_id=order_id, client_id="buyer-3")),
            (
                "consultation.submitted",
                consultation_events.ConsultationSubmitted(
                    consultation_id=consultation_id, order_id=order_id, client_id="buyer-3"
                ),
            ),
            # Consultation names lawyers by their identity account.
            (
                "consultation.assigned",
                consultation_events.ConsultationAssigned(
                    consultation_id=consultation_id, lawyer_id=identity_demo_user_id(LAWYER_EMAILS[0])
                ),
            ),
            (
                "consultation.closed",
                consultation_events.ConsultationClosed(consultation_id=consultation_id, client_id="buyer-3"),
            ),
        ]:
            assert await consumer.handle(*envelope(event_type, payload)) == "processed"
        buyer = platform.keys.headers("buyer-3", roles=("client_admin",), tenant_id="tenant-3")
        response = await platform.http.post(
            "/api/v1/reviews", json={"order_id": order_id, "rating": 5}, headers=buyer
        )
        assert response.status_code == 201, response.text
        assert response.json()["lawyer_id"] == "lawyer-1"
        assert (await platform.http.get("/api/v1/lawyers/lawyer-1")).json()["rating"][
            "count"
        ] == lawyer_before + 1
        assert (await platform.http.get(f"/api/v1/firms/{OWN_FIRM}")).json()["rating"][
            "count"
        ] == firm_before + 1

        # A cancelled order never becomes reviewable, even if a completion arrives late.
        cancelled = f"order-{uuid.uuid4().hex[:8]}"
        await consumer.handle(
            *envelope(
                "order.created",
                payment_events.OrderCreated(
                    order_id=cancelled, client_id="buyer-3", product_id="consult-professional"
                ),
            )
        )
        await consumer.handle(
            *envelope(
                "order.cancelled", payment_events.OrderCancelled(order_id=cancelled, client_id="buyer-3")
            )
        )
        await consumer.handle(
            *envelope("docorder.completed", documents_events.DocOrderCompleted(order_id=cancelled))
        )
        refused = await platform.http.post(
            "/api/v1/reviews", json={"order_id": cancelled, "rating": 5}, headers=buyer
        )
        assert refused.status_code == 409
    finally:
        await bus.js.delete_stream(bus.stream)
        await bus.close()


# --- fast public reads and browsing events ---------------------------------------------------------------


async def test_public_reads_answer_304_while_unchanged(platform: Platform) -> None:
    for path in [
        "/api/v1/products/booking-at-firm",
        "/api/v1/lawyers?field=tax",
        "/api/v1/firms",
        "/api/v1/articles",
    ]:
        first = await platform.http.get(path)
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag
        cached = await platform.http.get(path, headers={"if-none-match": etag})
        assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
        assert (await platform.http.get(path, headers={"if-none-match": '"stale"'})).status_code == 200
    # A write changes the representation, so the old tag no longer matches.
    admin = platform.firm_admin()
    lawyer = (
        await platform.http.post(
            f"/api/v1/firms/{OWN_FIRM}/lawyers", json=profile(fields=["tax"]), headers=admin
        )
    ).json()
    tag = (await platform.http.get("/api/v1/lawyers?field=tax")).headers["etag"]
    await platform.verify(lawyer["id"])
    await platform.http.post(f"/api/v1/lawyers/{lawyer['id']}/activate", headers=admin)
    assert (
        await platform.http.get("/api/v1/lawyers?field=tax", headers={"if-none-match": tag})
    ).status_code == 200


async def test_signed_in_views_are_published_as_browsing_events(platform: Platform) -> None:
    viewer = platform.keys.headers("viewer-1", roles=("client",), tenant_id="tenant-9")
    before = len(await platform.events("product.viewed"))
    await platform.http.get("/api/v1/products/retainer-annual")  # anonymous: not recorded
    assert len(await platform.events("product.viewed")) == before
    await platform.http.get("/api/v1/products/retainer-annual", headers=viewer)
    await platform.http.get("/api/v1/lawyers/lawyer-2", headers=viewer)
    await platform.http.get("/api/v1/articles/article-trademark-case", headers=viewer)
    for kind, item in [
        ("product", "retainer-annual"),
        ("lawyer", "lawyer-2"),
        ("article", "article-trademark-case"),
    ]:
        views = [unpack(e, ItemViewed) for e in await platform.events(f"{kind}.viewed")]
        assert (item, "viewer-1") in [(v.item_id, v.user_id) for v in views]


async def test_published_events_reach_jetstream(platform: Platform) -> None:
    """Events go through the outbox and its relay (ARCHITECTURE rule 2)."""
    editor, reviewer = platform.editor(), platform.reviewer()
    article_id = (
        await platform.http.post(
            "/api/v1/articles", json={"kind": "news", "title": "新闻", "body": "正文"}, headers=editor
        )
    ).json()["id"]
    await platform.http.post(f"/api/v1/articles/{article_id}/submit", headers=editor)
    await platform.http.post(
        f"/api/v1/articles/{article_id}/review", json={"decision": "approve"}, headers=reviewer
    )
    bus = await EventBus.connect(platform.settings, name="catalog-test")
    try:
        relay = OutboxRelay(platform.db, platform.outbox, bus)
        relayed = await relay.relay_once()
        assert relayed >= 1 and await relay.pending() == 0
        info = await bus.js.stream_info(bus.stream)
        assert info.state.messages >= relayed
        published = await bus.js.get_last_msg(
            bus.stream, platform.settings.subject("catalog.article.published")
        )
        envelope = EventEnvelope.FromString(published.data or b"")
        assert unpack(envelope, ArticlePublished).article_id == article_id  # type: ignore[attr-defined]
        await bus.js.delete_stream(bus.stream)
    finally:
        await bus.close()


async def test_seeding_again_keeps_what_happened_since(platform: Platform) -> None:
    """`counsel up` seeds at every start: ratings, online status and article versions made since survive."""
    lawyer = platform.keys.headers(identity_demo_user_id(LAWYER_EMAILS[2]), roles=("lawyer",), tenant_id="")
    await platform.http.put("/api/v1/lawyer/status", json={"online": True}, headers=lawyer)
    edited = await platform.http.put(
        "/api/v1/articles/article-sales-contract-template",
        json={"title": "买卖合同范本（2027 版）", "body": "第一条 标的物……"},
        headers=platform.editor(),
    )
    assert edited.json()["latest"]["version"] == 2
    # Signed-in reads, so the gateway's brief cache of anonymous reads cannot hide a change.
    staff = platform.keys.headers("agent-1", roles=("agent",), tenant_id="")
    paths = [
        "/api/v1/products/doc-contract-drafting",
        f"/api/v1/firms/{OWN_FIRM}",
        "/api/v1/lawyers/lawyer-1",
    ]
    before = [(await platform.http.get(path, headers=staff)).json()["rating"] for path in paths]
    assert before[2]["count"] >= 1  # the consultation review above rated lawyer-1
    await seed_demo(catalog_stores(platform.db, platform.settings))
    after = [(await platform.http.get(path, headers=staff)).json()["rating"] for path in paths]
    assert after == before
    assert (await platform.http.get("/api/v1/lawyers/lawyer-3", headers=staff)).json()["online"] is True
    queue = await platform.http.get("/api/v1/articles", params={"status": "draft"}, headers=platform.editor())
    drafts = {a["id"]: a for a in queue.json()["items"]}
    assert drafts["article-sales-contract-template"]["latest"]["version"] == 2
    public = (await platform.http.get("/api/v1/articles/article-sales-contract-template")).json()
    assert public["version"] == 1


async def test_one_search_over_products_lawyers_and_articles(platform: Platform) -> None:
    found = (await platform.http.get("/api/v1/search", params={"q": "劳动"})).json()
    assert found["lawyers"][0]["id"] in ("lawyer-2", "lawyer-9")
    assert "article-labour-contract-law" in [a["id"] for a in found["articles"]]
    assert all(a["published"] for a in found["articles"])
    assert set(found) == {"products", "lawyers", "articles"}
    empty = await platform.http.get("/api/v1/search", params={"q": ""})
    assert empty.status_code == 422 and problem_fields(empty) == ["q"]
    media = (await platform.http.get("/api/v1/products/consult-professional")).json()["media"]
    assert {m["kind"] for m in media} == {"image", "video", "interactive"}
    assert media[2]["data"]["answers"][0]["product_id"] == "consult-professional"


async def test_anonymous_reads_are_cached_briefly_and_gateway_writes_clear_them(platform: Platform) -> None:
    path = "/api/v1/firms/firm-shenzhen-nanshan"
    assert (await platform.http.get(path)).json()["phone"] == "0755-86860000"
    async with platform.db.transaction() as session:  # a change that does not pass through this gateway
        await session.execute(
            text("UPDATE firms SET phone = '0755-00000000' WHERE id = 'firm-shenzhen-nanshan'")
        )
    assert (await platform.http.get(path)).json()["phone"] == "0755-86860000"  # within the TTL
    signed_in = platform.keys.headers("agent-1", roles=("agent",), tenant_id="")
    assert (await platform.http.get(path, headers=signed_in)).json()["phone"] == "0755-00000000"
    lawyer = platform.keys.headers(identity_demo_user_id(LAWYER_EMAILS[9]), roles=("lawyer",), tenant_id="")
    assert (
        await platform.http.put("/api/v1/lawyer/status", json={"online": False}, headers=lawyer)
    ).status_code == 200
    assert (await platform.http.get(path)).json()["phone"] == "0755-00000000"


async def test_paging_and_foreign_cursors(platform: Platform) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = (await platform.http.get("/api/v1/lawyers", params={"limit": 4, "cursor": cursor})).json()
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"] or ""
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 10
    firms = (await platform.http.get("/api/v1/firms", params={"limit": 2})).json()
    rest = (
        await platform.http.get("/api/v1/firms", params={"limit": 100, "cursor": firms["next_cursor"]})
    ).json()
    assert not {f["id"] for f in firms["items"]} & {f["id"] for f in rest["items"]}
    # Cursors of another listing, or forged ones, are a 422 naming the cursor, never a 5xx.
    rank_cursor = encode_cursor("rank", 4)
    keyset_cursor = encode_cursor("a", "b", "c")
    for path, cursor in [
        ("/api/v1/firms", rank_cursor),
        ("/api/v1/products", rank_cursor),
        ("/api/v1/products", encode_cursor(1, 2, 3)),
        ("/api/v1/lawyers", keyset_cursor),
        ("/api/v1/articles", "not-a-cursor!"),
    ]:
        response = await platform.http.get(path, params={"cursor": cursor})
        assert response.status_code == 422 and problem_fields(response) == ["cursor"], (path, response.text)


async def test_firm_admin_lists_own_inactive_lawyers_and_accounts_have_one_profile(
    platform: Platform,
) -> None:
    admin = platform.firm_admin()
    lawyer = (
        await platform.http.post(
            f"/api/v1/firms/{OWN_FIRM}/lawyers",
            json=profile(name="待激活 Pending", user_id="acct-x"),
            headers=admin,
        )
    ).json()
    own = await platform.http.get(
        "/api/v1/lawyers", params={"firm_id": OWN_FIRM, "limit": 100}, headers=admin
    )
    assert lawyer["id"] in [x["id"] for x in own.json()["items"]]
    public = await platform.http.get("/api/v1/lawyers", params={"firm_id": OWN_FIRM, "limit": 100})
    assert lawyer["id"] not in [x["id"] for x in public.json()["items"]]
    # The inactive profile itself: its firm's admin, the operator and supervisors (who verify lawyers and read
    # their history, §4.2.1) see it; the public and clients do not.
    path = f"/api/v1/lawyers/{lawyer['id']}"
    supervisor = platform.keys.headers("supervisor-1", roles=("supervisor",), tenant_id="")
    for staff in (admin, platform.operator(), supervisor):
        assert (await platform.http.get(path, headers=staff)).status_code == 200
    for outsider in ({}, platform.client()):
        assert (await platform.http.get(path, headers=outsider)).status_code == 404
    taken = await platform.http.post(
        f"/api/v1/firms/{OWN_FIRM}/lawyers", json=profile(user_id="acct-x"), headers=admin
    )
    assert taken.status_code == 422 and problem_fields(taken) == ["user_id"]


# --- products go public through review (issue 23 item 5, §6.1.3.2, §9.5) --------------------------------
# An editor drafts a product and each change to it, a reviewer approves or rejects the submitted version,
# and the public (and new orders) see only the last approved version. What an order records of it is in
# tests/e2e/test_catalog_editorial_journey.py.


def new_product_id() -> str:
    return f"doc-reviewed-{uuid.uuid4().hex[:8]}"


async def published_versions(platform: Platform, product_id: str) -> list[int]:
    events = [unpack(e, ProductPublished) for e in await platform.events("product.published")]
    return [e.version for e in events if e.product_id == product_id]


async def test_a_new_product_is_public_only_after_a_reviewer_approves_it(platform: Platform) -> None:
    http, editor, reviewer = platform.http, platform.editor(), platform.reviewer()
    product_id = new_product_id()
    path = f"/api/v1/products/{product_id}"
    content: dict[str, Any] = document_product(name="股权转让协议起草 Share transfer agreement")
    body = content | {"id": product_id}

    for who in (platform.client(), reviewer, platform.firm_admin()):
        assert (await http.post("/api/v1/products", json=body, headers=who)).status_code == 403
    assert (await http.post("/api/v1/products", json=body)).status_code == 401
    created = await http.post("/api/v1/products", json=body, headers=editor)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert (draft["id"], draft["version"], draft["status"]) == (product_id, 1, "draft")
    assert draft["author_id"] == "editor-1" and draft["reviewer_id"] is None
    again = await http.post("/api/v1/products", json=body, headers=editor)
    assert again.status_code == 409, again.text

    async def not_public() -> None:
        assert (await http.get(path)).status_code == 404
        listed = (await http.get("/api/v1/products", params={"q": "股权转让"})).json()["items"]
        assert product_id not in [p["id"] for p in listed]

    await not_public()
    # Only a submitted version is reviewed; only an editor submits.
    early = await http.post(f"{path}/review", json={"decision": "approve"}, headers=reviewer)
    assert early.status_code == 409, early.text
    assert (await http.post(f"{path}/submit", headers=reviewer)).status_code == 403
    submitted = await http.post(f"{path}/submit", headers=editor)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted", submitted.text
    assert (await http.post(f"{path}/submit", headers=editor)).json()["status"] == "submitted"  # repeated
    in_review = await http.put(path, json=content, headers=editor)
    assert in_review.status_code == 409, in_review.text
    queue = await http.get("/api/v1/product-versions", params={"status": "submitted"}, headers=reviewer)
    assert queue.status_code == 200 and product_id in [v["id"] for v in queue.json()["items"]]
    assert (await http.get("/api/v1/product-versions", headers=platform.client())).status_code == 403
    await not_public()

    # A rejection says why; the product stays private; the editor edits the same version and resubmits.
    assert (
        await http.post(f"{path}/review", json={"decision": "approve"}, headers=editor)
    ).status_code == 403
    no_reason = await http.post(f"{path}/review", json={"decision": "reject"}, headers=reviewer)
    assert no_reason.status_code == 422 and problem_fields(no_reason) == ["comment"]
    rejected = await http.post(
        f"{path}/review", json={"decision": "reject", "comment": "价格说明不清"}, headers=reviewer
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["review_comment"]) == ("rejected", "价格说明不清")
    assert (
        await http.post(f"{path}/review", json={"decision": "reject", "comment": "x"}, headers=reviewer)
    ).status_code == 409
    await not_public()
    edited = await http.put(
        path, json=content | {"description": "起草股权转让协议，含价款与交割条款。"}, headers=editor
    )
    assert edited.status_code == 200 and (edited.json()["version"], edited.json()["status"]) == (1, "draft")
    await http.post(f"{path}/submit", headers=editor)
    approved = await http.post(
        f"{path}/review", json={"decision": "approve", "comment": "同意"}, headers=reviewer
    )
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["reviewer_id"]) == ("approved", "reviewer-1")

    public = await http.get(path)
    assert public.status_code == 200, public.text
    assert public.json()["version"] == 1 and public.json()["description"].startswith("起草股权转让协议")
    assert product_id in [
        p["id"] for p in (await http.get("/api/v1/products", params={"q": "股权转让"})).json()["items"]
    ]
    assert await published_versions(platform, product_id) == [1]


async def test_a_change_stays_private_until_approved_and_the_last_approved_version_is_public(
    platform: Platform,
) -> None:
    http, editor, reviewer = platform.http, platform.editor(), platform.reviewer()
    product_id = new_product_id()
    path = f"/api/v1/products/{product_id}"
    assert (
        await http.put(path, json=document_product(), headers=editor)
    ).status_code == 200  # PUT drafts a new product too
    await http.post(f"{path}/submit", headers=editor)
    await http.post(f"{path}/review", json={"decision": "approve"}, headers=reviewer)

    dearer = document_product(price={"amount": 39900, "currency": "CNY"})
    dearer["tiers"][0]["price"]["amount"] = 39900
    change = await http.put(path, json=dearer, headers=editor)
    assert change.status_code == 200 and (change.json()["version"], change.json()["status"]) == (2, "draft")
    # The public product, and what new orders buy, is still version 1.
    public = (await http.get(path)).json()
    assert public["version"] == 1 and public["price"]["amount"] == 29900
    assert public["tiers"][0]["price"]["amount"] == 29900
    await http.post(f"{path}/submit", headers=editor)
    assert (await http.get(path)).json()["version"] == 1
    approved = await http.post(f"{path}/review", json={"decision": "approve"}, headers=reviewer)
    assert approved.status_code == 200 and approved.json()["version"] == 2, approved.text
    public = (await http.get(path)).json()
    assert public["version"] == 2 and public["tiers"][0]["price"]["amount"] == 39900

    history = await http.get("/api/v1/product-versions", params={"product_id": product_id}, headers=editor)
    assert [(v["version"], v["status"]) for v in history.json()["items"]] == [
        (2, "approved"),
        (1, "approved"),
    ]
    assert await published_versions(platform, product_id) == [1, 2]
    assert (await http.post("/api/v1/products/no-such-product/submit", headers=editor)).status_code == 404


async def test_demo_products_are_seeded_as_approved_versions(platform: Platform) -> None:
    reviewer = identity_demo_user_id(demo_email("reviewer"))
    history = await platform.http.get(
        "/api/v1/product-versions",
        params={"product_id": "doc-contract-drafting"},
        headers=platform.reviewer(),
    )
    (version,) = history.json()["items"]
    assert (version["version"], version["status"], version["reviewer_id"]) == (1, "approved", reviewer)
    assert (await platform.http.get("/api/v1/products/doc-contract-drafting")).json()["version"] == 1


# --- editorial columns (issue 24 item 5, §4.2.1, §4.2.2) --------------------------------------------------
# Articles belong to columns aimed at industries; lawyers write risk alerts and annotated templates, which
# still pass review; editors plan each column's issues. A client's industry comes from identity (the e2e
# tier: tests/e2e/test_catalog_editorial_journey.py); here the order for an anonymous reader.


async def test_columns_of_every_kind_are_listed_general_ones_first(platform: Platform) -> None:
    columns = (await platform.http.get("/api/v1/columns")).json()["items"]
    assert {c["kind"] for c in columns} == {
        "laws_regulations",
        "legal_developments",
        "cases",
        "contract_templates",
        "risk_alerts",
    }
    general = [c["industries"] == [] for c in columns]
    assert general == sorted(general, reverse=True) and not any(c["for_your_industry"] for c in columns)
    tech = (await platform.http.get("/api/v1/articles", params={"column": "column-risk-tech"})).json()[
        "items"
    ]
    assert [a["id"] for a in tech] == ["article-personal-information-risk"]
    assert tech[0]["industries"] == ["technology"] and tech[0]["column_id"] == "column-risk-tech"


async def test_lawyers_write_risk_alerts_that_still_pass_review(platform: Platform) -> None:
    http = platform.http
    lawyer = platform.keys.headers("lawyer-columnist", roles=("lawyer",), tenant_id="")
    other_lawyer = platform.keys.headers("lawyer-other", roles=("lawyer",), tenant_id="")
    alert = {
        "kind": "news",
        "title": "风险提示：竞业限制补偿金未按月支付的后果",
        "body": "用人单位未按月支付竞业限制经济补偿超过三个月的，劳动者可以解除竞业限制约定。",
        "column_id": "column-risk-tech",
        "industries": ["technology"],
    }
    refused = await http.post("/api/v1/articles", json=alert | {"column_id": "column-laws"}, headers=lawyer)
    assert refused.status_code == 403, refused.text
    assert (await http.post("/api/v1/articles", json=alert, headers=platform.client())).status_code == 403
    unknown = await http.post("/api/v1/articles", json=alert | {"industries": ["mining"]}, headers=lawyer)
    assert unknown.status_code == 422, unknown.text
    created = await http.post("/api/v1/articles", json=alert, headers=lawyer)
    assert created.status_code == 201, created.text
    article = created.json()
    path = f"/api/v1/articles/{article['id']}"
    assert (article["column_id"], article["industries"], article["status"]) == (
        "column-risk-tech",
        ["technology"],
        "draft",
    )
    edit = {"title": alert["title"], "body": alert["body"] + "建议按月足额支付。"}
    assert (await http.put(path, json=edit, headers=other_lawyer)).status_code == 403
    assert (await http.put(path, json=edit, headers=lawyer)).status_code == 200
    assert (await http.post(f"{path}/submit", headers=other_lawyer)).status_code == 403
    assert (await http.post(f"{path}/submit", headers=lawyer)).json()["status"] == "submitted"
    assert (await http.get(path)).status_code == 404  # not public before review
    approved = await http.post(f"{path}/review", json={"decision": "approve"}, headers=platform.reviewer())
    assert approved.status_code == 200 and approved.json()["reviewed_by"] == "reviewer-1", approved.text
    listed = (await http.get("/api/v1/articles", params={"column": "column-risk-tech"})).json()["items"]
    assert article["id"] in [a["id"] for a in listed]


async def test_editors_plan_a_columns_issues_on_a_calendar(platform: Platform) -> None:
    http, editor = platform.http, platform.editor()
    path = "/api/v1/columns/column-risk-manufacturing/issues"
    window = {"from": "2027-03-01", "to": "2027-03-31"}
    assert (await http.get(path, params=window, headers=editor)).json()["items"] == []
    planned = await http.post(
        path, json={"planned_for": "2027-03-15", "title": "供应链合同的不可抗力条款"}, headers=editor
    )
    assert planned.status_code == 201, planned.text
    assert (planned.json()["status"], planned.json()["planned_by"]) == ("planned", "editor-1")
    # The issue whose article is published shows so; an article of another column cannot be planned here.
    with_article = await http.post(
        path,
        json={
            "planned_for": "2027-03-02",
            "title": "劳务派遣比例",
            "article_id": "article-labour-dispatch-risk",
        },
        headers=editor,
    )
    assert with_article.status_code == 201 and with_article.json()["status"] == "published"
    wrong = await http.post(
        path,
        json={"planned_for": "2027-03-03", "title": "x", "article_id": "article-personal-information-risk"},
        headers=editor,
    )
    assert wrong.status_code == 422 and problem_fields(wrong) == ["article_id"]
    calendar = (await http.get(path, params=window, headers=platform.reviewer())).json()["items"]
    assert [(i["planned_for"], i["title"]) for i in calendar] == [
        ("2027-03-02", "劳务派遣比例"),
        ("2027-03-15", "供应链合同的不可抗力条款"),
    ]
    for headers in (platform.client(), platform.keys.headers("lawyer-x", roles=("lawyer",), tenant_id="")):
        assert (
            await http.post(path, json={"planned_for": "2027-03-04", "title": "x"}, headers=headers)
        ).status_code == 403
    assert (await http.get(path, params=window, headers=platform.client())).status_code == 403
    bad = await http.post(path, json={"planned_for": "3月4日", "title": "x"}, headers=editor)
    assert bad.status_code == 422 and problem_fields(bad) == ["planned_for"]
    unknown = await http.post(
        "/api/v1/columns/no-such-column/issues",
        json={"planned_for": "2027-03-04", "title": "x"},
        headers=editor,
    )
    assert unknown.status_code == 404
    assert (
        await http.get(path, params={"from": "2027-03-31", "to": "2027-03-01"}, headers=editor)
    ).status_code == 422


# --- onboarding: firms on their agreement, lawyers on verified credentials (issue 24 items 1, 2) ---------

NEW_FIRM = {
    "name": "上海新合律师事务所 Xinhe Law Firm",
    "credit_code": "91350100M000100Y43",
    "registered_capital": {"amount": 300_000_000, "currency": "CNY"},
    "address": "上海市浦东新区世纪大道100号",
    "city": "上海",
    "location": {"lat": 31.23, "lng": 121.5},
}


async def test_a_firms_registered_capital_is_realistic_beyond_an_int32(platform: Platform) -> None:
    """Issue 24: registered capital is a bigint of fen: ¥5 亿 (beyond an int32's ¥21.47 M) is stored and shown
    to staff; a negative, a zero or an absurd capital is 422 naming registered_capital."""
    operator = platform.operator()
    firm = {**NEW_FIRM, "name": "五亿资本律师事务所", "credit_code": "91110105000000019Q"}
    for amount in (-1, 0, 2**53, 10**15 + 1):
        refused = await platform.http.post(
            "/api/v1/firms", json={**firm, "registered_capital": {"amount": amount}}, headers=operator
        )
        assert refused.status_code == 422, (amount, refused.text)
        assert [field.split(".")[0] for field in problem_fields(refused)] == ["registered_capital"]
    five_hundred_million_yuan = 500_000_000 * 100
    created = await platform.http.post(
        "/api/v1/firms",
        json={**firm, "registered_capital": {"amount": five_hundred_million_yuan, "currency": "CNY"}},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    assert created.json()["registered_capital"] == {"amount": five_hundred_million_yuan, "currency": "CNY"}
    shown = await platform.http.get(f"/api/v1/firms/{created.json()['id']}", headers=operator)
    assert shown.json()["registered_capital"]["amount"] == five_hundred_million_yuan


async def test_the_platforms_licences_are_public(platform: Platform) -> None:
    answer = await platform.http.get("/api/v1/platform")
    assert answer.status_code == 200
    assert set(answer.json()) == {"name", "icp_licence", "business_licence"}


async def test_the_operator_onboards_a_firm_whose_agreement_makes_it_active(platform: Platform) -> None:
    operator = platform.operator()
    refused = await platform.http.post("/api/v1/firms", json=NEW_FIRM, headers=platform.firm_admin())
    assert refused.status_code == 403
    invalid = await platform.http.post(
        "/api/v1/firms", json={**NEW_FIRM, "credit_code": "91350100M000100Y44"}, headers=operator
    )
    assert invalid.status_code == 422 and problem_fields(invalid) == ["credit_code"], invalid.text
    created = await platform.http.post("/api/v1/firms", json=NEW_FIRM, headers=operator)
    assert created.status_code == 201, created.text
    firm = created.json()
    assert firm["status"] == "pending" and firm["takes_new_work"] is False
    assert (
        firm["credit_code"] == NEW_FIRM["credit_code"] and firm["registered_capital"]["amount"] == 300_000_000
    )
    again = await platform.http.post("/api/v1/firms", json=NEW_FIRM, headers=operator)
    assert again.status_code == 409  # one firm per credit code

    agreement = f"/api/v1/firms/{firm['id']}/agreement"
    signed = b"%PDF-1.7 signed cooperation agreement"
    backwards = await platform.http.post(
        agreement,
        files={"file": ("agreement.pdf", signed, "application/pdf")},
        data={"starts_on": "2026-12-01", "ends_on": "2026-11-30"},
        headers=operator,
    )
    assert backwards.status_code == 422 and problem_fields(backwards) == ["ends_on"]
    recorded = await platform.http.post(
        agreement,
        files={"file": ("agreement.pdf", signed, "application/pdf")},
        data={"starts_on": date.today().isoformat(), "ends_on": next_year()},
        headers=operator,
    )
    assert recorded.status_code == 200, recorded.text
    active = recorded.json()
    assert active["status"] == "active" and active["takes_new_work"] is True
    assert active["agreement_sha256"] == hashlib.sha256(signed).hexdigest()
    assert active["agreement_ends_on"] == next_year()
    public = (await platform.http.get(f"/api/v1/firms/{firm['id']}")).json()
    assert "credit_code" not in public and "agreement_sha256" not in public  # staff only


async def test_credentials_are_checked_verified_once_and_the_history_is_kept(platform: Platform) -> None:
    admin = platform.firm_admin()
    lawyer = (
        await platform.http.post(f"/api/v1/firms/{OWN_FIRM}/lawyers", json=profile(), headers=admin)
    ).json()
    credentials = f"/api/v1/lawyers/{lawyer['id']}/credentials"
    bad_number = await platform.http.post(
        credentials,
        files=CREDENTIAL_SCANS,
        data={"certificate_number": "1101201512345678", "inspection_due_on": next_year()},
        headers=admin,
    )
    assert bad_number.status_code == 422 and problem_fields(bad_number) == ["certificate_number"]
    overdue = await platform.http.post(
        credentials,
        files=CREDENTIAL_SCANS,
        data={"certificate_number": "11012015123456789", "inspection_due_on": "2020-05-31"},
        headers=admin,
    )
    assert overdue.status_code == 422 and problem_fields(overdue) == ["inspection_due_on"]
    other_firms = await platform.http.post(
        f"/api/v1/lawyers/{OTHER_FIRMS_LAWYER}/credentials",
        files=CREDENTIAL_SCANS,
        data={"certificate_number": "11012015123456789", "inspection_due_on": next_year()},
        headers=admin,
    )
    assert other_firms.status_code == 404
    verify = f"/api/v1/lawyers/{lawyer['id']}/verify"
    nothing_pending = await platform.http.post(
        verify, json={"decision": "verified"}, headers=platform.operator()
    )
    assert nothing_pending.status_code == 409
    lawyer_role = platform.keys.headers("lawyer-x", roles=("lawyer",), tenant_id="")
    assert (
        await platform.http.post(verify, json={"decision": "verified"}, headers=lawyer_role)
    ).status_code == 403

    await platform.verify(lawyer["id"])
    twice = await platform.http.post(verify, json={"decision": "rejected"}, headers=admin)
    assert twice.status_code == 409  # decided already: new credentials first

    supervisor = platform.keys.headers("supervisor-1", roles=("supervisor",), tenant_id="")
    history = await platform.http.get(f"/api/v1/lawyers/{lawyer['id']}/verifications", headers=supervisor)
    assert history.status_code == 200, history.text
    [record] = history.json()["items"]
    assert record["decision"] == "verified" and record["verifier_id"] == "operator-1"
    assert record["verifier_role"] == "operator" and record["certificate_number"] == "11012015123456789"
    assert record["practice_certificate_sha256"] == hashlib.sha256(b"practising certificate scan").hexdigest()
    assert record["years_of_practice"] == 5 and record["inspection_due_on"] == next_year()
    assert await platform.events("lawyer.verification_recorded")  # the audit trail's event
    client = await platform.http.get(
        f"/api/v1/lawyers/{lawyer['id']}/verifications", headers=platform.client()
    )
    assert client.status_code == 403


async def test_lawyers_of_a_firm_whose_agreement_ended_take_no_new_work(platform: Platform) -> None:
    """Their firm's lawyers leave the public listing; the lawyer's page says why (booking answers 409)."""
    operator = platform.operator()
    firm = (
        await platform.http.post(
            "/api/v1/firms", json={**NEW_FIRM, "credit_code": "91110000100005220B"}, headers=operator
        )
    ).json()
    # The operator appoints the demo firm admin (the gateway's route invites one through identity first).
    reset = access_token_var.set(operator["authorization"].split(" ", 1)[1])
    try:
        await platform.stub.AddFirmAdmin(
            catalog_service_pb2.AddFirmAdminRequest(firm_id=firm["id"], user_id=FIRM_ADMIN)
        )
    finally:
        access_token_var.reset(reset)
    lapsed = await platform.http.post(
        f"/api/v1/firms/{firm['id']}/agreement",
        files={"file": ("agreement.pdf", b"old", "application/pdf")},
        data={"starts_on": "2024-01-01", "ends_on": "2025-12-31"},
        headers=operator,
    )
    assert lapsed.status_code == 200 and lapsed.json()["takes_new_work"] is False
    admin = platform.firm_admin()
    lawyer = (
        await platform.http.post(f"/api/v1/firms/{firm['id']}/lawyers", json=profile(), headers=admin)
    ).json()
    await platform.verify(lawyer["id"])
    activated = await platform.http.post(f"/api/v1/lawyers/{lawyer['id']}/activate", headers=admin)
    assert activated.status_code == 200
    page = (await platform.http.get(f"/api/v1/lawyers/{lawyer['id']}")).json()
    assert page["active"] is True and "agreement" in page["unavailable_reason"]
    listed = (await platform.http.get("/api/v1/lawyers", params={"firm_id": firm["id"]})).json()["items"]
    assert listed == []
