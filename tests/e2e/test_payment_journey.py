"""A client orders a product, pays through the sandbox provider and gets a verifiable voucher and an
invoice, over HTTP against the session's platform started by `counsel up` (tests/e2e/conftest.py;
R-PAY-1..4, API.md "Orders and payment"). Any 5xx fails the test."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from deploy.local.launcher import StackProcess
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.gateway import problem_fields
from tests.support.journeys import login, wait_for

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}


@pytest.fixture(scope="module")
def consultation_product(http: httpx.Client) -> dict:
    items = http.get("/api/v1/products", params={"category": "consultation"}).json()["items"]
    return next(p for p in items if len(p["tiers"]) == 1)


def test_a_client_orders_pays_through_the_sandbox_and_gets_a_verifiable_voucher(
    http: httpx.Client, consultation_product: dict
) -> None:
    client = login(http, "client@demo.counsel.test")
    tier = consultation_product["tiers"][0]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {
        "product_id": consultation_product["id"],
        "tier": tier["id"],
        "requirements": {},
        "invoice": {"title": "演示科技有限公司", "tax_id": "91310115MA1K000000"},
    }
    created = http.post("/api/v1/orders", headers=client | key, json=body)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending_payment" and order["pay_before"]
    assert order["amount"] == tier["price"]  # the catalog's price at order time

    # R-PAY-2: the same key and body is the first order; another body with the key is 409.
    assert http.post("/api/v1/orders", headers=client | key, json=body).json()["id"] == order["id"]
    other = http.post(
        "/api/v1/orders", headers=client | key, json=body | {"requirements": {"topic": "劳动 labour"}}
    )
    assert other.status_code == 409

    unavailable = http.post(
        f"/api/v1/orders/{order['id']}/payments", headers=client, json={"method": "alipay"}
    )
    assert unavailable.status_code == 409  # no Alipay merchant credentials on the local platform
    paying = http.post(
        f"/api/v1/orders/{order['id']}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert paying.status_code == 201, paying.text
    payment = paying.json()
    assert payment["status"] == "created" and payment["pay_url"].endswith(payment["payment_id"])

    assert http.post(f"/api/v1/dev/sandbox-pay/{payment['payment_id']}").status_code == 202

    # The sandbox's signed notification arrives asynchronously; the workflow issues the voucher.
    def in_service() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current if current["status"] == "in_service" else None

    assert wait_for(in_service, timeout=60)["id"] == order["id"]
    timeline = http.get(f"/api/v1/orders/{order['id']}/timeline", headers=client).json()["stages"]
    reached = [(s["stage"], s["status"]) for s in timeline if s["status"] != "pending"]
    assert reached == [
        ("pending_payment", "done"),
        ("paid", "done"),
        ("voucher_issued", "done"),
        ("invoice_issued", "done"),
        ("in_service", "current"),
    ]
    # §9.2: what is still to come is the product's own process, pending until the consultation starts.
    pending = [s["stage"] for s in timeline if s["status"] == "pending"]
    assert pending == [p["stage"] for p in consultation_product["process"] if p["stage"] != "paid"]

    voucher = http.get(f"/api/v1/orders/{order['id']}/voucher", headers=client).json()
    assert voucher["order_id"] == order["id"] and voucher["amount"] == tier["price"]
    assert base64.b64decode(voucher["qr_png_base64"]).startswith(b"\x89PNG")
    verified = http.get(f"/api/v1/vouchers/{voucher['code']}/verify")
    assert verified.status_code == 200 and verified.json()["valid"] is True
    assert verified.json()["order_id"] == order["id"]
    altered = voucher["code"][:-3] + ("xyz" if not voucher["code"].endswith("xyz") else "abc")
    assert http.get(f"/api/v1/vouchers/{altered}/verify").status_code == 404

    invoice = http.get(f"/api/v1/orders/{order['id']}/invoice", headers=client)
    assert invoice.status_code == 200 and invoice.headers["content-type"] == "application/pdf"
    digest = base64.b64encode(hashlib.sha256(invoice.content).digest()).decode()
    assert invoice.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert invoice.content.startswith(b"%PDF-")

    # A paid order cannot be cancelled; a bad notification signature is 400 and changes nothing.
    assert http.post(f"/api/v1/orders/{order['id']}/cancel", headers=client).status_code == 409
    forged = http.post(
        "/api/v1/payments/notify/sandbox",
        content=b'{"notify_id":"x","payment_id":"y","trade_no":"z","amount":1,"currency":"CNY","status":"SUCCESS"}',
        headers={"x-sandbox-signature": base64.b64encode(b"\0" * 64).decode()},
    )
    assert forged.status_code == 400
    assert forged.headers["content-type"].startswith("application/problem+json")

    listed = http.get("/api/v1/orders", headers=client, params={"status": "in_service"}).json()["items"]
    assert order["id"] in {o["id"] for o in listed}

    # A consultation order's fulfilment is the consultation its client submits against it.
    asked = http.post(
        "/api/v1/consultations",
        headers=client,
        json={
            "kind": "professional",
            "subject": "股权转让",
            "question": "需要哪些文件？",
            "order_id": order["id"],
        },
    )
    assert asked.status_code == 201, asked.text

    def fulfilled() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current["fulfilment"]

    assert wait_for(fulfilled, timeout=30) == {"kind": "consultation", "id": asked.json()["id"]}

    # The consultation's own stage records join the order's timeline, after the stage that started it.
    def joined() -> list[str] | None:
        stages = http.get(f"/api/v1/orders/{order['id']}/timeline", headers=client).json()["stages"]
        names = [s["stage"] for s in stages if s["status"] != "pending"]
        return names if "submitted" in names else None

    names = wait_for(joined, timeout=30)
    assert names.index("consultation_started") < names.index("submitted")

    # An agent refunds part, then the rest; a retried refund with the same key has no second effect.
    agent = login(http, "agent@demo.counsel.test")
    refund_key = {"Idempotency-Key": uuid.uuid4().hex}
    partial = {"amount": 100, "reason": "goodwill"}
    first = http.post(f"/api/v1/orders/{order['id']}/refund", headers=agent | refund_key, json=partial)
    again = http.post(f"/api/v1/orders/{order['id']}/refund", headers=agent | refund_key, json=partial)
    assert first.status_code == 200 and again.json()["refunded"]["amount"] == 100
    rest = http.post(f"/api/v1/orders/{order['id']}/refund", headers=agent, json={"reason": "client_request"})
    assert rest.json()["status"] == "refunded" and rest.json()["refunded"] == order["amount"]

    report = http.get("/api/v1/ledger/verify", headers=login(http, "supervisor@demo.counsel.test")).json()
    assert report == {"valid": True, "checked": report["checked"], "first_broken_seq": None, "problem": None}
    assert report["checked"] >= 4


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_paid_document_order_starts_its_document_order_and_completes_with_it(http: httpx.Client) -> None:
    """Issue 5 ↔ 7: paying for a document product creates its document order (the tier's 30 min
    acknowledgement clock from the payment), and the client's acceptance of the document completes the order."""
    client = login(http, "client@demo.counsel.test")
    requirements = {
        "contract_type": "服务 Services",
        "parties": ["甲方 演示科技有限公司", "乙方 某服务商"],
        "key_terms": "服务内容、费用、保密、违约责任",
    }
    # Answers are checked against the product's form when ordering, before any payment (422 naming the field).
    for bad, field in (
        (requirements | {"contract_type": "赠与 Gift"}, "requirements.contract_type"),
        ({k: v for k, v in requirements.items() if k != "key_terms"}, "requirements.key_terms"),
        (requirements | {"deadline": "next week"}, "requirements.deadline"),
    ):
        refused = http.post(
            "/api/v1/orders",
            headers=client | {"Idempotency-Key": uuid.uuid4().hex},
            json={"product_id": "doc-contract-drafting", "tier": "simple", "requirements": bad},
        )
        assert refused.status_code == 422 and set(problem_fields(refused)) == {field}, refused.text
    created = http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": "doc-contract-drafting", "tier": "simple", "requirements": requirements},
    )
    assert created.status_code == 201, created.text
    order = created.json()
    paying = http.post(
        f"/api/v1/orders/{order['id']}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def fulfilled() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current if current["status"] == "in_service" and current["fulfilment"] else None

    in_service = wait_for(fulfilled, timeout=60)
    assert in_service["fulfilment"]["kind"] == "document"
    timeline = http.get(f"/api/v1/orders/{order['id']}/timeline", headers=client).json()["stages"]
    paid_at = when(next(s["entered_at"] for s in timeline if s["stage"] == "paid"))

    path = f"/api/v1/document-orders/{in_service['fulfilment']['id']}"
    document = http.get(path, headers=client).json()
    assert document["order_id"] == order["id"] and document["complexity"] == "simple"
    assert document["stage"] == "awaiting_acknowledgement"
    due = when(document["acknowledge_due_at"]) - paid_at  # R-DOC-2: 30 min from the payment
    assert timedelta(minutes=29) < due <= timedelta(minutes=31), due

    # The agent acknowledges, the lawyer drafts, the reviewer approves, the client accepts: the order is done.
    agent = login(http, "agent@demo.counsel.test")
    acknowledged = http.post(f"{path}/acknowledge", headers=agent, json={"note": "已收到"})
    assert acknowledged.status_code == 200 and acknowledged.json()["stage"] == "drafting", acknowledged.text
    lawyer = login(http, LAWYER_BY_ID[document["assigned_lawyer_id"]])
    draft = "服务合同（定稿）\n".encode() + uuid.uuid4().bytes
    uploaded = http.post(f"{path}/drafts", headers=lawyer, files={"file": ("合同.docx", draft, DOCX)})
    assert uploaded.status_code == 200 and uploaded.json()["stage"] == "in_review", uploaded.text
    reviewer = login(http, "reviewer@demo.counsel.test")
    approved = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"})
    assert approved.status_code == 200 and approved.json()["stage"] == "delivered", approved.text
    accepted = http.post(f"{path}/accept", headers=client)
    assert accepted.status_code == 200 and accepted.json()["stage"] == "completed", accepted.text
    stages = [s["stage"] for s in http.get(path, headers=client).json()["stages"]]
    assert stages[0] == "awaiting_acknowledgement" and stages[-1] == "completed" and "drafting" in stages

    def completed() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current if current["status"] == "completed" else None

    assert wait_for(completed, timeout=30)["fulfilment"] == in_service["fulfilment"]

    # Issue 9 "done when" (§9.2, R-Q-3): the order's timeline lists every stage of payment and of the
    # document order as the documents service recorded it, all done, with the due times of the clocks.
    timeline = http.get(f"/api/v1/orders/{order['id']}/timeline", headers=client).json()
    assert timeline["status"] == "completed"
    stages = {s["stage"]: s for s in timeline["stages"]}
    assert [s["stage"] for s in timeline["stages"]] == [
        "pending_payment",
        "paid",
        "voucher_issued",
        "invoice_issued",
        "in_service",
        "awaiting_acknowledgement",
        "drafting",
        "in_review",
        "delivered",
        "completed",
    ]
    assert {s["status"] for s in timeline["stages"]} == {"done"}
    assert all(s["entered_at"] for s in timeline["stages"])
    assert when(stages["pending_payment"]["due_at"]) == when(order["pay_before"])
    assert stages["awaiting_acknowledgement"]["due_at"] == document["acknowledge_due_at"]
    finished = http.get(path, headers=client).json()
    assert stages["drafting"]["due_at"] == finished["draft_due_at"]
    assert stages["drafting"]["actor"] == demo_user_id("agent@demo.counsel.test")
    assert stages["delivered"]["due_at"] == finished["revision_window_ends_at"]
    assert stages["in_review"]["actor"] == document["assigned_lawyer_id"]
    # payment's stages in their order, then the document order's (it starts just before `in_service`)
    entered = [when(s["entered_at"]) for s in timeline["stages"]]
    assert entered[:5] == sorted(entered[:5]) and entered[5:] == sorted(entered[5:])

    # …and the client's inbox got exactly one message per stage meant for the client, nothing twice.
    subjects = {order["id"], document["id"]}
    expected = [
        "order.created",
        "order.paid",
        "docorder.created",
        "docorder.acknowledged",
        "docorder.drafted",
        "docorder.delivered",
        "docorder.completed",
    ]

    def inbox_of(headers: dict[str, str]) -> list[str]:
        items = http.get("/api/v1/notifications", headers=headers, params={"limit": 100}).json()["items"]
        return sorted(n["kind"] for n in items if n["subject_id"] in subjects)

    assert wait_for(lambda: (k := inbox_of(client)) == sorted(expected) and k, timeout=30)
    # the lawyer hears of the assignment, the approval and the acceptance of the version
    lawyer_expected = sorted(["docorder.created.lawyer", "docorder.approved", "docorder.accepted"])
    assert wait_for(lambda: (k := inbox_of(lawyer)) == lawyer_expected and k, timeout=30)


def test_an_unpaid_order_can_be_cancelled_and_roles_and_bad_input_are_refused(
    http: httpx.Client, consultation_product: dict
) -> None:
    client = login(http, "client@demo.counsel.test")
    order = http.post(
        "/api/v1/orders", headers=client, json={"product_id": consultation_product["id"]}
    ).json()
    cancelled = http.post(f"/api/v1/orders/{order['id']}/cancel", headers=client)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    paying = http.post(f"/api/v1/orders/{order['id']}/payments", headers=client, json={"method": "sandbox"})
    assert paying.status_code == 409

    bad_tier = http.post(
        "/api/v1/orders", headers=client, json={"product_id": consultation_product["id"], "tier": "gold"}
    )
    assert bad_tier.status_code == 422 and "tier" in {e["field"] for e in bad_tier.json()["errors"]}
    unknown = http.post("/api/v1/orders", headers=client, json={"product_id": "no-such-product"})
    assert unknown.status_code == 422 and "product_id" in {e["field"] for e in unknown.json()["errors"]}
    bad_method = http.post(f"/api/v1/orders/{order['id']}/payments", headers=client, json={"method": "cash"})
    assert bad_method.status_code == 422 and "method" in {e["field"] for e in bad_method.json()["errors"]}

    lawyer = login(http, "lawyer1@demo.counsel.test")
    assert http.get(f"/api/v1/orders/{order['id']}", headers=lawyer).status_code == 403
    assert http.get(f"/api/v1/orders/{order['id']}").status_code == 401
    assert http.get("/api/v1/orders/no-such-order", headers=client).status_code == 404
    assert http.get("/api/v1/ledger/verify", headers=client).status_code == 403
    assert http.post(f"/api/v1/orders/{order['id']}/refund", headers=client).status_code == 403


def test_a_document_order_cancelled_by_a_supervisor_refunds_its_order(
    http: httpx.Client, platform: StackProcess
) -> None:
    """R-PAY-3 compensation across services: a paid document order is cancelled with the operator command
    (API.md has no public path for it), documents publishes `docorder.cancelled`, and the payment service
    refunds the order once; the client is told, and the ledger still verifies."""
    client = login(http, "client@demo.counsel.test")
    requirements = {"contract_type": "租赁 Lease", "parties": ["甲方", "乙方"], "key_terms": "租金、期限"}
    order = http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": "doc-contract-drafting", "tier": "simple", "requirements": requirements},
    ).json()
    paying = http.post(
        f"/api/v1/orders/{order['id']}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def fulfilled() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current if current["status"] == "in_service" and current["fulfilment"] else None

    document_order_id = wait_for(fulfilled, timeout=60)["fulfilment"]["id"]
    command = [sys.executable, "-m", "deploy.cli", "documents", "cancel", document_order_id]
    cancelled = subprocess.run(
        [*command, "--reason", "律师无法按期起草"],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cancelled.returncode == 0 and cancelled.stdout.strip().endswith(": cancelled"), cancelled.stderr
    document = http.get(f"/api/v1/document-orders/{document_order_id}", headers=client).json()
    assert document["stage"] == "cancelled"

    def refunded() -> dict | None:
        current = http.get(f"/api/v1/orders/{order['id']}", headers=client).json()
        return current if current["status"] == "refunded" else None

    assert wait_for(refunded, timeout=60)["refunded"] == order["amount"]
    again = subprocess.run(
        [*command, "--reason", "再次"], env=platform.env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0  # already cancelled: nothing more happens
    supervisor = login(http, "supervisor@demo.counsel.test")
    assert http.get("/api/v1/ledger/verify", headers=supervisor).json()["valid"] is True

    def told() -> list[str] | None:
        items = http.get("/api/v1/notifications", headers=client).json()["items"]
        kinds = [n["kind"] for n in items if n.get("subject_id") in (order["id"], document_order_id)]
        return kinds if {"docorder.cancelled", "order.refunded"} <= set(kinds) else None

    kinds = wait_for(told, timeout=60)
    assert kinds.count("order.refunded") == 1 and kinds.count("docorder.cancelled") == 1
