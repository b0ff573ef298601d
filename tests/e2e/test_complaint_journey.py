"""Complaints on every service through the gateway (R-CS-3, §6.1.4.4, API.md "Service quality and growth"):
a client complains about a document order and about a booking of their enterprise (another enterprise's
client gets 404 for either), the response clock is due in 24 h and runs as `complaint-<id>`, an agent
resolves (the client is told), the client reopens with a reason (a new clock) and accepts the next
resolution (closed, the workflow ends); a wrong move is a 409 problem. Any 5xx fails the test."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from deploy.local.launcher import StackProcess
from tests.support.journeys import login, register_client, wait_for
from tests.support.platform import platform_temporal
from workflows.shared import ComplaintOutcome, complaint_workflow_id

LAWYER = "lawyer-2"  # lawyer2@demo.counsel.test


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def document_order(http: httpx.Client, client_account: dict[str, Any], agent: dict[str, str]) -> str:
    """A document order of the client's enterprise (created as the paid order's workflow would)."""
    created = http.post(
        "/api/v1/document-orders",
        headers=agent,
        json={
            "order_id": f"order-{os.urandom(6).hex()}",
            "tenant_id": client_account["tenant_id"],
            "client_id": client_account["id"],
            "product_id": "doc-contract-drafting",
            "complexity": "simple",
            "requirements": {
                "contract_type": "买卖 Sale",
                "parties": "甲方 演示科技有限公司；乙方 某供应商",
                "key_terms": "货物、价款、交付、违约责任",
            },
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def held_booking(http: httpx.Client, client: dict[str, str]) -> str:
    """A held meeting with a demo lawyer, a free slot two weeks ahead (clear of the booking journey's)."""
    begin = datetime.now(UTC) + timedelta(days=14)
    slots = http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": begin.isoformat(), "to": (begin + timedelta(days=7)).isoformat()},
    ).json()["items"]
    slot = next(s for s in slots if s["minutes"] >= 60)
    held = http.post(
        "/api/v1/bookings",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"lawyer_id": LAWYER, "mode": "at_firm", "start": slot["start"], "minutes": 60, "needs": "股权"},
    )
    assert held.status_code == 201, held.text
    return str(held.json()["id"])


def complain(
    http: httpx.Client, headers: dict[str, str], subject_type: str, subject_id: str
) -> httpx.Response:
    return http.post(
        "/api/v1/complaints",
        headers=headers,
        json={
            "subject_type": subject_type,
            "subject_id": subject_id,
            "body": "律师答复不及时，也没有说明原因。",
        },
    )


async def complaint_outcome(platform: StackProcess, complaint_id: str) -> ComplaintOutcome:
    client = await platform_temporal(platform)
    handle = client.get_workflow_handle(complaint_workflow_id(complaint_id), result_type=ComplaintOutcome)
    return await asyncio.wait_for(handle.result(), 60)


def test_complaints_on_a_document_order_and_a_booking_resolved_reopened_and_accepted(
    http: httpx.Client, platform: StackProcess
) -> None:
    client = login(http, "client@demo.counsel.test")
    me = http.get("/api/v1/me", headers=client).json()
    outsider = register_client(http, "另一家投诉测试企业")
    agent = login(http, "agent@demo.counsel.test")
    lawyer = login(http, "lawyer3@demo.counsel.test")
    document_order_id = document_order(http, me, agent)
    booking_id = held_booking(http, client)

    # Another enterprise's subject is not theirs: 404, as is one that does not exist; staff do not complain.
    assert complain(http, outsider, "document_order", document_order_id).status_code == 404
    assert complain(http, outsider, "booking", booking_id).status_code == 404
    assert complain(http, client, "order", "no-such-order").status_code == 404
    assert complain(http, agent, "document_order", document_order_id).status_code == 403
    unknown = http.post(
        "/api/v1/complaints", headers=client, json={"subject_type": "invoice", "subject_id": "x", "body": "b"}
    )
    assert unknown.status_code == 422

    # A complaint about the document order: open, due in 24 h; a retry with its key is the same complaint.
    key = {"Idempotency-Key": uuid.uuid4().hex}
    raised = complain(http, client | key, "document_order", document_order_id)
    assert raised.status_code == 201, raised.text
    complaint = raised.json()
    assert (complaint["status"], complaint["subject_type"], complaint["subject_id"]) == (
        "open",
        "document_order",
        document_order_id,
    )
    assert when(complaint["due_at"]) - when(complaint["created_at"]) == timedelta(hours=24)
    assert complain(http, client | key, "document_order", document_order_id).json()["id"] == complaint["id"]
    path = f"/api/v1/complaints/{complaint['id']}"
    assert http.get(path, headers=client).json()["id"] == complaint["id"]
    assert http.get(path, headers=outsider).status_code == 404
    assert http.get(path, headers=lawyer).status_code == 403

    # Agents resolve (a lawyer may not); the clock stops and the client is told.
    assert http.post(f"{path}/resolve", headers=lawyer, json={"resolution": "x"}).status_code == 403
    assert http.post(f"{path}/accept", headers=client).status_code == 409  # nothing to accept yet
    resolved = http.post(f"{path}/resolve", headers=agent, json={"resolution": "已催促律师并说明延误原因。"})
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["due_at"]) == ("resolved", None)

    def told_of_the_resolution() -> dict[str, Any] | None:
        inbox = http.get("/api/v1/notifications", headers=client).json()["items"]
        return next(
            (n for n in inbox if n["kind"] == "complaint.resolved" and n["subject_id"] == complaint["id"]),
            None,
        )

    told = wait_for(told_of_the_resolution, timeout=60)
    assert "文书订单" in told["body"] or "document order" in told["body"]

    # The client reopens with a reason: a new clock; reopening twice or resolving twice is a 409 problem.
    assert http.post(f"{path}/reopen", headers=outsider, json={"reason": "不"}).status_code == 404
    reopened = http.post(f"{path}/reopen", headers=client, json={"reason": "延误原因没有说清楚。"})
    assert reopened.status_code == 200, reopened.text
    assert (
        reopened.json()["status"] == "reopened" and reopened.json()["reopen_reason"] == "延误原因没有说清楚。"
    )
    assert when(reopened.json()["due_at"]) > when(complaint["due_at"])
    again = http.post(f"{path}/reopen", headers=client, json={"reason": "再次"})
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert http.post(f"{path}/resolve", headers=agent, json={"resolution": "已书面说明。"}).status_code == 200
    assert http.post(f"{path}/resolve", headers=agent, json={"resolution": "again"}).status_code == 409
    accepted = http.post(f"{path}/accept", headers=client)
    assert accepted.status_code == 200 and accepted.json()["status"] == "closed"
    assert http.post(f"{path}/accept", headers=client).status_code == 409
    assert asyncio.run(complaint_outcome(platform, complaint["id"])) == ComplaintOutcome(
        complaint_id=complaint["id"], breaches=0, closed_by="client"
    )

    # A complaint about the booking, taken on and resolved by an agent through the older route too.
    on_booking = complain(http, client, "booking", booking_id)
    assert on_booking.status_code == 201, on_booking.text
    booking_path = f"/api/v1/complaints/{on_booking.json()['id']}"
    taken = http.post(booking_path, headers=agent, json={"status": "in_progress"})
    assert taken.status_code == 200 and taken.json()["due_at"] == on_booking.json()["due_at"]
    assert (
        http.post(f"{booking_path}/resolve", headers=agent, json={"resolution": "已改约。"}).status_code
        == 200
    )
    assert http.post(f"{booking_path}/accept", headers=client).json()["status"] == "closed"
    listed = http.get("/api/v1/complaints", headers=client, params={"status": "closed"}).json()["items"]
    assert {complaint["id"], on_booking.json()["id"]} <= {c["id"] for c in listed}
