"""A major matter through the gateway (§5.3.1, R-CON-4, API.md "Service quality and growth"): a client's labour
question is escalated by an agent (the client may not), a team of the field's two labour lawyers is formed
with the assigned lawyer in it and a meeting with the lead is held for the client in booking; escalating
again returns the same matter. The team writes a conclusion (a lawyer outside the team may not; signing
before it is written, or rewriting it once signed, is 409), every member signs, and only then does the client
read it on the consultation, whose timeline shows both steps. A field with a single lawyer cannot form a
team: 409 with the reason. Any 5xx fails the test."""

from __future__ import annotations

import httpx

from services.catalog.seed import demo_lawyers
from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.journeys import login, register_client, wait_for

EMAIL_OF = {demo_user_id(email): email for email in LAWYER_EMAILS}
LABOUR_LAWYERS = {lawyer.user_id for lawyer in demo_lawyers() if "labour" in lawyer.fields}
QUESTION = "公司准备整体裁员两百人，涉及多名孕期女职工和工伤员工，需要制定合规的裁员方案并评估赔偿总额。"


def assigned_consultation(http: httpx.Client, client: dict[str, str], subject: str, question: str) -> str:
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": subject, "question": question},
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/consultations/{created.json()['id']}"

    def assigned() -> dict | None:
        body = http.get(path, headers=client).json()
        return body if body["assigned_lawyer_id"] else None

    wait_for(assigned, timeout=60)
    return str(created.json()["id"])


def test_a_major_matter_forms_a_team_holds_a_meeting_and_shows_the_signed_conclusion(
    http: httpx.Client,
) -> None:
    client = register_client(http, "重大事项端到端有限公司")
    agent = login(http, "agent@demo.counsel.test")
    consultation_id = assigned_consultation(http, client, "整体裁员方案", QUESTION)
    path = f"/api/v1/consultations/{consultation_id}"
    consultation = http.get(path, headers=client).json()
    assert consultation["legal_field"] == "labour" and consultation["major"] is None

    assert http.post(f"{path}/major", headers=client, json={"reason": "x"}).status_code == 403
    escalated = http.post(f"{path}/major", headers=agent, json={"reason": "涉及两百名员工的集体裁员"})
    assert escalated.status_code == 200, escalated.text
    matter = escalated.json()
    assert matter["major"] is True and matter["status"] == "team_formed"
    team = matter["team"]
    assert len(team) >= 2 and set(team) <= LABOUR_LAWYERS
    assert consultation["assigned_lawyer_id"] in team
    assert matter["booking_id"]
    again = http.post(f"{path}/major", headers=agent, json={"reason": "再次升级"})
    assert again.status_code == 200 and again.json()["team"] == team
    assert again.json()["booking_id"] == matter["booking_id"]

    # The meeting is the client's held booking, confirmed by paying it like any other.
    meeting = http.get(f"/api/v1/bookings/{matter['booking_id']}", headers=client)
    assert meeting.status_code == 200, meeting.text
    assert meeting.json()["status"] == "held" and meeting.json()["mode"] == "at_firm"

    lawyers = [login(http, EMAIL_OF[member]) for member in team]
    outsider = login(http, "lawyer4@demo.counsel.test")
    # The team reads the consultation as its assigned lawyer does; a lawyer outside it does not.
    assert all(http.get(path, headers=lawyer).status_code == 200 for lawyer in lawyers)
    assert http.get(path, headers=outsider).status_code == 404
    conclusion = "建议分批实施裁员；孕期及工伤职工依法不得解除，另行协商安置。"
    assert http.post(f"{path}/conclusion/sign", headers=lawyers[0]).status_code == 409
    assert http.post(f"{path}/conclusion", headers=outsider, json={"body": "x"}).status_code == 403
    written = http.post(f"{path}/conclusion", headers=lawyers[0], json={"body": conclusion})
    assert written.status_code == 200, written.text
    assert written.json()["status"] == "conclusion_drafted" and written.json()["conclusion"] == conclusion

    for n, lawyer in enumerate(lawyers[:-1]):
        signed = http.post(f"{path}/conclusion/sign", headers=lawyer)
        assert signed.status_code == 200 and signed.json()["signed_by"] == team[: n + 1]
        # The client sees the team and the meeting, not the conclusion until everyone signed.
        seen = http.get(path, headers=client).json()["major"]
        assert seen["team"] == team and seen["booking_id"] == matter["booking_id"]
        assert seen["conclusion"] is None and seen["reason"] is None
    assert http.post(f"{path}/conclusion", headers=lawyers[0], json={"body": "改写"}).status_code == 409
    last = http.post(f"{path}/conclusion/sign", headers=lawyers[-1])
    assert last.status_code == 200 and last.json()["status"] == "concluded"
    assert http.post(f"{path}/conclusion/sign", headers=lawyers[-1]).status_code == 200  # signing twice

    shown = http.get(path, headers=client).json()
    assert shown["major"]["conclusion"] == conclusion and shown["major"]["concluded_at"]
    stages = [s["stage"] for s in shown["stages"]]
    assert stages.index("major_escalated") < stages.index("major_concluded")

    def told() -> list[str] | None:
        titles = [n["title"] for n in http.get("/api/v1/notifications", headers=client).json()["items"]]
        return titles if "重大事项结论已出具" in titles else None

    assert "您的咨询已转为重大事项" in wait_for(told, timeout=60)


def test_a_field_with_one_lawyer_cannot_form_a_team(http: httpx.Client) -> None:
    client = register_client(http, "重大事项税务端到端有限公司")
    agent = login(http, "agent@demo.counsel.test")
    consultation_id = assigned_consultation(
        http, client, "跨境税务筹划", "我们公司计划把利润汇回境外母公司，预提所得税和税收协定待遇怎么适用？"
    )
    path = f"/api/v1/consultations/{consultation_id}"
    tax_lawyers = [lawyer for lawyer in demo_lawyers() if "tax" in lawyer.fields]
    assert len(tax_lawyers) == 1
    moved = http.post(f"{path}/classification", headers=agent, json={"legal_field": "tax"})
    assert moved.status_code == 200, moved.text
    refused = http.post(f"{path}/major", headers=agent, json={"reason": "跨境重大税务事项"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("team_unavailable") and "at least 2" in refused.json()["detail"]
    assert http.get(path, headers=client).json()["major"] is None
