"""A client sees who among staff read their case (issue 20, R-PRIV-1): an agent opens the client's
consultation, and `GET /api/v1/me/access-log` — joined by the gateway from every service's staff access
log — names the agent, the consultation and when; the client's own reads are not there."""

from __future__ import annotations

import httpx

from services.identity.seed import demo_user_id
from tests.support.journeys import login, register_client


def test_an_agents_read_shows_in_the_clients_access_log_and_the_clients_own_do_not(
    http: httpx.Client,
) -> None:
    client = register_client(http, "访问记录科技有限公司")
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "合同审查", "question": "供货合同的违约金条款是否有效？"},
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/consultations/{created.json()['id']}"
    assert http.get(path, headers=client).status_code == 200
    assert http.get("/api/v1/me/access-log", headers=client).json() == {"items": []}

    assert http.get(path, headers=login(http, "agent@demo.counsel.test")).status_code == 200
    items = http.get("/api/v1/me/access-log", headers=client).json()["items"]
    assert [(i["actor_id"], i["service"], i["resource"], i["case_id"]) for i in items] == [
        (demo_user_id("agent@demo.counsel.test"), "consultation", "consultation", created.json()["id"])
    ]
    assert "agent" in items[0]["actor_roles"] and items[0]["at"]
