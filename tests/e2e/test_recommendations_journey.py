"""Next-purchase analysis through the whole platform (`counsel up`, every process; §5.5, R-Q-2, R-CS-2): a
new manufacturing client who agreed to marketing looks at the labour-compliance review and asks three
labour questions; from those events alone the catalog suggests the review first, with the reason in
Chinese, to the client, to an agent (by enterprise, and beside the purchase intent) and, as opt-in
marketing, in the client's inbox. Another enterprise's client cannot read it. The platform fixture is
tests/e2e/conftest.py's."""

from __future__ import annotations

import httpx

from deploy.local.launcher import StackProcess as Platform
from tests.support.journeys import login, register_by_sms, wait_for

QUESTIONS = (
    "员工试用期被辞退要不要给经济补偿？",
    "公司没给员工交社保，员工要求解除劳动合同怎么办？",
    "加班费按什么标准算？员工说我们少发了加班工资",
)
REVIEW = "doc-labour-compliance"
CONSENT = {"channels": {"email": True, "sms": True}, "marketing_consent": True}


def classified_field(http: httpx.Client, client: dict[str, str], consultation_id: str) -> str:
    path = f"/api/v1/consultations/{consultation_id}"
    field: str = wait_for(lambda: http.get(path, headers=client).json()["legal_field"] or None, timeout=60)
    return field


def test_three_labour_consultations_suggest_the_labour_compliance_review(
    http: httpx.Client, platform: Platform
) -> None:
    _, account = register_by_sms(http, "推荐测试制造有限公司")
    client = {"Authorization": f"Bearer {account['access_token']}"}
    me = http.get("/api/v1/me", headers=client).json()
    enterprise_id, client_id = me["enterprise"]["id"], me["id"]
    consent = http.put("/api/v1/me/notification-preferences", headers=client, json=CONSENT)
    assert consent.status_code == 200, consent.text

    first = http.get("/api/v1/recommendations", headers=client)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) <= 5

    assert http.get(f"/api/v1/products/{REVIEW}", headers=client).status_code == 200
    for question in QUESTIONS:
        created = http.post(
            "/api/v1/consultations",
            headers=client,
            json={"kind": "general", "subject": "用工问题", "question": question},
        )
        assert created.status_code == 201, created.text
        assert classified_field(http, client, created.json()["id"]) == "labour"

    def suggested(headers: dict[str, str], params: dict[str, str]) -> list[dict] | None:
        items: list[dict] = http.get("/api/v1/recommendations", headers=headers, params=params).json()[
            "items"
        ]
        three = "本季度三次劳动咨询 → 劳动合规审查"
        return items if items and items[0]["product_id"] == REVIEW and three in items[0]["reasons"] else None

    items = wait_for(lambda: suggested(client, {}), timeout=30)
    assert len(items) <= 5 and [i["score"] for i in items] == sorted(
        (i["score"] for i in items), reverse=True
    )

    agent = login(http, "agent@demo.counsel.test")
    assert suggested(agent, {"enterprise_id": enterprise_id}), "agents see the client enterprise's"
    insight = http.get(f"/api/v1/chat/clients/{client_id}/insight", headers=agent).json()
    assert insight["purchase_intent"]["level"] in ("low", "medium", "high")
    assert insight["recommendations"][0]["product_id"] == REVIEW

    other = login(http, "client@demo.counsel.test")
    refused = http.get("/api/v1/recommendations", headers=other, params={"enterprise_id": enterprise_id})
    assert refused.status_code == 404, refused.text

    def inbox_suggestion() -> dict | None:
        entries = http.get("/api/v1/notifications", headers=client).json()["items"]
        return next((e for e in entries if e["kind"] == "recommendation.suggested"), None)

    # The catalog runs at most one suggestion pass per enterprise a minute: the questions came within the
    # minute of the product view's pass, so theirs runs at that minute's end (and the sweep's 10 s).
    notice = wait_for(inbox_suggestion, timeout=90)
    assert notice["category"] == "marketing" and notice["subject_id"] == REVIEW
    assert "劳动合规审查" in notice["title"]
