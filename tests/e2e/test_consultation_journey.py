"""A client's labour question in Chinese through the whole platform (`counsel up`, every process), over
HTTP (R-CON-2, §6.2.1.2; R-Q-1; R-Q-3): classified `labour`, assigned to a labour lawyer with the reason
recorded, the lawyer sees it in the queue and replies (the reply reaches the workflow through the service's
own event), the client sees the reply, follows up, rates and closes, and the timeline shows each stage.

That journey asks a `general` question (no order); the professional path's 24 h clock and escalation are
covered on the time-skipping server (tests/workflows/test_consultation_workflow.py) and against PostgreSQL
(tests/integration/test_consultation_assignment.py), and the last journey pays a professional consultation
order and follows it to its end. The platform fixture is tests/e2e/conftest.py's."""

from __future__ import annotations

import asyncio

import httpx

from deploy.local.launcher import StackProcess as Platform
from services.catalog.seed import demo_lawyers
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.journeys import login, wait_for
from tests.support.platform import platform_temporal

QUESTION = "公司已经拖欠我们三个月工资，现在人事要求我签自愿离职申请，不签就辞退。我能拒绝并要求经济补偿吗？"
EMAIL_OF = {demo_user_id(email): email for email in LAWYER_EMAILS}


def workflow_stage(platform: Platform, consultation_id: str) -> str:
    async def query() -> str:
        client = await platform_temporal(platform)
        return await client.get_workflow_handle(f"consultation-{consultation_id}").query("stage")

    return asyncio.run(query())


def test_a_labour_question_is_classified_assigned_answered_rated_and_closed(
    http: httpx.Client, platform: Platform
) -> None:
    client = login(http, "client@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "被拖欠工资还被要求离职", "question": QUESTION},
    )
    assert created.status_code == 201, created.text
    consultation_id = created.json()["id"]
    path = f"/api/v1/consultations/{consultation_id}"

    def assigned() -> dict | None:
        body = http.get(path, headers=client).json()
        return body if body["assigned_lawyer_id"] else None

    consultation = wait_for(assigned, timeout=60)
    assert consultation["legal_field"] == "labour"
    assert consultation["needs_manual_classification"] is False
    assert consultation["status"] == "assigned"
    assert "field labour" in consultation["assignment_reason"]
    lawyer_email = EMAIL_OF[consultation["assigned_lawyer_id"]]
    lawyer = login(http, lawyer_email)

    # The lawyer's queue shows it; a lawyer of another field cannot even see it.
    queue = http.get("/api/v1/lawyer/queue", headers=lawyer).json()["items"]
    assert consultation_id in [c["id"] for c in queue]
    other_lawyer = login(http, "lawyer1@demo.counsel.test")  # contract and company
    assert lawyer_email != "lawyer1@demo.counsel.test"
    assert http.post(f"{path}/messages", headers=other_lawyer, json={"body": "x"}).status_code == 404
    assert http.get("/api/v1/lawyer/queue", headers=client).status_code == 403
    supervisor = login(http, "supervisor@demo.counsel.test")
    assert http.post(f"{path}/messages", headers=supervisor, json={"body": "x"}).status_code == 403
    empty = http.post(f"{path}/messages", headers=lawyer, json={"body": "   "})
    assert empty.status_code in (400, 422) and "body" in {e["field"] for e in empty.json()["errors"]}

    # The lawyer replies: the consultation is answered and the workflow's reply clock stops.
    reply = http.post(
        f"{path}/messages",
        headers=lawyer,
        json={
            "body": "您好。用人单位拖欠工资，您可以依据劳动合同法第三十八条解除劳动合同并要求经济补偿，不必签自愿离职。"
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "answered" and reply.json()["answered_at"]
    assert wait_for(lambda: workflow_stage(platform, consultation_id) == "answered", timeout=30)
    assert consultation_id not in [
        c["id"] for c in http.get("/api/v1/lawyer/queue", headers=lawyer).json()["items"]
    ]

    # The client sees the reply and follows up; the lawyer answers the follow-up.
    seen = http.get(path, headers=client).json()
    assert [m["author_role"] for m in seen["messages"]] == ["lawyer"]
    assert "第三十八条" in seen["messages"][0]["body"]
    assert (
        http.post(f"{path}/messages", headers=client, json={"body": "需要准备哪些证据？"}).status_code == 200
    )
    assert (
        http.post(
            f"{path}/messages", headers=lawyer, json={"body": "工资条、银行流水和考勤记录。"}
        ).status_code
        == 200
    )

    # Rating: bad input names the field, then once only.
    bad = http.post(f"{path}/rating", headers=client, json={"rating": 6})
    assert bad.status_code == 422 and "rating" in {e["field"] for e in bad.json()["errors"]}
    rated = http.post(f"{path}/rating", headers=client, json={"rating": 5, "comment": "回复及时专业"})
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    assert http.post(f"{path}/rating", headers=client, json={"rating": 4}).status_code == 409

    # R-CS-3: a complaint is recorded and an agent tracks it to resolution.
    raised = http.post(f"{path}/complaints", headers=client, json={"body": "第一次回复不够具体。"})
    assert raised.status_code == 201, raised.text
    agent = login(http, "agent@demo.counsel.test")
    assert raised.json()["id"] in [
        c["id"] for c in http.get("/api/v1/complaints?status=open", headers=agent).json()["items"]
    ]
    assert (
        http.post(
            f"/api/v1/complaints/{raised.json()['id']}", headers=lawyer, json={"status": "in_progress"}
        ).status_code
        == 403
    )
    unresolved = http.post(
        f"/api/v1/complaints/{raised.json()['id']}", headers=agent, json={"status": "resolved"}
    )
    assert unresolved.status_code in (400, 422) and "resolution" in {
        e["field"] for e in unresolved.json()["errors"]
    }
    resolved = http.post(
        f"/api/v1/complaints/{raised.json()['id']}",
        headers=agent,
        json={"status": "resolved", "resolution": "已请律师补充说明证据清单。"},
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"

    closed = http.post(f"{path}/close", headers=client, json={"reason": "resolved"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert http.post(f"{path}/messages", headers=client, json={"body": "再问一句"}).status_code == 409

    # R-Q-3: every stage is on the timeline, the rating request last once the workflow finishes.
    def finished() -> list[str] | None:
        stages = [s["stage"] for s in http.get(path, headers=client).json()["stages"]]
        return stages if "rating_requested" in stages else None

    stages = wait_for(finished, timeout=30)
    for stage in ("submitted", "received", "classified", "assigned", "answered", "rated", "closed"):
        assert stage in stages, stages
    assert stages.index("classified") < stages.index("assigned") < stages.index("answered")
    # Staff see each step with what happened; the client sees the timeline without internal reasons.
    history = http.get(path, headers=supervisor).json()["history"]
    assigned_step = next(h for h in history if h["stage"] == "assigned")
    assert assigned_step["actor"] == consultation["assigned_lawyer_id"]
    assert "field labour" in assigned_step["detail"]
    assert http.get(path, headers=client).json()["history"] == []


def test_a_short_question_as_clients_type_it_goes_to_its_field_and_the_client_reads_it_in_chinese(
    http: httpx.Client,
) -> None:
    """Issue 23 item 10: a short colloquial question reaches a labour lawyer without an agent, and the
    client's notice names the field by its Chinese label, never by its key."""
    client = login(http, "client@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "社保", "question": "公司不交社保怎么办"},
    )
    assert created.status_code == 201, created.text
    consultation_id = created.json()["id"]

    def classified() -> dict | None:
        body = http.get(f"/api/v1/consultations/{consultation_id}", headers=client).json()
        return body if body["legal_field"] else None

    consultation = wait_for(classified, timeout=60)
    assert (consultation["legal_field"], consultation["needs_manual_classification"]) == ("labour", False)

    def notice() -> dict | None:
        inbox = http.get("/api/v1/notifications", headers=client).json()["items"]
        return next(
            (
                n
                for n in inbox
                if n["subject_id"] == consultation_id and n["kind"] == "consultation.classified"
            ),
            None,
        )

    body = wait_for(notice, timeout=60)["body"]
    assert "“劳动”" in body and "labour" not in body, body


def test_bad_consultation_input_is_a_clear_4xx(http: httpx.Client) -> None:
    client = login(http, "client@demo.counsel.test")
    blank = http.post(
        "/api/v1/consultations", headers=client, json={"kind": "general", "subject": "s", "question": "   "}
    )
    assert blank.status_code in (400, 422) and "question" in {e["field"] for e in blank.json()["errors"]}
    unknown = http.post(
        "/api/v1/consultations", headers=client, json={"kind": "letter", "subject": "s", "question": "q"}
    )
    assert unknown.status_code == 422 and "kind" in {e["field"] for e in unknown.json()["errors"]}
    assert (
        http.post("/api/v1/consultations/nope/messages", headers=client, json={"body": "x"}).status_code
        == 404
    )
    assert (
        http.post("/api/v1/consultations/nope/rating", headers=client, json={"rating": 3}).status_code == 404
    )


def test_an_agent_classifies_an_unclear_question_by_hand_and_watches_the_at_risk_list(
    http: httpx.Client,
) -> None:
    client = login(http, "client@demo.counsel.test")
    agent = login(http, "agent@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "?", "question": "asdf qwer"},
    )
    path = f"/api/v1/consultations/{created.json()['id']}"

    def classified() -> dict | None:
        body = http.get(path, headers=client).json()
        return body if body["legal_field"] else None

    body = wait_for(classified, timeout=60)
    assert (body["legal_field"], body["needs_manual_classification"]) == ("other", True)

    assert http.post(f"{path}/classification", headers=client, json={"legal_field": "ip"}).status_code == 403
    bad = http.post(f"{path}/classification", headers=agent, json={"legal_field": "astrology"})
    assert bad.status_code == 422 and "legal_field" in {e["field"] for e in bad.json()["errors"]}
    done = http.post(f"{path}/classification", headers=agent, json={"legal_field": "ip"})
    assert done.status_code == 200, done.text
    ip_lawyers = {lawyer.user_id for lawyer in demo_lawyers() if "ip" in lawyer.fields}
    assert done.json()["legal_field"] == "ip" and done.json()["needs_manual_classification"] is False
    assert done.json()["assigned_lawyer_id"] in ip_lawyers

    # Only a phone consultation is bridged by phone, and only by an agent.
    lawyer4 = demo_user_id("lawyer4@demo.counsel.test")
    assert http.post(f"{path}/calls", headers=client, json={"lawyer_id": lawyer4}).status_code == 403
    assert http.post(f"{path}/calls", headers=agent, json={"lawyer_id": lawyer4}).status_code == 409

    assert http.get("/api/v1/agent/at-risk", headers=agent).status_code == 200
    assert http.get("/api/v1/agent/at-risk", headers=client).status_code == 403


def test_a_paid_consultation_order_serves_one_consultation_then_completes_or_is_refunded(
    http: httpx.Client,
) -> None:
    """Issue 18's defect, over HTTP: a paid professional consultation order serves exactly one consultation
    of its product's kind (a second, another kind or another category's order is a 409 with its reason); the
    order completes when its consultation closes answered, and is refunded when it closes unanswered."""
    client = login(http, "client@demo.counsel.test")

    def paid_order() -> dict:
        order = http.post("/api/v1/orders", headers=client, json={"product_id": "consult-professional"})
        assert order.status_code == 201, order.text
        paying = http.post(
            f"/api/v1/orders/{order.json()['id']}/payments", headers=client, json={"method": "sandbox"}
        )
        assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202
        return wait_until(order.json()["id"], "in_service")

    def wait_until(order_id: str, status: str) -> dict:
        def reached() -> dict | None:
            current = http.get(f"/api/v1/orders/{order_id}", headers=client).json()
            return current if current["status"] == status else None

        return wait_for(reached, timeout=60)

    def ask(kind: str, order_id: str) -> httpx.Response:
        question = {"kind": kind, "subject": "被拖欠工资", "question": QUESTION, "order_id": order_id}
        return http.post("/api/v1/consultations", headers=client, json=question)

    def refused(response: httpx.Response) -> str:
        assert response.status_code == 409, response.text
        return str(response.json()["type"]).rsplit("/", 1)[-1]

    order = paid_order()
    document = http.post(
        "/api/v1/orders",
        headers=client,
        json={
            "product_id": "doc-contract-drafting",
            "tier": "simple",
            "requirements": {
                "contract_type": "服务 Services",
                "parties": ["甲方", "乙方"],
                "key_terms": "按月付款",
            },
        },
    )
    assert refused(ask("professional", document.json()["id"])) == "order_not_for_consultation"
    assert refused(ask("phone", order["id"])) == "order_kind_mismatch"
    first = ask("professional", order["id"])
    assert first.status_code == 201, first.text
    assert refused(ask("professional", order["id"])) == "order_used"
    consultation_id = first.json()["id"]
    path = f"/api/v1/consultations/{consultation_id}"

    def assigned() -> str | None:
        return http.get(path, headers=client).json()["assigned_lawyer_id"] or None

    lawyer = login(http, EMAIL_OF[wait_for(assigned, timeout=60)])
    reply = http.post(
        f"{path}/messages", headers=lawyer, json={"body": "可以依据劳动合同法第三十八条主张经济补偿。"}
    )
    assert reply.status_code == 200, reply.text
    assert http.post(f"{path}/close", headers=client, json={"reason": "resolved"}).status_code == 200
    completed = wait_until(order["id"], "completed")
    assert completed["fulfilment"] == {"kind": "consultation", "id": consultation_id}
    assert completed["refunded"]["amount"] == 0

    # Closed before anyone answered: the client paid for a service it did not get.
    unused = paid_order()
    withdrawn = ask("professional", unused["id"])
    assert withdrawn.status_code == 201, withdrawn.text
    closing = http.post(f"/api/v1/consultations/{withdrawn.json()['id']}/close", headers=client)
    assert closing.status_code == 200
    refunded = wait_until(unused["id"], "refunded")
    assert refunded["refunded"] == refunded["amount"]
    stages = [
        s["stage"]
        for s in http.get(f"/api/v1/orders/{unused['id']}/timeline", headers=client).json()["stages"]
    ]
    assert stages.index("consultation_started") < stages.index("refunded")
