"""A firm joins and its lawyer qualifies, through the gateway of the whole platform (issue 24 items 1 and 2,
§4.1.1, §4.1.2, §4.2.1): the operator (operator@demo.counsel.test) registers a firm, records its signed
agreement — whose clock, due times visible, warns 30 days ahead — and invites its first admin, who signs in
with the code sent to them, adds a lawyer and submits the credentials the operator verifies; the lawyer is
then listed. A firm whose agreement has ended has its lawyers take no new work: a booking is 409 with the
reason, their availability is empty. And the refusals: 403, 422 naming the field, 409."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from deploy.local.launcher import StackProcess
from services.catalog import qualifications
from tests.support.journeys import (
    CERTIFICATE_SCANS,
    PRIVACY_POLICY_VERSION,
    credit_code,
    latest_code,
    login,
    qualify_lawyer,
    wait_for,
)
from tests.support.platform import platform_temporal
from workflows.qualifications import QualificationDeadlineWorkflow
from workflows.shared import firm_agreement_workflow_id

OPERATOR = "operator@demo.counsel.test"
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(1, 8)]
FIVE_HUNDRED_MILLION_YUAN = 500_000_000 * 100  # in fen


def register_firm(http: httpx.Client, operator: dict[str, str], ends_on: date) -> dict[str, Any]:
    created = http.post(
        "/api/v1/firms",
        headers=operator,
        json={
            "name": "测试入驻律师事务所 Onboarding Law Firm",
            "credit_code": credit_code(),
            "registered_capital": {"amount": FIVE_HUNDRED_MILLION_YUAN, "currency": "CNY"},
            "address": "北京市海淀区中关村大街1号",
            "city": "北京",
            "location": {"lat": 39.98, "lng": 116.31},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    assert created.json()["registered_capital"]["amount"] == FIVE_HUNDRED_MILLION_YUAN  # beyond an int32
    firm_id = created.json()["id"]
    recorded = http.post(
        f"/api/v1/firms/{firm_id}/agreement",
        headers=operator,
        files={"file": ("合作协议.pdf", b"%PDF-1.7 signed", "application/pdf")},
        data={"starts_on": (ends_on - timedelta(days=365)).isoformat(), "ends_on": ends_on.isoformat()},
    )
    assert recorded.status_code == 200, recorded.text
    firm: dict[str, Any] = recorded.json()
    assert firm["status"] == "active" and firm["agreement_ends_on"] == ends_on.isoformat()
    return firm


def invite_admin(http: httpx.Client, operator: dict[str, str], firm_id: str) -> dict[str, str]:
    """The operator invites the firm's admin by e-mail; they sign in with the code sent there."""
    email = f"admin-{uuid.uuid4().hex[:8]}@firm.example.cn"
    invited = http.post(f"/api/v1/firms/{firm_id}/admins", headers=operator, json={"email": email})
    assert invited.status_code == 201, invited.text
    again = http.post(f"/api/v1/firms/{firm_id}/admins", headers=operator, json={"email": email})
    assert again.status_code == 201 and again.json()["user_id"] == invited.json()["user_id"]  # a repeat
    invitation = http.get("/api/v1/dev/outbox", params={"to": email}).json()["items"]
    assert invitation and "律所管理员" in invitation[0]["body"]
    assert http.post("/api/v1/auth/otp", json={"channel": "email", "destination": email}).status_code == 202
    signed_in = http.post(
        "/api/v1/auth/login",
        json={
            "method": "otp",
            "identifier": email,
            "secret": latest_code(http, email),
            "privacy_policy_version": PRIVACY_POLICY_VERSION,
        },
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


def qualified_lawyer(
    http: httpx.Client, admin: dict[str, str], operator: dict[str, str], firm_id: str
) -> str:
    """A lawyer the firm's admin adds and submits, the operator verifies, the admin activates."""
    created = http.post(
        f"/api/v1/firms/{firm_id}/lawyers",
        headers=admin,
        json={
            "name": "入驻律师 Onboarded Lawyer",
            "specialty": "合同纠纷",
            "fields": ["contract"],
            "service_hours": ALL_WEEK,
            "years_of_practice": 4,
        },
    )
    assert created.status_code == 201, created.text
    lawyer_id: str = created.json()["id"]
    refused = http.post(f"/api/v1/lawyers/{lawyer_id}/activate", headers=admin)
    assert refused.status_code == 422  # no certificate number yet
    credentials = f"/api/v1/lawyers/{lawyer_id}/credentials"
    inspection = (date.today() + timedelta(days=180)).isoformat()
    bad = http.post(
        credentials,
        headers=admin,
        files=CERTIFICATE_SCANS,
        data={"certificate_number": "1101201912345", "inspection_due_on": inspection},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "certificate_number", bad.text
    qualify_lawyer(http, lawyer_id, admin, operator, "11012019112345678", inspection)
    activated = http.post(f"/api/v1/lawyers/{lawyer_id}/activate", headers=admin)
    assert activated.status_code == 200 and activated.json()["active"] is True, activated.text
    return lawyer_id


def test_the_platforms_licences_are_public(http: httpx.Client) -> None:
    platform = http.get("/api/v1/platform")
    assert platform.status_code == 200
    assert platform.json()["icp_licence"] and platform.json()["business_licence"]


def test_the_operator_onboards_a_firm_whose_admin_qualifies_a_lawyer(
    http: httpx.Client, platform: StackProcess
) -> None:
    operator = login(http, OPERATOR)
    client = login(http, "client@demo.counsel.test")
    assert http.post("/api/v1/firms", headers=client, json={}).status_code in (403, 422)
    invalid = http.post(
        "/api/v1/firms",
        headers=operator,
        json={
            "name": "x",
            "credit_code": "91350100M000100Y44",
            "registered_capital": {"amount": 1, "currency": "CNY"},
            "address": "x",
        },
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "credit_code"

    # 20 days left: the 30-day warning is due at once; the lapse when the last day ends.
    ends_on = qualifications.today_in_china(datetime.now(UTC)) + timedelta(days=20)
    firm = register_firm(http, operator, ends_on)
    status = asyncio.run(clock_status(platform, firm_agreement_workflow_id(firm["id"], ends_on)))
    assert status.lapses_at == qualifications.day_ends(ends_on)
    assert status.warn_at == qualifications.day_ends(ends_on) - timedelta(days=30)

    admin = invite_admin(http, operator, firm["id"])
    lawyer_id = qualified_lawyer(http, admin, operator, firm["id"])
    listed = http.get("/api/v1/lawyers", params={"firm_id": firm["id"]}).json()["items"]
    assert [item["id"] for item in listed] == [lawyer_id]

    supervisor = login(http, "supervisor@demo.counsel.test")
    history = http.get(f"/api/v1/lawyers/{lawyer_id}/verifications", headers=supervisor)
    assert history.status_code == 200, history.text
    [record] = history.json()["items"]
    assert record["decision"] == "verified" and record["verifier_role"] == "operator"
    assert record["certificate_number"] == "11012019112345678" and record["notes"]
    assert http.get(f"/api/v1/lawyers/{lawyer_id}/verifications", headers=client).status_code == 403
    assert wait_for(
        lambda: asyncio.run(clock_status(platform, firm_agreement_workflow_id(firm["id"], ends_on))).warned
    )


def test_a_firm_whose_agreement_ended_takes_no_new_work(http: httpx.Client) -> None:
    operator = login(http, OPERATOR)
    ended = qualifications.today_in_china(datetime.now(UTC)) - timedelta(days=1)
    firm = register_firm(http, operator, ended)
    assert firm["takes_new_work"] is False
    admin = invite_admin(http, operator, firm["id"])
    lawyer_id = qualified_lawyer(http, admin, operator, firm["id"])
    assert http.get("/api/v1/lawyers", params={"firm_id": firm["id"]}).json()["items"] == []
    page = http.get(f"/api/v1/lawyers/{lawyer_id}").json()
    assert "agreement" in page["unavailable_reason"]

    begin = datetime.now(UTC) + timedelta(days=2)
    slots = http.get(
        f"/api/v1/lawyers/{lawyer_id}/availability",
        params={"from": begin.isoformat(), "to": (begin + timedelta(days=3)).isoformat(), "mode": "on_site"},
    )
    assert slots.status_code == 200 and slots.json()["items"] == [], slots.text
    client = login(http, "client@demo.counsel.test")
    booked = http.post(
        "/api/v1/bookings",
        headers=client,
        json={
            "lawyer_id": lawyer_id,
            "mode": "on_site",
            "address": "北京市朝阳区望京街10号",
            "start": begin.replace(hour=2, minute=0, second=0, microsecond=0).isoformat(),
            "minutes": 60,
        },
    )
    assert booked.status_code == 409, booked.text
    assert "cooperation agreement has expired" in booked.json()["detail"]


async def clock_status(platform: StackProcess, workflow_id: str) -> Any:
    temporal = await platform_temporal(platform)
    handle = temporal.get_workflow_handle(workflow_id)
    return await handle.query(QualificationDeadlineWorkflow.status)
