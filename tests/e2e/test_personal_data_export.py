"""The person's data export across every service (issue 20 item 5, PIPL art. 45) against the platform of
`counsel up`: a client with a consultation and its follow-up, a document order with an approved version, a
booking (ordered and paid: an order, its voucher and invoice) and a notification finds each of them in
`GET /api/v1/me/export`, the version's file in the ZIP, and nothing of an enterprise colleague's; an export
produced in the background is fetched by its link, which is 404 for another client. Any 5xx fails the test."""

from __future__ import annotations

import io
import json
import os
import secrets
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.journeys import (
    PRIVACY_POLICY_VERSION,
    latest_code,
    login,
    register_by_sms,
    register_client,
    wait_for,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER = "lawyer-3"  # lawyer3@demo.counsel.test
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}


def bearer(account: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['access_token']}"}


def letters(value: str) -> str:
    """No five digits in a row in an enterprise name (it goes out in invitations)."""
    return value.translate(str.maketrans("0123456789", "ghijklmnop"))


def join_as_member(http: httpx.Client, admin: dict[str, str]) -> dict[str, str]:
    """A colleague: invited by `admin` to their enterprise, registered by the code sent to their phone."""
    phone = f"137{secrets.randbelow(10**8):08d}"
    assert http.post("/api/v1/enterprise/members", json={"phone": phone}, headers=admin).status_code == 202
    assert http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone}).status_code == 202
    joined = http.post(
        "/api/v1/auth/register",
        json={
            "phone": phone,
            "code": latest_code(http, phone),
            "display_name": "同事",
            "privacy_policy_version": PRIVACY_POLICY_VERSION,
        },
    )
    assert joined.status_code == 201, joined.text
    return bearer(joined.json())


def ask(http: httpx.Client, headers: dict[str, str], question: str) -> str:
    created = http.post(
        "/api/v1/consultations",
        headers=headers,
        json={"kind": "general", "subject": "劳动合同", "question": question},
    )
    assert created.status_code == 201, created.text
    consultation_id: str = created.json()["id"]
    return consultation_id


def approved_document_order(http: httpx.Client, client: dict[str, Any], draft: bytes) -> str:
    """A document order of `client` whose first version is approved (the agent creates it by the dev route)."""
    agent = login(http, "agent@demo.counsel.test")
    reviewer = login(http, "reviewer@demo.counsel.test")
    created = http.post(
        "/api/v1/document-orders",
        headers=agent,
        json={
            "order_id": f"order-{os.urandom(6).hex()}",
            "tenant_id": client["user"]["tenant_id"],
            "client_id": client["user"]["id"],
            "product_id": "doc-contract-drafting",
            "complexity": "simple",
            "requirements": {
                "contract_type": "买卖 Sale",
                "parties": "甲方；乙方",
                "key_terms": "货物、价款",
            },
        },
    )
    assert created.status_code == 201, created.text
    order = created.json()
    path = f"/api/v1/document-orders/{order['id']}"
    assert http.post(f"{path}/acknowledge", headers=agent, json={"note": "已收到"}).status_code == 200
    lawyer = login(http, LAWYER_BY_ID[order["assigned_lawyer_id"]])
    uploaded = http.post(f"{path}/drafts", headers=lawyer, files={"file": ("合同.docx", draft, DOCX)})
    assert uploaded.status_code == 200, uploaded.text
    approved = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve", "comment": "同意"})
    assert approved.status_code == 200 and approved.json()["stage"] == "delivered", approved.text
    document_order_id: str = order["id"]
    return document_order_id


def held_booking(http: httpx.Client, headers: dict[str, str], needs: str) -> str:
    begin = datetime.now(UTC) + timedelta(days=5)
    slots = http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": begin.isoformat(), "to": (begin + timedelta(days=14)).isoformat()},
    ).json()["items"]
    for slot in slots:  # other journeys book this lawyer too: take the first slot still free
        held = http.post(
            "/api/v1/bookings",
            headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
            json={
                "lawyer_id": LAWYER,
                "mode": "at_firm",
                "start": slot["start"],
                "minutes": 30,
                "needs": needs,
            },
        )
        if held.status_code == 201:
            booking_id: str = held.json()["id"]
            return booking_id
        assert held.status_code == 409, held.text
    raise AssertionError("no free slot")


def paid_order(http: httpx.Client, headers: dict[str, str], booking_id: str) -> str:
    """The booking's order, paid through the sandbox and in service (its voucher and invoice issued)."""
    order = http.post(
        "/api/v1/orders",
        headers=headers,
        json={"product_id": "booking-at-firm", "requirements": {}, "booking": {"booking_id": booking_id}},
    )
    assert order.status_code == 201, order.text
    order_id: str = order.json()["id"]
    paying = http.post(f"/api/v1/orders/{order_id}/payments", headers=headers, json={"method": "sandbox"})
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def in_service() -> dict[str, Any] | None:
        current: dict[str, Any] = http.get(f"/api/v1/orders/{order_id}", headers=headers).json()
        return current if current["status"] == "in_service" else None

    wait_for(in_service, timeout=90)
    return order_id


def test_a_client_exports_everything_of_theirs_and_nothing_of_a_colleagues(http: httpx.Client) -> None:
    marker = f"导出标记{uuid.uuid4().hex[:8]}"
    _, account = register_by_sms(http, letters(f"导出测试{uuid.uuid4().hex[:6]}有限公司"))
    client = bearer(account)
    colleague = join_as_member(http, client)

    consultation_id = ask(http, client, f"{marker} 试用期最长多久？")
    follow_up = http.post(
        f"/api/v1/consultations/{consultation_id}/messages", headers=client, json={"body": f"{marker} 补充"}
    )
    assert follow_up.status_code == 200, follow_up.text
    theirs = ask(http, colleague, "同事的问题：加班费怎么算？")
    draft = f"{marker} 采购合同".encode() + os.urandom(64)
    document_order_id = approved_document_order(http, account, draft)
    booking_id = held_booking(http, client, f"{marker} 当面咨询")
    order_id = paid_order(http, client, booking_id)

    def notified() -> list[dict[str, Any]] | None:
        items = http.get("/api/v1/notifications", headers=client).json()["items"]
        return [n for n in items if n["subject_id"] == consultation_id] or None

    notification_ids = {n["id"] for n in wait_for(notified, timeout=60)}

    response = http.get("/api/v1/me/export", headers=client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    exported = response.json()
    assert exported["user"]["id"] == account["user"]["id"]  # identity's part
    assert "user.registered" in {event["action"] for event in exported["audit"]}
    (consultation,) = exported["consultation"]["consultations"]
    assert consultation["id"] == consultation_id and marker in consultation["question"]
    assert [m["body"] for m in consultation["messages"]] == [f"{marker} 补充"]
    assert theirs not in json.dumps(exported)  # the colleague's consultation is theirs alone
    (document_order,) = exported["documents"]["document_orders"]
    assert document_order["id"] == document_order_id
    (version,) = document_order["versions"]
    assert version["download_url"] == f"/api/v1/document-orders/{document_order_id}/versions/1/file"
    assert http.get(version["download_url"], headers=client).content == draft
    assert [b["id"] for b in exported["booking"]["bookings"]] == [booking_id]
    assert exported["booking"]["bookings"][0]["needs"] == f"{marker} 当面咨询"
    assert notification_ids <= {n["id"] for n in exported["notification"]["notifications"]}
    assert exported["notification"]["preferences"]["channels"]["in_app"] is True
    assert [o["id"] for o in exported["payment"]["orders"]] == [order_id]
    assert [v["order_id"] for v in exported["payment"]["vouchers"]] == [order_id]
    (invoice,) = exported["payment"]["invoices"]
    assert invoice["order_id"] == order_id and invoice["download_url"] == f"/api/v1/orders/{order_id}/invoice"
    assert exported["catalog"] == {"reviews": []}

    colleagues = http.get("/api/v1/me/export", headers=colleague).json()
    assert [c["id"] for c in colleagues["consultation"]["consultations"]] == [theirs]
    assert colleagues["documents"]["document_orders"] == colleagues["booking"]["bookings"] == []
    assert colleagues["payment"] == {"orders": [], "vouchers": [], "invoices": []}

    # The ZIP: the same document, and the version's file beside it.
    zipped = http.get("/api/v1/me/export", params={"format": "zip"}, headers=client)
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    document = json.loads(archive.read("export.json"))
    (file_path,) = [v["file"] for v in document["documents"]["document_orders"][0]["versions"]]
    assert archive.read(file_path) == draft

    # Produced in the background: a link for the client alone, 404 for another client.
    pending = http.get(
        "/api/v1/me/export", params={"format": "zip"}, headers=client | {"Prefer": "respond-async"}
    )
    assert pending.status_code == 202, pending.text
    link = pending.json()["url"]
    assert pending.headers["location"] == link
    stranger = register_client(http, letters(f"另一家{uuid.uuid4().hex[:6]}有限公司"))
    deadline = time.monotonic() + 60
    while (ready := http.get(link, headers=client)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert ready.status_code == 200, ready.text
    assert zipfile.ZipFile(io.BytesIO(ready.content)).read(file_path) == draft
    assert http.get(link, headers=stranger).status_code == 404
    assert http.get(link, headers=colleague).status_code == 404
    assert http.get(link).status_code == 401
