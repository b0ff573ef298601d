"""A document order's whole path through the gateway against the platform of `counsel up` (real PostgreSQL,
NATS JetStream with its Object Store, Temporal and the worker): create (dev route) → acknowledge → upload →
reject → upload → approve → download with digest check → revision → re-review → accept. Bad input is a
clear 4xx that changes nothing. R-DOC-2..6, §9.5; any 5xx fails the test."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from datetime import datetime, timedelta

import httpx
from temporalio.service import RPCError, RPCStatusCode

from deploy.local.launcher import StackProcess
from services.catalog.seed import demo_lawyers
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.e2e.test_onboarding_journey import OPERATOR, invite_admin
from tests.support.gateway import problem_fields
from tests.support.journeys import login, wait_for
from tests.support.platform import platform_temporal
from workflows.shared import DocumentOrderOutcome, DocumentOrderStatus, document_order_workflow_id

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_document_order_from_creation_to_acceptance(http: httpx.Client, platform: StackProcess) -> None:
    signed_in = http.post(
        "/api/v1/auth/login",
        json={"method": "password", "identifier": "client@demo.counsel.test", "secret": "Demo-Passw0rd!"},
    ).json()
    client = {"Authorization": f"Bearer {signed_in['access_token']}"}
    agent = login(http, "agent@demo.counsel.test")
    reviewer = login(http, "reviewer@demo.counsel.test")

    # Creating is staff-only and idempotent by the paid order's id.
    body = {
        "order_id": f"order-{os.urandom(6).hex()}",
        "tenant_id": signed_in["user"]["tenant_id"],
        "client_id": signed_in["user"]["id"],
        "product_id": "doc-contract-drafting",
        "complexity": "simple",
        "requirements": {
            "contract_type": "买卖 Sale",
            "parties": "甲方 演示科技有限公司；乙方 某供应商",
            "key_terms": "货物、价款、交付、违约责任",
        },
    }
    assert http.post("/api/v1/document-orders", headers=client, json=body).status_code == 403
    # Requirements are checked against the product's form (R-DOC-2: "fills in the requirements").
    incomplete = http.post(
        "/api/v1/document-orders",
        headers=agent,
        json=body | {"requirements": {"contract_type": "买卖 Sale", "parties": "甲方；乙方"}},
    )
    assert incomplete.status_code == 422 and set(problem_fields(incomplete)) == {"requirements.key_terms"}
    created = http.post("/api/v1/document-orders", headers=agent, json=body)
    assert created.status_code == 201, created.text
    order = created.json()
    assert http.post("/api/v1/document-orders", headers=agent, json=body).json()["id"] == order["id"]
    path = f"/api/v1/document-orders/{order['id']}"
    assert order["stage"] == "awaiting_acknowledgement" and order["complexity"] == "simple"
    assert when(order["acknowledge_due_at"]) - when(order["created_at"]) <= timedelta(minutes=30)  # R-DOC-2
    assert order["assigned_lawyer_id"] in LAWYER_BY_ID
    # R-DOC-3: matched by the product's legal field, as consultation matches its lawyers.
    assert order["assignment_reason"].startswith("field contract;"), order["assignment_reason"]
    assert (order["legal_field"], order["legal_field_source"]) == ("contract", "product")
    lawyer = login(http, LAWYER_BY_ID[order["assigned_lawyer_id"]])
    other_lawyer = login(http, next(e for i, e in LAWYER_BY_ID.items() if i != order["assigned_lawyer_id"]))

    # The agents' acknowledgement queue lists it; a client cannot acknowledge.
    queue = http.get("/api/v1/document-orders", headers=agent, params={"stage": "awaiting_acknowledgement"})
    assert order["id"] in {o["id"] for o in queue.json()["items"]}
    assert http.post(f"{path}/acknowledge", headers=client, json={}).status_code == 403
    acknowledged = http.post(f"{path}/acknowledge", headers=agent, json={"note": "已收到，律师起草中"})
    assert acknowledged.status_code == 200, acknowledged.text
    order = acknowledged.json()
    assert order["stage"] == "drafting"
    assert when(order["draft_due_at"]) - datetime.now(when(order["created_at"]).tzinfo) <= timedelta(hours=24)
    assert http.post(f"{path}/acknowledge", headers=agent, json={}).status_code == 409

    # Bad uploads are clear 4xx and change nothing.
    draft = "采购合同（草稿）\n第一条 ……\n".encode() + os.urandom(64)
    not_assigned = http.post(f"{path}/drafts", headers=other_lawyer, files={"file": ("c.docx", draft, DOCX)})
    assert not_assigned.status_code in (403, 404)
    wrong_type = http.post(
        f"{path}/drafts", headers=lawyer, files={"file": ("c.exe", b"MZ\x90\x00", "application/x-msdownload")}
    )
    assert wrong_type.status_code == 422 and set(problem_fields(wrong_type)) == {"file"}
    oversized = http.post(
        f"{path}/drafts",
        headers=lawyer,
        files={"file": ("big.pdf", b"0" * (20 * 1024 * 1024 + 1), "application/pdf")},
    )
    assert oversized.status_code == 422 and set(problem_fields(oversized)) == {"file"}
    no_file = http.post(f"{path}/drafts", headers=lawyer, data={"note": "forgot the file"})
    assert no_file.status_code == 422 and "file" in problem_fields(no_file)
    unchanged = http.get(path, headers=agent).json()
    assert unchanged["stage"] == "drafting" and unchanged["versions"] == []

    # The lawyer's drafting queue, the upload, and the review gate (R-DOC-4, §9.5).
    mine = http.get("/api/v1/document-orders", headers=lawyer, params={"stage": "drafting"}).json()["items"]
    assert order["id"] in {o["id"] for o in mine}
    uploaded = http.post(
        f"{path}/drafts", headers=lawyer, files={"file": ("合同.docx", draft, DOCX)}, data={"note": "初稿"}
    )
    assert uploaded.status_code == 200, uploaded.text
    order = uploaded.json()
    assert order["stage"] == "in_review"
    (v1,) = order["versions"]
    assert (
        v1["number"] == 1
        and v1["sha256"] == hashlib.sha256(draft).hexdigest()
        and v1["size_bytes"] == len(draft)
    )
    assert v1["status"] == "in_review" and v1["media_type"] == DOCX
    assert http.get(path, headers=client).json()["versions"] == []  # clients see approved versions only
    assert http.get(f"{path}/versions/1/file", headers=client).status_code == 404
    assert http.post(f"{path}/review", headers=lawyer, json={"decision": "approve"}).status_code == 403
    no_reason = http.post(f"{path}/review", headers=reviewer, json={"decision": "reject"})
    assert no_reason.status_code == 422 and set(problem_fields(no_reason)) == {"comment"}
    rejected = http.post(
        f"{path}/review", headers=reviewer, json={"decision": "reject", "comment": "第三条需补充违约责任"}
    )
    assert rejected.status_code == 200 and rejected.json()["stage"] == "drafting"
    assert rejected.json()["draft_due_at"] == order["draft_due_at"] or order["draft_due_at"] is None

    # Larger than one object-store chunk (128 KiB): the download streams it in pieces (R-DOC-6).
    final = "采购合同（定稿）\n".encode() + os.urandom(300 * 1024)
    order = http.post(f"{path}/drafts", headers=lawyer, files={"file": ("合同.docx", final, DOCX)}).json()
    assert order["stage"] == "in_review" and [v["status"] for v in order["versions"]] == [
        "rejected",
        "in_review",
    ]
    approved = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve", "comment": "同意"})
    assert approved.status_code == 200, approved.text
    order = approved.json()
    assert order["stage"] == "delivered"
    window = when(order["revision_window_ends_at"]) - datetime.now(when(order["created_at"]).tzinfo)
    assert timedelta(days=2, hours=23) < window <= timedelta(days=3)  # R-DOC-5: simple → 3 days
    v2 = order["versions"][1]
    assert v2["status"] == "approved" and v2["reviewer_licence_number"]

    # The client sees and downloads exactly the approved bytes (R-DOC-6).
    seen = http.get(path, headers=client).json()
    assert [v["number"] for v in seen["versions"]] == [2]
    with http.stream("GET", f"{path}/versions/2/file", headers=client) as streamed:
        assert streamed.status_code == 200
        pieces = list(streamed.iter_raw())
    assert b"".join(pieces) == final and int(streamed.headers["content-length"]) == len(final)
    download = http.get(f"{path}/versions/2/file", headers=client)
    assert download.status_code == 200
    assert (
        hashlib.sha256(download.content).hexdigest()
        == seen["versions"][0]["sha256"]
        == hashlib.sha256(final).hexdigest()
    )
    assert (
        download.headers["repr-digest"]
        == f"sha-256=:{base64.b64encode(hashlib.sha256(final).digest()).decode()}:"
    )

    # A revision within the window (the workflow's update accepts it), then review again (R-DOC-5).
    assert http.post(f"{path}/revisions", headers=lawyer, json={"instructions": "x"}).status_code == 403
    assert http.post(f"{path}/revisions", headers=client, json={"instructions": ""}).status_code == 422
    revised = http.post(f"{path}/revisions", headers=client, json={"instructions": "付款期限改为30天"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["stage"] == "revising" and revised.json()["revisions_requested"] == 1
    third = "采购合同（修订）\n".encode() + os.urandom(32)
    assert (
        http.post(f"{path}/drafts", headers=lawyer, files={"file": ("合同.docx", third, DOCX)}).json()[
            "stage"
        ]
        == "in_review"
    )
    assert http.get(path, headers=client).json()["versions"][-1]["number"] == 2  # not before review
    redelivered = http.post(f"{path}/review", headers=reviewer, json={"decision": "approve"}).json()
    assert redelivered["stage"] == "delivered"
    assert redelivered["revision_window_ends_at"] == order["revision_window_ends_at"]  # never restarts

    # Acceptance ends it early; afterwards revisions are refused.
    accepted = http.post(f"{path}/accept", headers=client)
    assert accepted.status_code == 200 and accepted.json()["stage"] == "completed"
    assert accepted.json()["completed_reason"] == "accepted"
    late = http.post(f"{path}/revisions", headers=client, json={"instructions": "再改一次"})
    assert late.status_code == 409
    stages = [s["stage"] for s in http.get(path, headers=client).json()["stages"]]
    assert stages[0] == "awaiting_acknowledgement" and stages[-1] == "completed"
    assert {"drafting", "in_review", "delivered", "revising"} <= set(stages)

    # The workflow saw every fact through the service's events: it finished on the acceptance, with the
    # revision counted and no breach.
    outcome = asyncio.run(workflow_outcome(platform, order["id"]))
    assert outcome.completed_reason == "accepted"
    assert outcome.revisions_requested == 1 and outcome.breaches == []


async def workflow_outcome(platform: StackProcess, document_order_id: str) -> DocumentOrderOutcome:
    client = await platform_temporal(platform)
    handle = client.get_workflow_handle(
        document_order_workflow_id(document_order_id), result_type=DocumentOrderOutcome
    )
    return await asyncio.wait_for(handle.result(), 60)


def test_a_lawyer_letter_goes_to_a_lawyer_of_the_field_its_requirements_describe(http: httpx.Client) -> None:
    """R-DOC-3 "matched by legal field, as in consultation": the lawyer-letter product names no field, so the
    requirements' text is classified (a labour dispute) and a demo lawyer practising labour law is assigned."""
    agent = login(http, "agent@demo.counsel.test")
    requirements = {
        "contract_type": "劳动 Employment",
        "parties": "甲方 某公司；乙方 员工张三",
        "key_terms": "公司拖欠三个月工资并违法解除劳动合同，要求支付工资和经济补偿金",
    }
    order = paid_order(http, agent, "doc-lawyer-letter", requirements)
    assert order["assignment_reason"].startswith("field labour;"), order["assignment_reason"]
    assert order["assignment_reason"].endswith("(field from classified)")
    assert (order["legal_field"], order["legal_field_source"]) == ("labour", "classified")
    labour_lawyers = {lawyer.user_id for lawyer in demo_lawyers() if "labour" in lawyer.fields}
    assert order["assigned_lawyer_id"] in labour_lawyers


def test_an_order_nobody_has_passed_the_field_of_waits_for_an_agent(
    http: httpx.Client, platform: StackProcess
) -> None:
    """R-DOC-3, §9.4: while the one lawyer who passed tax (lawyer6, of a firm whose new admin deactivates
    them) takes no work, a paid tax-compliance order gets nobody. The agents' queue shows it with the reason,
    its acknowledgement clock runs, an agent cannot acknowledge it before assigning it, and assigns it to a
    contract lawyer only with a reason, recorded as an override, which the order's workflow hears of; then it
    goes on as any order."""
    operator = login(http, OPERATOR)
    agent = login(http, "agent@demo.counsel.test")
    (tax_lawyer,) = (lawyer for lawyer in demo_lawyers() if "tax" in lawyer.fields)
    contract_lawyer = next(lawyer for lawyer in demo_lawyers() if "contract" in lawyer.fields)
    firm_admin = invite_admin(http, operator, tax_lawyer.firm_id)

    def paid_tax_order() -> dict:
        return paid_order(http, agent, "doc-tax-compliance", TAX_REQUIREMENTS)

    deactivated = http.post(f"/api/v1/lawyers/{tax_lawyer.id}/deactivate", headers=firm_admin)
    assert deactivated.status_code == 200, deactivated.text
    try:
        # The documents roster hears of the deactivation through `lawyer.changed`.
        def unassigned() -> dict | None:
            order = paid_tax_order()
            return order if order["assigned_lawyer_id"] is None else None

        order = wait_for(unassigned, timeout=30)
        path = f"/api/v1/document-orders/{order['id']}"
        assert order["stage"] == "awaiting_acknowledgement" and order["acknowledge_due_at"]
        reason = "no eligible lawyer has passed tax: left to an agent (field from product)"
        assert order["assignment_reason"] == reason
        queue = http.get(
            "/api/v1/document-orders", headers=agent, params={"stage": "awaiting_acknowledgement"}
        )
        queued = next(o for o in queue.json()["items"] if o["id"] == order["id"])
        assert (queued["assigned_lawyer_id"], queued["assignment_reason"]) == (None, reason)
        # The field as a key, for the portal's assignment page (which shows its label).
        assert (queued["legal_field"], queued["legal_field_source"]) == ("tax", "product")
        # The acknowledgement clock runs meanwhile (the workflow starts from `docorder.created`).
        status = wait_for(lambda: asyncio.run(workflow_status(platform, order["id"])), timeout=30)
        assert (status.stage, status.assigned_lawyer_id) == ("awaiting_acknowledgement", "")

        refused = http.post(f"{path}/acknowledge", headers=agent, json={})
        assert refused.status_code == 409 and refused.json()["type"].endswith("/no_lawyer_assigned"), (
            refused.text
        )
        lawyer = login(http, LAWYER_BY_ID[contract_lawyer.user_id])
        assignment = {"lawyer_id": contract_lawyer.user_id}
        assert http.post(f"{path}/assignment", headers=lawyer, json=assignment).status_code == 403
        unexplained = http.post(f"{path}/assignment", headers=agent, json=assignment)
        assert unexplained.status_code == 422 and problem_fields(unexplained) == ["override_reason"]
        why = "客户长期合作律师，涉税条款另请税务律师复核"
        assigned = http.post(f"{path}/assignment", headers=agent, json=assignment | {"override_reason": why})
        assert assigned.status_code == 200, assigned.text
        order = assigned.json()
        assert order["assigned_lawyer_id"] == contract_lawyer.user_id
        assert order["assignment_reason"] == (
            f"override by an agent: {contract_lawyer.user_id} has not passed tax; {why}"
        )
        again = http.post(f"{path}/assignment", headers=agent, json=assignment | {"override_reason": why})
        assert again.status_code == 409, again.text

        # The workflow hears of the assignment (`docorder.assigned`), so its status names the lawyer.
        def workflow_names_the_lawyer() -> bool:
            status = asyncio.run(workflow_status(platform, order["id"]))
            return status is not None and status.assigned_lawyer_id == contract_lawyer.user_id

        wait_for(workflow_names_the_lawyer, timeout=30)

        acknowledged = http.post(f"{path}/acknowledge", headers=agent, json={"note": "已安排律师"})
        assert acknowledged.status_code == 200 and acknowledged.json()["stage"] == "drafting"
        mine = http.get("/api/v1/document-orders", headers=lawyer, params={"stage": "drafting"}).json()
        assert order["id"] in {o["id"] for o in mine["items"]}
    finally:
        activated = http.post(f"/api/v1/lawyers/{tax_lawyer.id}/activate", headers=firm_admin)
        assert activated.status_code == 200, activated.text
        # Back on the roster before the next journey asks for a tax lawyer.
        wait_for(lambda: paid_tax_order()["assigned_lawyer_id"] == tax_lawyer.user_id, timeout=30)


def paid_order(http: httpx.Client, agent: dict[str, str], product_id: str, requirements: dict) -> dict:
    """A simple-tier document order of the demo client's, as an agent creates one by hand (dev route)."""
    signed_in = http.post(
        "/api/v1/auth/login",
        json={"method": "password", "identifier": "client@demo.counsel.test", "secret": "Demo-Passw0rd!"},
    ).json()
    created = http.post(
        "/api/v1/document-orders",
        headers=agent,
        json={
            "order_id": f"order-{os.urandom(6).hex()}",
            "tenant_id": signed_in["user"]["tenant_id"],
            "client_id": signed_in["user"]["id"],
            "product_id": product_id,
            "complexity": "simple",
            "requirements": requirements,
        },
    )
    assert created.status_code == 201, created.text
    order: dict = created.json()
    return order


TAX_REQUIREMENTS = {
    "contract_type": "其他 Other",
    "parties": "甲方 演示科技有限公司",
    "key_terms": "年度税务合规检查",
}


async def workflow_status(platform: StackProcess, document_order_id: str) -> DocumentOrderStatus | None:
    """The status of the order's workflow; None while it has not started."""
    client = await platform_temporal(platform)
    handle = client.get_workflow_handle(document_order_workflow_id(document_order_id))
    try:
        status: DocumentOrderStatus = await handle.query("status", result_type=DocumentOrderStatus)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return status
