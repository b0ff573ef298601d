"""Online calls over the whole platform (§6.2.4.1, issue 24): a call is paid for, never free by accident. A
new client with no paid phone consultation is asked to buy one (409 order_required naming `consult-phone`);
once bought and paid (sandbox), a call to the online demo lawyer uses it up and names it, a second call is
asked to buy again, the lawyer answers the first, and once it is over the order is completed (the call was its
fulfilment) and its timeline shows the call."""

from __future__ import annotations

import uuid

import httpx

from tests.support.journeys import login, pay_with_sandbox, register_client, wait_for

# lawyer-4 of the demo seed, online.
LAWYER_EMAIL, LAWYER_NAME = "lawyer4@demo.counsel.test", "赵敏 Zhao Min"


def buy_again(response: httpx.Response) -> None:
    assert response.status_code == 409 and response.json()["type"].endswith("/order_required"), response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "order_id" and "consult-phone" in error["message"]
    assert response.json()["product_id"] == "consult-phone"


def test_a_call_uses_up_a_paid_phone_consultation_and_names_it(http: httpx.Client) -> None:
    client = register_client(http, "在线通话付费测试有限公司")
    online = http.get("/api/v1/lawyers", params={"online": "true", "limit": 100}).json()["items"]
    lawyer_id = next(lawyer["id"] for lawyer in online if lawyer["name"] == LAWYER_NAME)
    ring = {"lawyer_id": lawyer_id, "media": "audio"}

    buy_again(http.post("/api/v1/calls", headers=client, json=ring))

    ordered = http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": "consult-phone", "tier": "30min", "requirements": {}},
    )
    assert ordered.status_code == 201, ordered.text
    order_id = ordered.json()["id"]
    pay_with_sandbox(http, client, order_id)

    started = http.post("/api/v1/calls", headers=client, json=ring)
    assert started.status_code == 201, started.text
    call = started.json()
    assert (call["status"], call["order_id"]) == ("ringing", order_id)
    buy_again(http.post("/api/v1/calls", headers=client, json={**ring, "order_id": order_id}))

    lawyer = login(http, LAWYER_EMAIL)
    accepted = http.post(f"/api/v1/calls/{call['id']}/accept", headers=lawyer)
    assert accepted.status_code == 200 and accepted.json()["status"] == "connected", accepted.text
    ended = http.post(f"/api/v1/calls/{call['id']}/end", headers=client, json={"outcome": "已解答。"})
    assert ended.status_code == 200 and ended.json()["order_id"] == order_id
    buy_again(http.post("/api/v1/calls", headers=client, json=ring))

    def completed() -> dict[str, object] | None:
        order = http.get(f"/api/v1/orders/{order_id}", headers=client).json()
        return order if order["status"] == "completed" else None

    order = wait_for(completed)
    assert order["fulfilment"] == {"kind": "online_call", "id": call["id"]}, order
    # The call belongs to the order: its timeline shows it, to the client and to an agent following it up.
    for viewer in (client, login(http, "agent@demo.counsel.test")):
        timeline = http.get(f"/api/v1/orders/{order_id}/timeline", headers=viewer)
        assert timeline.status_code == 200, timeline.text
        stages = [s["stage"] for s in timeline.json()["stages"] if s["entered_at"]]
        assert stages[-3:] == ["online_call_connected", "online_call_ended", "completed"], stages
