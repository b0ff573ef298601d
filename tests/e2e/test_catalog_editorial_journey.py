"""Reviewed products, the standard's document services and editorial columns over HTTP against the session's
platform started by `counsel up` (tests/e2e/conftest.py). Issue 23 item 5 (§6.1.3.2, §9.5): a product and
each change to it are public, and sold, only once a reviewer approves that version, and an order records the
version it bought. Issue 23 item 7 (§5.2.3, R-DOC-1): litigation papers, applications, legal opinions and
powers of attorney, each with its Chinese requirement form and the 24/48/72 h, 3/5/7-day tiers, ordered,
paid and delivered through the document-order flow. Issue 24 item 5 (§4.2.2): a client sees the columns of
their enterprise's industry first, and lawyers' risk alerts pass review. Any 5xx fails the test."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.gateway import problem_fields
from tests.support.journeys import login, wait_for

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def document_product(price: int) -> dict[str, Any]:
    tiers = [
        {
            "id": complexity,
            "name": name,
            "price": {"amount": price * factor},
            "complexity": complexity,
            "delivery_hours": hours,
            "revision_days": days,
            "acknowledge_minutes": 30,
        }
        for complexity, name, factor, hours, days in [
            ("simple", "简单", 1, 24, 3),
            ("standard", "标准", 2, 48, 5),
            ("complex", "复杂", 3, 72, 7),
        ]
    ]
    return {
        "category": "document",
        "name": "章程修订 Articles of association amendment",
        "description": "律师修订公司章程。",
        "price": {"amount": price, "currency": "CNY"},
        "tiers": tiers,
        "process": [{"stage": "drafting", "title": "起草"}],
        "requirement_fields": [{"name": "company", "label": "公司名称", "type": "text", "required": True}],
        "parameters": {"legal_field": "company"},
    }


def order(http: httpx.Client, client: dict[str, str], product_id: str, **body: Any) -> httpx.Response:
    return http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": product_id, "tier": "simple"} | body,
    )


def test_a_product_is_sold_only_in_its_approved_version(http: httpx.Client) -> None:
    editor, reviewer = login(http, "editor@demo.counsel.test"), login(http, "reviewer@demo.counsel.test")
    client = login(http, "client@demo.counsel.test")
    product_id = f"doc-articles-{uuid.uuid4().hex[:8]}"
    path = f"/api/v1/products/{product_id}"
    answers = {"requirements": {"company": "演示科技有限公司"}}

    assert http.post("/api/v1/products", headers=client, json=document_product(19900)).status_code == 403
    created = http.post("/api/v1/products", headers=editor, json=document_product(19900) | {"id": product_id})
    assert created.status_code == 201 and created.json()["status"] == "draft", created.text
    # Unapproved: not public, not for sale; reviewing a draft is an invalid transition.
    assert http.get(path).status_code == 404
    unsold = order(http, client, product_id, **answers)
    assert unsold.status_code == 422 and problem_fields(unsold) == ["product_id"], unsold.text
    assert http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"}).status_code == 409
    assert http.post(f"{path}/submit", headers=editor).status_code == 200
    assert http.post(f"{path}/review", headers=editor, json={"decision": "approve"}).status_code == 403
    approved = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve", "comment": "同意"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert http.get(path).json()["version"] == 1

    first = order(http, client, product_id, **answers)
    assert first.status_code == 201, first.text
    assert (first.json()["product_version"], first.json()["amount"]["amount"]) == (1, 19900)

    # A price change is a new draft version: until it is approved, the page and new orders keep version 1.
    change = http.put(path, headers=editor, json=document_product(29900))
    assert change.status_code == 200 and change.json()["version"] == 2, change.text
    assert http.post(f"{path}/submit", headers=editor).status_code == 200
    assert http.put(path, headers=editor, json=document_product(39900)).status_code == 409  # under review
    page = http.get(path).json()
    assert (page["version"], page["price"]["amount"]) == (1, 19900)
    before = order(http, client, product_id, **answers).json()
    assert (before["product_version"], before["amount"]["amount"]) == (1, 19900)
    assert http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"}).status_code == 200
    after = order(http, client, product_id, **answers).json()
    assert (after["product_version"], after["amount"]["amount"]) == (2, 29900)
    assert (http.get(path).json()["version"], http.get(path).json()["price"]["amount"]) == (2, 29900)
    # The earlier order keeps the version and price it was bought at.
    kept = http.get(f"/api/v1/orders/{first.json()['id']}", headers=client).json()
    assert (kept["product_version"], kept["amount"]["amount"]) == (1, 19900)


# The standard's document services (§5.2.3) and a valid answer to each one's form.
DOCUMENT_SERVICES = {
    "doc-litigation-papers": {
        "paper_type": "起诉状",
        "court": "北京市朝阳区人民法院",
        "parties": ["原告 演示科技有限公司", "被告 某供应商"],
        "claims": "判令被告支付货款人民币十万元及逾期付款利息。",
        "facts": "双方签订买卖合同，原告已交货，被告逾期未付款。",
    },
    "doc-application": {
        "application_type": "财产保全申请书",
        "authority": "北京市朝阳区人民法院",
        "applicant": "演示科技有限公司",
        "respondents": ["某供应商"],
        "request": "请求冻结被申请人银行存款人民币十万元。",
        "facts": "被申请人有转移财产的可能，申请人愿提供担保。",
        "amount": 100000,
    },
    "doc-legal-opinion": {
        "purpose": "投融资",
        "matter": "演示科技有限公司 A 轮融资中的股权结构与历史沿革。",
        "questions": ["股权是否存在代持", "历次增资是否合法有效"],
    },
    "doc-power-of-attorney": {
        "grantor": "演示科技有限公司",
        "agents": ["张律师 执业证号 11101201810000001"],
        "matter": "代理买卖合同纠纷一审诉讼。",
        "authority": "特别授权",
        "special_powers": ["代为和解", "代为上诉"],
    },
}


@pytest.mark.parametrize("product_id", sorted(DOCUMENT_SERVICES))
def test_each_document_service_is_ordered_and_delivered(http: httpx.Client, product_id: str) -> None:
    product = http.get(f"/api/v1/products/{product_id}").json()
    assert product["category"] == "document" and product["version"] == 1
    assert [(t["complexity"], t["delivery_hours"], t["revision_days"]) for t in product["tiers"]] == [
        ("simple", 24, 3),
        ("standard", 48, 5),
        ("complex", 72, 7),
    ]
    fields = product["requirement_fields"]
    assert fields and all(CHINESE.search(f["label"]) for f in fields)
    assert all(CHINESE.search(choice) for f in fields for choice in f.get("choices") or [])

    client = login(http, "client@demo.counsel.test")
    answers = DOCUMENT_SERVICES[product_id]
    required = next(f["name"] for f in fields if f["required"])
    missing = order(
        http, client, product_id, requirements={k: v for k, v in answers.items() if k != required}
    )
    assert missing.status_code == 422 and problem_fields(missing) == [f"requirements.{required}"], (
        missing.text
    )
    created = order(http, client, product_id, requirements=answers)
    assert created.status_code == 201, created.text
    bought = created.json()
    assert bought["product_version"] == 1
    paying = http.post(
        f"/api/v1/orders/{bought['id']}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def fulfilled() -> dict | None:
        current = http.get(f"/api/v1/orders/{bought['id']}", headers=client).json()
        return current if current["status"] == "in_service" and current["fulfilment"] else None

    fulfilment = wait_for(fulfilled, timeout=60)["fulfilment"]
    assert fulfilment["kind"] == "document"
    path = f"/api/v1/document-orders/{fulfilment['id']}"
    document = http.get(path, headers=client).json()
    assert document["product_id"] == product_id and document["stage"] == "awaiting_acknowledgement"
    assert document["assigned_lawyer_id"] in LAWYER_BY_ID, document

    agent = login(http, "agent@demo.counsel.test")
    acknowledged = http.post(f"{path}/acknowledge", headers=agent, json={"note": "已收到"})
    assert acknowledged.status_code == 200 and acknowledged.json()["stage"] == "drafting", acknowledged.text
    lawyer = login(http, LAWYER_BY_ID[document["assigned_lawyer_id"]])
    draft = f"{product['name']}（定稿）\n".encode() + uuid.uuid4().bytes
    uploaded = http.post(f"{path}/drafts", headers=lawyer, files={"file": ("文书.docx", draft, DOCX)})
    assert uploaded.status_code == 200 and uploaded.json()["stage"] == "in_review", uploaded.text
    reviewer = login(http, "reviewer@demo.counsel.test")
    delivered = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"})
    assert delivered.status_code == 200 and delivered.json()["stage"] == "delivered", delivered.text
    accepted = http.post(f"{path}/accept", headers=client)
    assert accepted.status_code == 200 and accepted.json()["stage"] == "completed", accepted.text


def test_a_client_sees_their_industrys_columns_first(http: httpx.Client) -> None:
    admin, member = login(http, "client@demo.counsel.test"), login(http, "member@demo.counsel.test")

    def first_columns(headers: dict[str, str] | None = None) -> list[tuple[str, bool]]:
        items = http.get("/api/v1/columns", headers=headers).json()["items"]
        return [(c["id"], c["for_your_industry"]) for c in items[:1]]

    # The demo enterprise is a technology company: its members see its risk alerts first.
    assert http.get("/api/v1/me", headers=member).json()["enterprise"]["industry"] == "technology"
    assert first_columns(member) == [("column-risk-tech", True)]
    assert first_columns() != [("column-risk-tech", True)]  # anonymous: general columns first
    # Only the client_admin changes the industry; a member is refused, a wrong industry is 422.
    change = {"industry": "manufacturing"}
    assert http.patch("/api/v1/enterprise", headers=member, json=change).status_code == 403
    wrong = http.patch("/api/v1/enterprise", headers=admin, json={"industry": "mining"})
    assert wrong.status_code == 422 and problem_fields(wrong) == ["industry"], wrong.text
    try:
        changed = http.patch("/api/v1/enterprise", headers=admin, json=change)
        assert changed.status_code == 200 and changed.json()["industry"] == "manufacturing", changed.text
        assert first_columns(member) == [("column-risk-manufacturing", True)]
        alerts = http.get("/api/v1/articles", params={"column": "column-risk-manufacturing"}).json()["items"]
        assert "article-labour-dispatch-risk" in [a["id"] for a in alerts]
    finally:
        http.patch("/api/v1/enterprise", headers=admin, json={"industry": "technology"})
