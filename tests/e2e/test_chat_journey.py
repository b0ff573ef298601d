"""Instant chat through the whole platform (`counsel up`, every process) over a real WebSocket (R-CS-1,
R-CON-1, R-CS-2): the demo client's general question is answered at once from the seeded, approved FAQ; a
legal question joins the agent queue, where the demo agent sees the client's activity (without where they
logged in from) and purchase intent, picks it up and answers; the client's socket receives it. The platform
fixture is tests/e2e/conftest.py's."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from deploy.local.launcher import StackProcess as Platform
from services.runtime.keys import SEALED_PREFIX
from tests.support.journeys import login

RECEIVE_SECONDS = 30.0


def until(ws: ClientConnection, kind: str, **match: Any) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_SECONDS))
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def test_a_general_question_is_answered_at_once_and_a_legal_one_reaches_an_agent(
    http: httpx.Client, platform: Platform
) -> None:
    client = login(http, "client@demo.counsel.test")
    token = client["Authorization"].removeprefix("Bearer ")
    url = platform.base_url.replace("http://", "ws://") + "/api/v1/chat"
    with connect(url, subprotocols=["counsel.chat.v1", f"bearer.{token}"]) as ws:  # type: ignore[list-item]
        ready = until(ws, "ready")
        after = ready["conversation"]["last_seq"] if ready["conversation"] else 0
        ws.send(json.dumps({"type": "message", "body": "专业咨询怎么收费？"}))
        answer = until(ws, "message", author_role="faq")
        assert answer["faq_article_id"] == "faq-consultation-price" and answer["seq"] > after

        ws.send(json.dumps({"type": "message", "body": "公司拖欠我三个月工资还要辞退我，我该怎么维权？"}))
        conversation_id = until(ws, "ack")["conversation_id"]
        until(ws, "status", status="queued")

        agent = login(http, "agent@demo.counsel.test")
        queue = http.get("/api/v1/chat/queue", headers=agent)
        mine = next(item for item in queue.json()["items"] if item["id"] == conversation_id)
        assert mine["purchase_intent"]["reasons"], mine
        assert any(a["kind"] == "login" for a in mine["client_activity"]), mine["client_activity"]
        insight = http.get(f"/api/v1/chat/clients/{mine['client_id']}/insight", headers=agent)
        assert insight.status_code == 200, insight.text
        # Where the client logged in from stays with them: the agent gets it neither opened nor sealed.
        for activity in (mine["client_activity"], insight.json()["client_activity"]):
            assert all(set(a["detail"]) <= {"method"} for a in activity), activity
        assert SEALED_PREFIX not in queue.text + insight.text

        picked = http.post(f"/api/v1/chat/conversations/{conversation_id}/pickup", headers=agent)
        assert picked.status_code == 200, picked.text
        until(ws, "status", status="active")
        sent = http.post(
            "/api/v1/chat/messages",
            headers=agent,
            json={"conversation_id": conversation_id, "body": "您好，我是客服，请问劳动合同还在吗？"},
        )
        assert sent.status_code == 201, sent.text
        reply = until(ws, "message", author_role="agent")
        assert reply["body"] == "您好，我是客服，请问劳动合同还在吗？"
        ws.send(json.dumps({"type": "close"}))
        until(ws, "status", status="closed")
