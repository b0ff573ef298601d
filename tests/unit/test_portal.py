"""The portal against a fake gateway (httpx.MockTransport answering as API.md says): sessions, CSRF, security
headers, languages and formats, the order form. The browser tier runs it against the real platform."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from prometheus_client import REGISTRY

from services.legal_fields import LABELS as LEGAL_FIELD_LABELS
from services.legal_fields import LEGAL_FIELDS
from services.portal import i18n
from services.portal.app import CONTENT_SECURITY_POLICY, create_app
from services.portal.config import PortalSettings
from services.portal.pages import staff
from services.portal.session import COOKIE_NAME, Session, SessionCodec
from services.portal.web import make_templates

PORTAL_DIR = Path(__file__).resolve().parents[2] / "services" / "portal"
SECRET = "a-test-secret-key-of-at-least-32-characters"

PRODUCT = {
    "id": "doc-contract-review",
    "category": "document",
    "name": "合同审查",
    "description": "律师审查合同并出具意见",
    "price": {"amount": 99900, "currency": "CNY"},
    "tiers": [
        {"id": "simple", "name": "简单", "price": {"amount": 99900, "currency": "CNY"}, "delivery_hours": 24},
    ],
    "process": [{"stage": "drafting", "title": "起草", "description": "律师起草"}],
    "rating": {"average": 4.5, "count": 2},
    "reviews": [],
    "requirement_fields": [
        {"name": "parties", "label": "合同各方", "type": "text", "required": True},
        {"name": "pages", "label": "页数", "type": "number", "required": False},
    ],
}


COMPLAINT = {
    "id": "k1",
    "subject_type": "booking",
    "subject_id": "b1",
    "consultation_id": None,
    "client_id": "u1",
    "status": "resolved",
    "body": "律师迟到半小时",
    "resolution": "已致歉",
    "reopen_reason": None,
    "handled_by": "agent-1",
    "due_at": None,
    "escalated_at": None,
    "created_at": "2026-12-06T08:00:00Z",
    "updated_at": "2026-12-06T09:00:00Z",
}


MAJOR_CONSULTATION = {
    "id": "c1",
    "kind": "general",
    "status": "answered",
    "subject": "整体裁员方案",
    "question": "两百人裁员怎么做？",
    "legal_field": "labour",
    "assigned_lawyer_id": "l2",
    "client_id": "u1",
    "reply_due_at": None,
    "answered_at": "2026-12-06T08:00:00Z",
    "rating": None,
    "messages": [],
    "call_records": [],
    "major": {
        "major": True,
        "consultation_id": "c1",
        "status": "concluded",
        "team": ["l2", "l9"],
        "booking_id": "b7",
        "reason": None,
        "conclusion": "建议分批实施",
        "signed_by": ["l2", "l9"],
        "created_at": "2026-12-06T08:00:00Z",
        "concluded_at": "2026-12-06T09:00:00Z",
    },
}


CANCELLED_BOOKING = {
    "id": "b-expired",
    "status": "cancelled",
    "mode": "at_firm",
    "lawyer_id": "l1",
    "lawyer_user_id": "u-l1",
    "start": "2026-12-08T02:00:00Z",
    "minutes": 60,
    "cancel_reason": "hold_expired",
    "refund": {"amount": 0, "currency": "CNY"},
    "order_id": None,
}


CANCELLED_ORDER = {
    "id": "o-expired",
    "status": "cancelled",
    "amount": {"amount": 99900, "currency": "CNY"},
    "refunded": None,
    "pay_before": None,
    "created_at": "2026-12-06T08:00:00Z",
    "product_id": PRODUCT["id"],
    "product_name": "合同审查",
    "product_version": 1,
    "category": "document",
    "tier": "simple",
    "client_id": "u1",
    "fulfilment": None,
    "status_reason": "payment_timeout",
}


CANCELLED_DOCUMENT_ORDER = {
    "id": "d-cancelled",
    "order_id": "o-doc",
    "client_id": "u1",
    "product_id": "doc-contract-drafting",
    "stage": "cancelled",
    "complexity": "simple",
    "assigned_lawyer_id": None,
    "assignment_reason": None,
    "legal_field": "contract",
    "legal_field_source": "product",
    "acknowledge_due_at": None,
    "draft_due_at": None,
    "revision_window_ends_at": None,
    "revisions_requested": 0,
    "completed_reason": None,
    "status_reason": "client_request",
    "created_at": "2026-12-06T08:00:00Z",
    "requirements": {},
    "versions": [],
    "stages": [],
    "breaches": [],
}


ONLINE_CALL = {"id": "call1", "status": "ringing", "media": "video", "duration_seconds": 0}

PLATFORM = {"name": "法律顾问", "icp_licence": "京ICP备12345678号", "business_licence": "91350100M000100Y43"}


def login_answer(token: str) -> dict[str, Any]:
    return {
        "user": {"id": "u1", "display_name": "张三", "roles": ["client_admin"], "tenant_id": "t1"},
        "access_token": token,
        "refresh_token": f"refresh-of-{token}",
        "expires_in": 900,
    }


ORDER_REQUIRED = {
    "type": "https://counsel.test/problems/order_required",
    "title": "Conflict",
    "status": 409,
    "detail": "no paid phone consultation order or retainer of your enterprise is left to pay for the call: "
    "buy 电话咨询 (consult-phone) first",
    "errors": [{"field": "order_id", "message": "buy 电话咨询 (consult-phone) first"}],
    "product_id": "consult-phone",
}


class FakeGateway:
    """Answers the few API calls these tests make and records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.platform_status = 200
        self.recommendations: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if (method, path) == ("POST", "/api/v1/auth/login"):
            body = json.loads(request.content)
            if body["secret"] == "before-consent" and body.get("privacy_policy_version") != "2026-12-01":
                return httpx.Response(
                    409,
                    json={
                        "type": "https://counsel.local/problems/consent_required",
                        "title": "Conflict",
                        "status": 409,
                        "errors": [
                            {"field": "privacy_policy_version", "message": "accept version 2026-12-01"}
                        ],
                    },
                    headers={"content-type": "application/problem+json"},
                )
            if body["secret"] not in ("right", "before-consent"):
                return problem(401, "登录失败")
            return httpx.Response(200, json=login_answer("access-1"))
        if (method, path) == ("POST", "/api/v1/auth/refresh"):
            return httpx.Response(200, json=login_answer("access-2"))
        if (method, path) == ("POST", "/api/v1/auth/logout"):
            return httpx.Response(204)
        if (method, path) == ("GET", "/api/v1/products"):
            return httpx.Response(200, json={"items": [PRODUCT], "next_cursor": None})
        if (method, path) == ("GET", f"/api/v1/products/{PRODUCT['id']}"):
            return httpx.Response(200, json=PRODUCT)
        if (method, path) == ("GET", "/api/v1/articles"):
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        if (method, path) == ("GET", "/api/v1/platform"):
            return httpx.Response(self.platform_status, json=PLATFORM)
        if not token.startswith("access-"):
            return problem(401, "no token")
        if (method, path) == ("GET", "/api/v1/orders"):
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        if (method, path) == ("GET", "/api/v1/recommendations"):
            return httpx.Response(200, json={"items": self.recommendations})
        if (method, path) == ("GET", "/api/v1/complaints"):
            return httpx.Response(200, json={"items": [COMPLAINT], "next_cursor": None})
        if (method, path) == ("POST", "/api/v1/complaints"):
            return httpx.Response(201, json=COMPLAINT | {"status": "open"})
        if (method, path) == ("POST", "/api/v1/complaints/k1/accept"):
            return httpx.Response(200, json=COMPLAINT | {"status": "closed"})
        if (method, path) == ("POST", "/api/v1/complaints/k1/reopen"):
            return problem(409, "a closed complaint cannot become reopened")
        if (method, path) == ("POST", "/api/v1/calls") and json.loads(request.content)[
            "lawyer_id"
        ] == "unpaid":
            return httpx.Response(
                409, json=ORDER_REQUIRED, headers={"content-type": "application/problem+json"}
            )
        if (method, path) == ("POST", "/api/v1/calls"):
            return httpx.Response(201, json={"id": "call1", "status": "ringing"})
        if (method, path) == ("GET", "/api/v1/calls/call1"):
            return httpx.Response(200, json=ONLINE_CALL)
        if (method, path) == ("GET", "/api/v1/consultations/c1"):
            return httpx.Response(200, json=MAJOR_CONSULTATION)
        if (method, path) == ("GET", "/api/v1/bookings/b-expired"):
            return httpx.Response(200, json=CANCELLED_BOOKING)
        if (method, path) == ("GET", "/api/v1/document-orders/d-cancelled"):
            return httpx.Response(200, json=CANCELLED_DOCUMENT_ORDER)
        if (method, path) == ("GET", "/api/v1/orders/o-expired"):
            return httpx.Response(200, json=CANCELLED_ORDER)
        if (method, path) == ("GET", "/api/v1/orders/o-expired/timeline"):
            return httpx.Response(200, json={"order_id": "o-expired", "status": "cancelled", "stages": []})
        if (method, path) == ("POST", "/api/v1/orders"):
            return httpx.Response(
                422,
                json={
                    "type": "about:blank",
                    "title": "Unprocessable",
                    "status": 422,
                    "detail": "requirements",
                    "errors": [{"field": "requirements.parties", "message": "必填"}],
                },
                headers={"content-type": "application/problem+json"},
            )
        return problem(404, "not found")

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


def problem(status: int, title: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "about:blank", "title": title, "status": status},
        headers={"content-type": "application/problem+json"},
    )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@asynccontextmanager
async def portal_over(gateway: Callable[[httpx.Request], httpx.Response]) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of the portal, which calls `gateway` (a fake answering as API.md says) for the API."""
    app = create_app(PortalSettings(env="test", secret_key=SECRET), transport=httpx.MockTransport(gateway))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        yield client


@pytest.fixture
async def portal(gateway: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_over(gateway) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


async def log_in(portal: httpx.AsyncClient) -> httpx.Response:
    page = await portal.get("/login")
    return await portal.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "method": "password",
            "identifier": "a@b.cn",
            "secret": "right",
        },
    )


async def test_pages_are_chinese_first_with_strict_headers_and_no_inline_script(
    portal: httpx.AsyncClient,
) -> None:
    for path in ("/", "/products", f"/products/{PRODUCT['id']}", "/login", "/register"):
        page = await portal.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert (
            "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
        )
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-correlation-id"]
        assert '<html lang="zh-CN">' in page.text
        assert (
            "<script>" not in page.text and " style=" not in page.text and " on" + "click=" not in page.text
        )
        assert re.search(r"<main id=\"main\">", page.text) and "<nav aria-label=" in page.text
        # Every control has a label naming it.
        for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text):
            assert f'for="{control_id}"' in page.text, (path, control_id)
    detail = (await portal.get(f"/products/{PRODUCT['id']}")).text
    assert "¥999.00" in detail and "合同审查" in detail


async def test_english_comes_from_the_catalogue(portal: httpx.AsyncClient) -> None:
    switched = await portal.get("/language/en", headers={"referer": "http://portal.test/products"})
    assert switched.status_code == 303 and switched.headers["location"] == "http://portal.test/products"
    page = await portal.get("/products")
    assert '<html lang="en">' in page.text and "Services" in page.text and "服务</a>" not in page.text
    assert (await portal.get("/language/en", headers={"referer": "https://evil.example/"})).headers[
        "location"
    ] == "/"


async def test_a_login_is_an_encrypted_http_only_cookie_and_forms_need_the_csrf_token(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    refused = await portal.post("/login", data={"identifier": "a@b.cn", "secret": "right"})
    assert refused.status_code == 403 and not gateway.calls("POST", "/api/v1/auth/login")
    wrong = await portal.post(
        "/login", data={"csrf_token": "forged", "method": "password", "identifier": "a", "secret": "right"}
    )
    assert wrong.status_code == 403
    bad_password = await portal.post(
        "/login",
        data={
            "csrf_token": csrf_of((await portal.get("/login")).text),
            "method": "password",
            "identifier": "a@b.cn",
            "secret": "wrong",
        },
    )
    assert bad_password.status_code == 400 and "登录失败" in bad_password.text
    logged_in = await log_in(portal)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/my"
    # The gateway hears who the person is (it believes it only from a proxy it trusts).
    assert gateway.calls("POST", "/api/v1/auth/login")[-1].headers["x-forwarded-for"] == "127.0.0.1"
    cookie = next(c for c in logged_in.headers.get_list("set-cookie") if c.startswith(COOKIE_NAME))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "access-1" not in cookie
    orders = await portal.get("/my/orders")
    assert orders.status_code == 200 and "access-1" not in orders.text and "refresh-of" not in orders.text
    assert gateway.calls("GET", "/api/v1/orders")[-1].headers["authorization"] == "Bearer access-1"
    # The portal's correlation id goes on to the gateway, so both processes log the same one.
    assert (
        gateway.calls("GET", "/api/v1/orders")[-1].headers["x-correlation-id"]
        == orders.headers["x-correlation-id"]
    )


async def test_a_login_never_sends_the_person_to_another_site(portal: httpx.AsyncClient) -> None:
    for target, landing in (
        ("/my/orders", "/my/orders"),
        ("//evil.example/", "/my"),
        ("/\\evil.example", "/my"),
    ):
        page = await portal.get("/login", params={"next": target})
        answer = await portal.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "next": target,
                "method": "password",
                "identifier": "+86 138-0013-8000",
                "secret": "right",
            },
        )
        assert answer.headers["location"] == landing, target


async def test_a_phone_is_sent_as_its_eleven_digits(portal: httpx.AsyncClient, gateway: FakeGateway) -> None:
    page = await portal.get("/login")
    await portal.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "method": "password",
            "identifier": "+86 138-0013-8000",
            "secret": "right",
        },
    )
    assert json.loads(gateway.calls("POST", "/api/v1/auth/login")[-1].content)["identifier"] == "13800138000"


async def test_an_altered_cookie_is_no_session(portal: httpx.AsyncClient) -> None:
    await log_in(portal)
    value = portal.cookies[COOKIE_NAME]
    portal.cookies.set(
        COOKIE_NAME, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"), domain="portal.test"
    )
    page = await portal.get("/my/orders")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/my/orders"


async def test_an_expiring_access_token_is_refreshed_server_side(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    codec = SessionCodec(SECRET)
    session = Session(access_token="access-1", refresh_token="refresh-of-access-1", roles=["client"])
    session.access_expires_at = time.time() + 5  # inside the refresh margin
    portal.cookies.set(COOKIE_NAME, codec.dumps(session), domain="portal.test")
    page = await portal.get("/my/orders")
    assert page.status_code == 200
    (refresh,) = gateway.calls("POST", "/api/v1/auth/refresh")
    assert json.loads(refresh.content) == {"refresh_token": "refresh-of-access-1"}
    assert gateway.calls("GET", "/api/v1/orders")[-1].headers["authorization"] == "Bearer access-2"
    assert codec.loads(portal.cookies[COOKIE_NAME]).access_token == "access-2"


async def test_logout_revokes_the_refresh_token(portal: httpx.AsyncClient, gateway: FakeGateway) -> None:
    await log_in(portal)
    page = await portal.get("/my/orders")
    out = await portal.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    (logout,) = gateway.calls("POST", "/api/v1/auth/logout")
    assert json.loads(logout.content) == {"refresh_token": "refresh-of-access-1"}
    assert (await portal.get("/my/orders")).status_code == 303


async def test_the_order_form_shows_the_services_refusal_by_field(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await log_in(portal)
    form = (await portal.get(f"/products/{PRODUCT['id']}")).text
    assert 'name="req_parties"' in form and 'type="number"' in form
    answer = await portal.post(
        "/orders",
        data={
            "csrf_token": csrf_of(form),
            "product_id": PRODUCT["id"],
            "tier": "simple",
            "req_pages": "12",
            "idempotency_key": "k1",
        },
    )
    assert answer.status_code == 422 and 'id="req_parties_error"' in answer.text and "必填" in answer.text
    (sent,) = gateway.calls("POST", "/api/v1/orders")
    assert json.loads(sent.content) == {
        "product_id": PRODUCT["id"],
        "requirements": {"pages": 12},
        "tier": "simple",
    }
    assert sent.headers["idempotency-key"] == "k1"


async def test_a_client_complains_from_a_service_page_and_answers_the_resolution(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """R-CS-3: the complaint form sits on each service's page and goes back there; a resolution is accepted
    or reopened from the client's list (agents' forms are not shown to the client); a refusal is shown."""
    await log_in(portal)
    page = await portal.get("/complaints")
    assert page.status_code == 200
    assert 'href="/bookings/b1"' in page.text and "预约投诉" in page.text
    assert 'action="/complaints/k1/accept"' in page.text and 'action="/complaints/k1/reopen"' in page.text
    assert 'action="/complaints/k1"' not in page.text
    csrf = csrf_of(page.text)
    filed = await portal.post(
        "/complaints",
        data={"csrf_token": csrf, "subject_type": "document_order", "subject_id": "d1", "body": " 初稿迟交 "},
    )
    assert filed.status_code == 303 and filed.headers["location"] == "/documents/d1"
    (sent,) = gateway.calls("POST", "/api/v1/complaints")
    assert json.loads(sent.content) == {
        "subject_type": "document_order",
        "subject_id": "d1",
        "body": "初稿迟交",
    }
    accepted = await portal.post("/complaints/k1/accept", data={"csrf_token": csrf})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/complaints"
    refused = await portal.post("/complaints/k1/reopen", data={"csrf_token": csrf, "reason": "仍不满意"})
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    (reopen,) = gateway.calls("POST", "/api/v1/complaints/k1/reopen")
    assert json.loads(reopen.content) == {"reason": "仍不满意"}


async def test_the_client_sees_the_major_matters_team_meeting_and_signed_conclusion(
    portal: httpx.AsyncClient,
) -> None:
    """R-CON-4: the team's size, a link to the meeting held for the client and the conclusion every member
    signed; the team's forms (write, sign) and the escalation form are not the client's."""
    await log_in(portal)
    page = await portal.get("/consultations/c1")
    assert page.status_code == 200
    assert "重大事项" in page.text and "2 位律师" in page.text and 'href="/bookings/b7"' in page.text
    assert 'id="major-conclusion"' in page.text and "建议分批实施" in page.text
    for action in (
        "/consultations/c1/major",
        "/consultations/c1/conclusion",
        "/consultations/c1/conclusion/sign",
    ):
        assert f'action="{action}"' not in page.text


async def test_a_cancelled_bookings_and_orders_reason_is_in_words_in_the_readers_language(
    portal: httpx.AsyncClient,
) -> None:
    await log_in(portal)
    page = await portal.get("/bookings/b-expired")
    assert page.status_code == 200, page.text
    assert '<dd id="booking-cancel-reason">预留时段已过期</dd>' in page.text
    order = await portal.get("/my/orders/o-expired")
    assert order.status_code == 200, order.text
    assert '取消原因：<span id="order-status-reason">未在时限内付款</span>' in order.text
    document = await portal.get("/documents/d-cancelled")
    assert document.status_code == 200, document.text
    assert '<dt>取消原因</dt><dd id="doc-status-reason">应客户要求</dd>' in document.text
    await portal.get("/language/en")
    english = await portal.get("/bookings/b-expired")
    assert '<dd id="booking-cancel-reason">the held time ran out</dd>' in english.text
    assert (
        '<span id="order-status-reason">not paid in time</span>'
        in (await portal.get("/my/orders/o-expired")).text
    )
    assert (
        '<dd id="doc-status-reason">at the client&#39;s request</dd>'
        in (await portal.get("/documents/d-cancelled")).text
    )


async def test_the_footer_shows_the_platforms_licences_read_once_for_many_pages(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    for path in ("/", "/products", f"/products/{PRODUCT['id']}", "/login"):
        page = await portal.get(path)
        assert "ICP 备案号 京ICP备12345678号" in page.text and "营业执照 91350100M000100Y43" in page.text
    assert len(gateway.calls("GET", "/api/v1/platform")) == 1


async def test_pages_render_without_the_licences_when_the_gateway_does_not_give_them() -> None:
    gateway = FakeGateway()
    gateway.platform_status = 503
    async with portal_over(gateway) as portal:
        page = await portal.get("/products")
        assert page.status_code == 200 and "ICP" not in page.text
        await portal.get("/")
    assert len(gateway.calls("GET", "/api/v1/platform")) == 1  # tried again later, not on every page


async def test_a_clients_home_shows_the_next_purchases_with_their_reasons(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    assert "为您推荐" not in (await portal.get("/")).text  # nobody signed in: no call, no section
    assert not gateway.calls("GET", "/api/v1/recommendations")
    await log_in(portal)
    assert "为您推荐" not in (await portal.get("/")).text  # none yet: nothing shown
    gateway.recommendations = [
        {"product_id": PRODUCT["id"], "score": 0.4, "reasons": ["本季度三次合同咨询 → 合同审查"]},
        {"product_id": "withdrawn", "score": 0.2, "reasons": ["已下架"]},
    ]
    home = (await portal.get("/")).text
    assert "为您推荐" in home and f'href="/products/{PRODUCT["id"]}"' in home
    assert "本季度三次合同咨询 → 合同审查" in home and "已下架" not in home


async def test_a_login_asked_for_consent_shows_the_policy_version_and_continues_once_accepted(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    page = await portal.get("/login")
    fields = {"csrf_token": csrf_of(page.text), "method": "password", "identifier": "a@b.cn"}
    asked = await portal.post("/login", data=fields | {"secret": "before-consent"})
    assert asked.status_code == 409 and "请先同意新版隐私政策" in asked.text
    assert 'name="privacy_policy_version" value="2026-12-01" required' in asked.text
    assert "privacy_policy_version" not in json.loads(gateway.calls("POST", "/api/v1/auth/login")[-1].content)
    accepted = await portal.post(
        "/login", data=fields | {"secret": "before-consent", "privacy_policy_version": "2026-12-01"}
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/my"


def test_every_message_has_an_english_translation() -> None:
    with (PORTAL_DIR / "locale" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po)
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    messages = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(PORTAL_DIR, method_map, options_map=options)
    }
    assert messages
    translated = {message.id for message in catalogue if message.id and message.string}
    untranslated = sorted(messages - translated)
    assert not untranslated, untranslated


def test_every_legal_field_label_has_an_english_translation() -> None:
    # The labels live with the fields (services/legal_fields), outside the portal's extracted messages.
    with (PORTAL_DIR / "locale" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        translated = {message.id for message in read_po(po) if message.id and message.string}
    assert set(LEGAL_FIELD_LABELS) == set(LEGAL_FIELDS)
    assert set(LEGAL_FIELD_LABELS.values()) <= translated

    label = make_templates(i18n.load_translations()).env.from_string(
        '{{ label("real_estate") }} {{ label("in_review") }}'
    )
    assert label.render() == "房地产 审核中"
    token = i18n.locale_var.set("en")
    try:
        assert label.render() == "Real estate In review"
    finally:
        i18n.locale_var.reset(token)


def test_money_times_and_phones_as_people_in_china_write_them() -> None:
    assert i18n.money({"amount": 99900, "currency": "CNY"}) == "¥999.00"
    assert i18n.money({"amount": 123456789, "currency": "CNY"}) == "¥1,234,567.89"
    assert i18n.money({"amount": 5, "currency": "CNY"}) == "¥0.05"
    assert i18n.local_time("2026-12-06T16:30:00Z") == "2026-12-07 00:30"  # Asia/Shanghai, UTC+8
    for typed in ("13800138000", "+8613800138000", "+86 138-0013-8000", "86 13800138000"):
        assert i18n.normalise_contact(typed) == ("sms", "13800138000"), typed
    assert i18n.normalise_contact(" a@b.cn ") == ("email", "a@b.cn")


async def test_render_time_per_route_and_gateway_latency_are_measured(portal: httpx.AsyncClient) -> None:
    def count(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    page = {"route": "/products/{product_id}", "method": "GET"}
    call = {"method": "GET", "path": "/api/v1/products/{id}", "status": "200"}
    before = (
        count("counsel_portal_page_seconds_count", page),
        count("counsel_portal_gateway_call_seconds_count", call),
    )
    assert (await portal.get(f"/products/{PRODUCT['id']}")).status_code == 200
    after = (
        count("counsel_portal_page_seconds_count", page),
        count("counsel_portal_gateway_call_seconds_count", call),
    )
    assert after == (before[0] + 1, before[1] + 1)


# --- the product workbench (issue 23 item 5, §9.5): a reviewer sees the submitted product versions and
# approves or rejects them; the API's refusal is shown; a client is not let in.

SUBMITTED = PRODUCT | {
    "id": "doc-share-transfer",
    "name": "股权转让协议起草",
    "version": 2,
    "status": "submitted",
    "author_id": "editor-1",
    "reviewer_id": None,
    "review_comment": None,
}


class ReviewerGateway:
    def __init__(self, roles: list[str]) -> None:
        self.roles = roles
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if (method, path) == ("POST", "/api/v1/auth/login"):
            answer = login_answer("access-1")
            answer["user"] |= {"roles": self.roles, "tenant_id": ""}
            return httpx.Response(200, json=answer)
        if (method, path) == ("GET", "/api/v1/product-versions"):
            items = [SUBMITTED] if request.url.params["status"] == "submitted" else []
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if (method, path) == ("POST", "/api/v1/products/doc-share-transfer/review"):
            if json.loads(request.content)["decision"] == "reject":
                return problem(409, "only a submitted version can be reviewed")
            return httpx.Response(200, json=SUBMITTED | {"status": "approved"})
        return problem(404, "not found")


@pytest.mark.parametrize("gateway", [ReviewerGateway(["reviewer", "lawyer"])])
async def test_a_reviewer_approves_a_submitted_product_version(
    portal: httpx.AsyncClient, gateway: ReviewerGateway
) -> None:
    await log_in(portal)
    page = await portal.get("/work/products")
    assert page.status_code == 200, page.text
    assert "股权转让协议起草" in page.text and "v2" in page.text
    assert 'action="/work/products/doc-share-transfer/review"' in page.text
    assert 'action="/work/products/doc-share-transfer/submit"' not in page.text  # editors submit
    csrf = csrf_of(page.text)
    approved = await portal.post(
        "/work/products/doc-share-transfer/review", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert approved.status_code == 303 and approved.headers["location"] == "/work/products"
    refused = await portal.post(
        "/work/products/doc-share-transfer/review",
        data={"csrf_token": csrf, "decision": "reject", "comment": "价格不清"},
    )
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    sent = [json.loads(r.content) for r in gateway.requests if r.url.path.endswith("/review")]
    assert sent == [{"decision": "approve", "comment": ""}, {"decision": "reject", "comment": "价格不清"}]


@pytest.mark.parametrize("gateway", [ReviewerGateway(["client"])])
async def test_a_client_has_no_product_workbench(portal: httpx.AsyncClient) -> None:
    await log_in(portal)
    assert (await portal.get("/work/products")).status_code == 403


async def test_a_client_rings_a_lawyer_and_the_call_page_signals_through_the_portal(
    portal: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """The call page's script opens the portal's own socket (no token in the page); someone the gateway does
    not name a party still gets the page, whose socket is then refused (4403)."""
    await log_in(portal)
    csrf = csrf_of((await portal.get("/account")).text)
    rung = await portal.post("/calls", data={"csrf_token": csrf, "lawyer_id": "lawyer-4", "media": "video"})
    assert rung.status_code == 303 and rung.headers["location"] == "/calls/call1"
    (sent,) = gateway.calls("POST", "/api/v1/calls")
    assert json.loads(sent.content) == {"lawyer_id": "lawyer-4", "media": "video"}
    page = await portal.get("/calls/call1")
    assert page.status_code == 200
    assert 'data-call-socket="/calls/call1/signal"' in page.text and 'src="/static/call.js"' in page.text
    assert 'id="remote-video"' in page.text and 'action="/calls/call1/end"' in page.text
    assert "access-" not in page.text and "<script>" not in page.text
    stranger = await portal.get("/calls/other")
    assert stranger.status_code == 404 and 'data-call-socket="/calls/other/signal"' in stranger.text
    assert 'action="/calls/other/end"' not in stranger.text


# --- a lawyer's credentials on the firm admin's page (issue 24 item 2, §4.2.1): the API's refusal is shown by
# the field it names, beside that lawyer's form; the years of practice go on the profile first.

FIRM = {
    "id": "f1",
    "name": "正大律师事务所",
    "city": "北京",
    "address": "朝阳区",
    "phone": "",
    "description": "",
    "transit_routes": [],
    "location": {"lat": 0, "lng": 0},
    "opening_hours": [],
    "staff": [],
}
NEW_LAWYER = {
    "id": "l1",
    "name": "李律师",
    "active": False,
    "verification": "",
    "inspection_due_on": None,
    "unavailable_reason": "the lawyer is not active",
    "specialty": "",
    "fields": ["labour"],
    "years_of_practice": 1,
    "bio": "",
    "user_id": None,
    "online": False,
    "service_hours": [],
    "service_exceptions": [],
}


class FirmAdminGateway:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        empty: dict[str, Any] = {"items": [], "next_cursor": None}
        answers = {
            ("POST", "/api/v1/auth/login"): login_answer("access-1")
            | {"user": {"id": "u9", "display_name": "管理员", "roles": ["firm_admin"], "tenant_id": ""}},
            ("GET", "/api/v1/firms/f1"): FIRM,
            ("GET", "/api/v1/lawyers"): {"items": [NEW_LAWYER], "next_cursor": None},
            ("GET", "/api/v1/lawyers/l1"): NEW_LAWYER,
            ("PUT", "/api/v1/lawyers/l1"): NEW_LAWYER | {"years_of_practice": 4},
            ("GET", "/api/v1/membership-cards"): empty,
            ("GET", "/api/v1/firm/service-clients"): empty,
        }
        if (method, path) == ("POST", "/api/v1/lawyers/l1/credentials"):
            return httpx.Response(
                422,
                json={
                    "type": "https://counsel.local/problems/invalid_argument",
                    "title": "Unprocessable",
                    "status": 422,
                    "errors": [{"field": "certificate_number", "message": "must be 17 digits"}],
                },
                headers={"content-type": "application/problem+json"},
            )
        if (method, path) in answers:
            return httpx.Response(200, json=answers[(method, path)])
        return problem(404, "not found")


async def test_a_refused_certificate_number_is_shown_beside_the_lawyers_field() -> None:
    gateway = FirmAdminGateway()
    async with portal_over(gateway) as portal:
        await log_in(portal)
        page = await portal.get("/firm/f1")
        assert "未提交" in page.text and "律师未上线" in page.text
        refused = await portal.post(
            "/firm/f1/lawyers/l1/credentials",
            data={
                "csrf_token": csrf_of(page.text),
                "certificate_number": "1101201912345",
                "inspection_due_on": "2027-06-01",
                "years_of_practice": "4",
            },
            files={
                "practice_certificate": ("执业证.png", b"png", "image/png"),
                "degree_certificate": ("学位证.png", b"png", "image/png"),
            },
        )
    assert refused.status_code == 422, refused.text
    assert re.search(r'id="certificate_number-l1"[^>]*aria-invalid="true"', refused.text)
    assert 'id="certificate_number-error" class="error">must be 17 digits' in refused.text
    put = next(r for r in gateway.requests if r.method == "PUT")
    assert json.loads(put.content)["years_of_practice"] == 4


async def test_a_client_without_a_paid_order_is_told_why_and_where_to_buy_one(
    portal: httpx.AsyncClient,
) -> None:
    await log_in(portal)
    csrf = csrf_of((await portal.get("/account")).text)
    refused = await portal.post("/calls", data={"csrf_token": csrf, "lawyer_id": "unpaid", "media": "video"})
    assert refused.status_code == 409
    assert ORDER_REQUIRED["detail"] in html.unescape(refused.text)
    assert '<a href="/products/consult-phone">' in refused.text
    assert "data-call-socket" not in refused.text


# --- a lawyer's own standing on their workbench: GET /api/v1/me names their profile (`lawyer_id`).


class LawyerGateway:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        empty: dict[str, Any] = {"items": [], "next_cursor": None}
        lapsed = NEW_LAWYER | {
            "active": True,
            "verification": "verified",
            "inspection_due_on": "2026-05-31",
            "unavailable_reason": "the lawyer's practising certificate is overdue for its annual inspection",
        }
        answers = {
            ("POST", "/api/v1/auth/login"): login_answer("access-1")
            | {"user": {"id": "u7", "display_name": "李律师", "roles": ["lawyer"], "tenant_id": ""}},
            ("GET", "/api/v1/me"): {"id": "u7", "roles": ["lawyer"], "lawyer_id": "l1"},
            ("GET", "/api/v1/lawyers/l1"): lapsed,
            ("GET", "/api/v1/calls"): empty,
            ("GET", "/api/v1/lawyer/queue"): empty,
            ("GET", "/api/v1/document-orders"): empty,
        }
        if (method, path) in answers:
            return httpx.Response(200, json=answers[(method, path)])
        return problem(404, "not found")


async def test_a_lawyer_sees_their_verification_inspection_date_and_why_they_take_no_new_work() -> None:
    async with portal_over(LawyerGateway()) as portal:
        await log_in(portal)
        page = await portal.get("/work")
    assert page.status_code == 200, page.text
    standing = page.text[page.text.index('id="standing"') :]
    assert "已核验" in standing and "2026-05-31" in standing
    assert "执业证已过年检截止日期" in standing


async def test_the_workbench_reads_the_lawyers_profile_id_once_and_their_standing_once_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = LawyerGateway()

    def reads() -> list[str]:
        return [r.url.path for r in gateway.requests if r.url.path in ("/api/v1/me", "/api/v1/lawyers/l1")]

    async with portal_over(gateway) as portal:
        await log_in(portal)
        for _ in range(3):  # the page refreshes itself while the lawyer waits for calls
            page = await portal.get("/work")
            assert "执业证已过年检截止日期" in page.text
        assert reads() == ["/api/v1/me", "/api/v1/lawyers/l1"]
        # Once it is older than that, the standing is read again (others change it: verification, inspection, agreement);
        # the profile's id never changes.
        monkeypatch.setattr(staff, "STANDING_MAX_AGE_SECONDS", 0.0)
        assert "执业证已过年检截止日期" in (await portal.get("/work")).text
        assert reads() == ["/api/v1/me", "/api/v1/lawyers/l1", "/api/v1/lawyers/l1"]


# --- document orders nobody was assigned: the agent's queue and the assign form (README "Nobody has passed
# the field").

WAITING_ORDER = {
    "id": "d1",
    "order_id": "o1",
    "client_id": "u1",
    "product_id": "doc-tax-opinion",
    "stage": "awaiting_acknowledgement",
    "complexity": "simple",
    "assigned_lawyer_id": None,
    "assignment_reason": "no eligible lawyer has passed tax: left to an agent (field from product)",
    # What the page says why with: the field as a key and where it came from (never the reason's text).
    "legal_field": "tax",
    "legal_field_source": "product",
    "acknowledge_due_at": "2026-12-06T08:30:00Z",
    "draft_due_at": None,
}
TAX_LAWYER = NEW_LAWYER | {"id": "p-tax", "user_id": "u-tax", "name": "赵税务", "fields": ["tax"]}
OTHER_LAWYER = NEW_LAWYER | {"id": "p-ip", "user_id": "u-ip", "name": "钱知产", "fields": ["ip"]}


class AgentGateway:
    """An agent's view: one waiting order among assigned ones; the assignment refuses as the API does."""

    def __init__(self) -> None:
        self.assignments: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        assigned = WAITING_ORDER | {
            "id": "d2",
            "assigned_lawyer_id": "u-tax",
            "assignment_reason": "field tax",
        }
        if (method, path) == ("POST", "/api/v1/auth/login"):
            agent = {"id": "u-agent", "display_name": "客服小周", "roles": ["agent"], "tenant_id": ""}
            return httpx.Response(200, json=login_answer("access-1") | {"user": agent})
        if (method, path) == ("GET", "/api/v1/document-orders"):
            stage = request.url.params["stage"]
            items = [WAITING_ORDER, assigned] if stage == "awaiting_acknowledgement" else []
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if (method, path) == ("GET", "/api/v1/document-orders/d1"):
            return httpx.Response(200, json=WAITING_ORDER)
        if (method, path) == ("GET", "/api/v1/lawyers"):
            field = request.url.params.get("field")
            items = [TAX_LAWYER] if field == "tax" else [TAX_LAWYER, OTHER_LAWYER]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if (method, path) == ("POST", "/api/v1/document-orders/d1/assignment"):
            body = json.loads(request.content)
            self.assignments.append(body)
            if body["lawyer_id"] == "u-ip" and not body["override_reason"]:
                return refused_assignment(422, "invalid_argument", "override_reason")
            if len(self.assignments) > 2:  # someone else assigned it meanwhile
                return refused_assignment(409, "already_assigned")
            return httpx.Response(200, json=WAITING_ORDER | {"assigned_lawyer_id": body["lawyer_id"]})
        if (method, path) == ("GET", "/api/v1/agent/at-risk"):
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return problem(404, "not found")


def refused_assignment(status: int, reason: str, field: str = "") -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "type": f"https://counsel.test/problems/{reason}",
            "title": "Refused",
            "status": status,
            "detail": "the order already has a lawyer" if status == 409 else "check the form",
            "errors": [{"field": field, "message": "the lawyer has not passed tax: say why"}]
            if field
            else [],
        },
        headers={"content-type": "application/problem+json"},
    )


async def test_an_agent_assigns_an_order_nobody_has_passed_the_field_of() -> None:
    gateway = AgentGateway()
    async with portal_over(gateway) as portal:
        await log_in(portal)
        assert 'href="/work/assignments"' in (await portal.get("/work")).text
        queue = await portal.get("/work/assignments")
        assert queue.status_code == 200, queue.text
        # Only the order without a lawyer, with why in Chinese (the field's label, where it came from).
        assert 'href="/work/assignments/d1"' in queue.text and "/work/assignments/d2" not in queue.text
        assert "尚无通过「税务」领域考核的可用律师，等待客服指派（领域依据：所购产品）" in queue.text
        form = await portal.get("/work/assignments/d1")
        # The lawyers of the field first, the others after them, each once.
        assert form.text.index("赵税务") < form.text.index("钱知产") and form.text.count("赵税务") == 1
        csrf = csrf_of(form.text)
        without_reason = await portal.post(
            "/work/assignments/d1", data={"csrf_token": csrf, "lawyer_id": "u-ip", "override_reason": ""}
        )
        assert without_reason.status_code == 422
        assert re.search(r'id="override_reason"[^>]*aria-invalid="true"', without_reason.text)
        assert 'id="override_reason-error" class="error">the lawyer has not passed tax' in without_reason.text
        assert '<option value="u-ip" selected>' in without_reason.text
        done = await portal.post(
            "/work/assignments/d1",
            data={
                "csrf_token": csrf,
                "lawyer_id": "u-ip",
                "override_reason": "税务律师均已满额，由知产律师临时承接",
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/documents/d1"
        assert gateway.assignments[-1] == {
            "lawyer_id": "u-ip",
            "override_reason": "税务律师均已满额，由知产律师临时承接",
        }
        late = await portal.post("/work/assignments/d1", data={"csrf_token": csrf, "lawyer_id": "u-tax"})
        assert late.status_code == 409
        assert 'id="lawyer_id-error" class="error">该订单已有律师，无需再指派' in late.text
        await portal.get("/language/en")
        english = await portal.get("/work/assignments")
        assert "No eligible lawyer has passed the Tax assessment" in english.text
        assert "(field from: the product bought)" in english.text
