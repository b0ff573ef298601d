"""The gateway's order and payment routes against fake stubs (API.md "Orders and payment"): roles,
shapes, the Idempotency-Key forwarded, provider notifications passed on raw with the provider's expected
answer, a bad signature as 400 problem+json, and the invoice's Repr-Digest."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx

from counsel.common.v1 import money_pb2
from counsel.payment.v1 import payment_service_pb2 as pb
from tests.support.factories import stamp
from tests.support.gateway import FakeClients, assert_problem, fields
from tests.support.tokens import Issuer


def order(**overrides: object) -> pb.Order:
    message = pb.Order(
        id="o-1",
        tenant_id="tenant-1",
        client_id="user-1",
        product_id="p-1",
        tier_id="standard",
        status="pending_payment",
        amount=money_pb2.Money(amount=19900, currency="CNY"),
        pay_before=stamp("2026-11-29T08:30:00+00:00"),
        product_name="专业咨询",
        category="consultation",
    )
    message.MergeFrom(pb.Order(**overrides))  # type: ignore[arg-type]
    return message


async def test_create_order_forwards_the_body_and_key_and_answers_201(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    fakes.fake("payment").on("CreateOrder", lambda request: pb.CreateOrderResponse(order=order()))
    response = await client.post(
        "/api/v1/orders",
        headers=keys.headers() | {"Idempotency-Key": "k-1"},
        json={"product_id": "p-1", "tier": "standard", "requirements": {"公司": "演示"}},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending_payment" and body["amount"] == {"amount": 19900, "currency": "CNY"}
    assert body["pay_before"] == "2026-11-29T08:30:00Z" and body["fulfilment"] is None
    (_, request, _) = fakes.fake("payment").calls[0]
    assert request.idempotency_key == "k-1" and json.loads(request.requirements_json) == {"公司": "演示"}


async def test_order_routes_check_roles(client: httpx.AsyncClient, keys: Issuer) -> None:
    lawyer = keys.headers(roles=("lawyer",))
    agent = keys.headers(roles=("agent",))
    assert_problem(await client.post("/api/v1/orders", headers=agent, json={"product_id": "p"}), 403)
    assert_problem(await client.get("/api/v1/orders/o-1", headers=lawyer), 403)
    assert_problem(await client.get("/api/v1/ledger/verify", headers=agent), 403)
    assert_problem(await client.post("/api/v1/orders/o-1/refund", headers=lawyer), 403)
    assert_problem(await client.get("/api/v1/orders"), 401)


async def test_bad_payment_method_is_422_naming_it(client: httpx.AsyncClient, keys: Issuer) -> None:
    response = await client.post(
        "/api/v1/orders/o-1/payments",
        headers=keys.headers(),
        json={"method": "cash"},
    )
    assert fields(assert_problem(response, 422)) == ["method"]


async def test_notifications_pass_through_raw_and_get_the_providers_answer(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    fakes.fake("payment").on(
        "HandleNotification",
        lambda request: pb.HandleNotificationResponse(
            accepted=True, outcome="applied", ack_body="success", ack_content_type="text/plain; charset=utf-8"
        ),
    )
    body = b"notify_id=n1&sign=abc&total_amount=199.00"
    response = await client.post(
        "/api/v1/payments/notify/alipay",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded", "X-Extra": "1"},
    )
    assert response.status_code == 200 and response.text == "success"
    (_, request, _) = fakes.fake("payment").calls[0]
    assert request.provider == "alipay" and request.body == body and request.headers["x-extra"] == "1"


async def test_a_refused_notification_is_a_problem(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    outcomes = iter(["bad_signature", "amount_mismatch", "unknown_provider"])
    fakes.fake("payment").on(
        "HandleNotification",
        lambda request: pb.HandleNotificationResponse(accepted=False, outcome=next(outcomes)),
    )
    assert_problem(await client.post("/api/v1/payments/notify/wechat", content=b"{}"), 400)
    assert_problem(await client.post("/api/v1/payments/notify/wechat", content=b"{}"), 409)
    assert_problem(await client.post("/api/v1/payments/notify/paypal", content=b"{}"), 404)


async def test_invoice_is_a_pdf_with_its_repr_digest(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    pdf = b"%PDF-1.7 test"
    fakes.fake("payment").on(
        "GetInvoice",
        lambda request: pb.GetInvoiceResponse(
            invoice=pb.Invoice(number="INV1", order_id="o-1", sha256=hashlib.sha256(pdf).hexdigest()), pdf=pdf
        ),
    )
    response = await client.get("/api/v1/orders/o-1/invoice", headers=keys.headers())
    assert response.status_code == 200 and response.content == pdf
    assert response.headers["content-type"] == "application/pdf"
    assert (
        response.headers["repr-digest"]
        == f"sha-256=:{base64.b64encode(hashlib.sha256(pdf).digest()).decode()}:"
    )


async def test_voucher_verification_is_public(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    fakes.fake("payment").on(
        "VerifyVoucher",
        lambda request: pb.VerifyVoucherResponse(
            voucher=pb.Voucher(
                code=request.code,
                order_id="o-1",
                amount=money_pb2.Money(amount=19900, currency="CNY"),
                issued_at=stamp("2026-11-29T08:00:00+00:00"),
            )
        ),
    )
    response = await client.get("/api/v1/vouchers/v1.sig/verify")
    assert response.json() == {
        "valid": True,
        "order_id": "o-1",
        "amount": {"amount": 19900, "currency": "CNY"},
        "issued_at": "2026-11-29T08:00:00Z",
    }
