"""A client books a meeting at a demo lawyer's firm, orders and pays the booking product through the
sandbox, and the booking is confirmed by the order's workflow (R-BK-1, API.md "Booking"); cancelling it
more than 24 h ahead refunds the order in full through payment. Over HTTP against the session's platform
started by `counsel up` (tests/e2e/conftest.py). Any 5xx fails the test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.journeys import login, wait_for

LAWYER = "lawyer-3"  # lawyer3@demo.counsel.test


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_book_order_pay_confirm_and_cancel_with_a_refund(http: httpx.Client) -> None:
    client = login(http, "client@demo.counsel.test")
    lawyer = login(http, "lawyer3@demo.counsel.test")

    # The lawyer's free slots, in UTC and Beijing time; pick one at least 3 days ahead.
    begin = datetime.now(UTC) + timedelta(days=3)
    slots = http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": begin.isoformat(), "to": (begin + timedelta(days=7)).isoformat()},
    )
    assert slots.status_code == 200, slots.text
    assert slots.json()["time_zone"] == "Asia/Shanghai"
    slot = next(s for s in slots.json()["items"] if s["minutes"] >= 60)
    assert slot["start_local"].endswith("+08:00")

    held = http.post(
        "/api/v1/bookings",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={
            "lawyer_id": LAWYER,
            "mode": "at_firm",
            "start": slot["start"],
            "minutes": 60,
            "needs": "劳动合同续签与竞业限制",
        },
    )
    assert held.status_code == 201, held.text
    booking = held.json()
    assert booking["status"] == "held" and booking["hold_expires_at"]
    assert booking["venue"]["address"] and booking["venue"]["transit_routes"]
    # The same slot again is taken.
    clash = http.post(
        "/api/v1/bookings",
        headers=client,
        json={"lawyer_id": LAWYER, "mode": "at_firm", "start": slot["start"], "minutes": 60},
    )
    assert clash.status_code == 409

    order = http.post(
        "/api/v1/orders",
        headers=client,
        json={"product_id": "booking-at-firm", "requirements": {}, "booking": {"booking_id": booking["id"]}},
    )
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    paying = http.post(f"/api/v1/orders/{order_id}/payments", headers=client, json={"method": "sandbox"})
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def confirmed() -> dict | None:
        current = http.get(f"/api/v1/bookings/{booking['id']}", headers=client).json()
        return current if current["status"] == "confirmed" else None

    assert wait_for(confirmed, timeout=90)["order_id"] == order_id

    def in_service() -> dict | None:
        current = http.get(f"/api/v1/orders/{order_id}", headers=client).json()
        return current if current["status"] == "in_service" else None

    assert wait_for(in_service, timeout=60)["fulfilment"] == {"kind": "booking", "id": booking["id"]}

    # §9.2, R-Q-3: the order's timeline joins payment's stages with the booking's own records, in time
    # order (the slot was held before the order), each with its due time: the hold's expiry, the payment
    # deadline, the meeting's start.
    timeline = http.get(f"/api/v1/orders/{order_id}/timeline", headers=client)
    assert timeline.status_code == 200, timeline.text
    stages = {s["stage"]: s for s in timeline.json()["stages"]}
    order_of = [s["stage"] for s in timeline.json()["stages"]]
    assert order_of.index("held") < order_of.index("pending_payment") < order_of.index("paid")
    assert order_of.index("paid") < order_of.index("confirmed")
    assert stages["held"]["status"] == "done" and stages["held"]["due_at"]
    assert when(stages["held"]["due_at"]) == when(booking["hold_expires_at"])
    assert stages["pending_payment"]["due_at"]
    assert stages["confirmed"]["status"] in ("done", "current")
    assert when(stages["confirmed"]["due_at"]) == when(slot["start"])  # due: the meeting itself
    assert stages["completed"]["status"] == "pending"  # the booking product's process, still to come

    # The lawyer sees the meeting among their bookings.
    mine = http.get("/api/v1/bookings", params={"mine": 1}, headers=lawyer).json()["items"]
    assert booking["id"] in {b["id"] for b in mine}

    # More than 24 h ahead: cancelling is free, the whole price is refunded through payment.
    cancelled = http.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=client, json={"reason": "改期"})
    assert cancelled.status_code == 200, cancelled.text
    assert (
        cancelled.json()["status"] == "cancelled" and cancelled.json()["refund"] == order.json()["amount"]
    )  # in full

    def refunded() -> dict | None:
        current = http.get(f"/api/v1/orders/{order_id}", headers=client).json()
        return current if current["status"] == "refunded" else None

    assert wait_for(refunded, timeout=60)["id"] == order_id
    final = http.get(f"/api/v1/orders/{order_id}/timeline", headers=client).json()["stages"]
    assert {s["stage"] for s in final} >= {"held", "paid", "confirmed", "cancelled", "refunded"}
    assert {s["status"] for s in final} == {"done"}  # a refunded order has nothing pending or current
