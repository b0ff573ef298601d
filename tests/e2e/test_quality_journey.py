"""Quality supervision, the question bank and assessments through the gateway (issue 23 items 2 and 3; R-Q-4,
R-Q-5, §9.3, §9.4; API.md "Service quality and growth").

Tax questions go to lawyer6, the only demo lawyer of the field. After a one-star rating lawyer6's next reply
is sampled for sure (the rate after a low rating is 100 %); a supervisor scores it failed, which counts in
lawyer6's record; the second low rating in a row raises a risk flag. A supervisor keeps the question bank
(lawyers read it without answers); lawyer1 takes an assessment (422 naming the field, 409 on a second
submission). A lawyer profile that has passed no assessment — the reviewer's account, given a tax profile
with service round the clock and never assigned before, which would otherwise come first — is not assigned
a tax question. Wrong roles are 403 throughout; any 5xx fails the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.identity.seed import demo_email, demo_user_id
from tests.support.gateway import problem_fields
from tests.support.journeys import login, qualify_lawyer, wait_for

FIRM = "firm-beijing-zhengda"
TAX_LAWYER = demo_user_id("lawyer6@demo.counsel.test")
TAX_QUESTIONS = (
    "公司企业所得税汇算清缴时，业务招待费超过扣除限额的部分怎么做纳税调整？",
    "增值税专用发票丢失了还能抵扣进项税额吗？需要去税务局办什么手续？",
    "税务局说我们公司少缴了增值税要加收滞纳金，滞纳金是怎么计算的？",
)


def ask_tax_question(http: httpx.Client, client: dict[str, str], question: str) -> dict[str, Any]:
    """A client's tax question, once it is assigned."""
    created = http.post(
        "/api/v1/consultations",
        headers=client,
        json={"kind": "general", "subject": "税务问题", "question": question},
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/consultations/{created.json()['id']}"

    def assigned() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(path, headers=client).json()
        return body if body["assigned_lawyer_id"] else None

    consultation = wait_for(assigned, timeout=60)
    assert consultation["legal_field"] == "tax", consultation
    return consultation


def answered_and_rated_low(http: httpx.Client, client: dict[str, str], consultation: dict[str, Any]) -> None:
    lawyer = login(http, "lawyer6@demo.counsel.test")
    path = f"/api/v1/consultations/{consultation['id']}"
    reply = http.post(f"{path}/messages", headers=lawyer, json={"body": "请提供相关凭证，我们再具体分析。"})
    assert reply.status_code == 200, reply.text
    rated = http.post(f"{path}/rating", headers=client, json={"rating": 1, "comment": "没有回答问题"})
    assert rated.status_code == 200, rated.text


def test_a_reply_after_a_low_rating_is_sampled_scored_failed_and_flagged(http: httpx.Client) -> None:
    client = login(http, "client@demo.counsel.test")
    supervisor = login(http, "supervisor@demo.counsel.test")
    lawyer = login(http, "lawyer6@demo.counsel.test")

    first = ask_tax_question(http, client, TAX_QUESTIONS[0])
    assert first["assigned_lawyer_id"] == TAX_LAWYER
    answered_and_rated_low(http, client, first)
    second = ask_tax_question(http, client, TAX_QUESTIONS[1])
    assert second["assigned_lawyer_id"] == TAX_LAWYER
    answered_and_rated_low(http, client, second)

    samples_path = f"/api/v1/qc/samples?kind=consultation_reply&status=pending&lawyer_id={TAX_LAWYER}"

    def sampled() -> dict[str, Any] | None:
        items = http.get(samples_path, headers=supervisor).json()["items"]
        return next((s for s in items if s["object_id"] == second["id"]), None)

    sample = wait_for(sampled, timeout=30)
    assert sample["reason"].startswith("after a low rating or failed check")
    assert sample["status"] == "pending" and sample["score"] is None
    for caller in (client, lawyer):
        assert http.get("/api/v1/qc/samples", headers=caller).status_code == 403
    bad_kind = http.get("/api/v1/qc/samples?kind=poem", headers=supervisor)
    assert bad_kind.status_code == 422 and "kind" in problem_fields(bad_kind)

    score_path = f"/api/v1/qc/samples/{sample['id']}/score"
    failing = {"score": 2, "passed": False, "findings": "未引用法条，未回答滞纳金问题。"}
    assert http.post(score_path, headers=lawyer, json=failing).status_code == 403
    bad_score = http.post(score_path, headers=supervisor, json={**failing, "score": 6})
    assert bad_score.status_code == 422 and "score" in problem_fields(bad_score)
    scored = http.post(score_path, headers=supervisor, json=failing)
    assert scored.status_code == 200, scored.text
    assert (scored.json()["status"], scored.json()["score"]) == ("failed", 2)
    assert scored.json()["findings"] == failing["findings"]
    assert http.post(score_path, headers=supervisor, json=failing).status_code == 409

    record = http.get(f"/api/v1/qc/records?lawyer_id={TAX_LAWYER}", headers=supervisor).json()["items"][0]
    assert record["failed_samples"] >= 1 and record["samples"] >= 1 and record["completed_items"] >= 2

    def flagged() -> dict[str, Any] | None:
        flags = http.get(f"/api/v1/qc/risk-flags?lawyer_id={TAX_LAWYER}", headers=supervisor).json()["items"]
        return next((f for f in flags if f["kind"] == "two_low_ratings"), None)

    assert wait_for(flagged, timeout=30)["lawyer_id"] == TAX_LAWYER
    assert http.get("/api/v1/qc/risk-flags", headers=lawyer).status_code == 403


def test_supervisors_keep_the_bank_and_a_lawyer_passes_an_assessment(http: httpx.Client) -> None:
    supervisor = login(http, "supervisor@demo.counsel.test")
    lawyer = login(http, "lawyer1@demo.counsel.test")
    client = login(http, "client@demo.counsel.test")

    bank = http.get("/api/v1/question-bank?field=tax&limit=100", headers=supervisor).json()["items"]
    assert len(bank) >= 10 and all(q["answer"] is not None and q["explanation"] for q in bank)
    answers = {q["id"]: q["answer"] for q in bank}
    read_by_lawyer = http.get("/api/v1/question-bank?field=tax&limit=100", headers=lawyer).json()["items"]
    assert {q["id"] for q in read_by_lawyer} == set(answers)
    assert all(q["answer"] is None and q["explanation"] is None for q in read_by_lawyer)
    assert http.get("/api/v1/question-bank", headers=client).status_code == 403

    question = {
        "field": "tax",
        "difficulty": 2,
        "stem": "小规模纳税人增值税的征收率一般为多少？",
        "choices": ["3%", "6%", "9%", "13%"],
        "answer": 0,
        "explanation": "《增值税暂行条例》第12条。",
    }
    assert http.post("/api/v1/question-bank", headers=lawyer, json=question).status_code == 403
    bad_field = http.post(
        "/api/v1/question-bank", headers=supervisor, json={**question, "field": "astrology"}
    )
    assert bad_field.status_code == 422 and "field" in problem_fields(bad_field)
    bad_answer = http.post("/api/v1/question-bank", headers=supervisor, json={**question, "answer": 4})
    assert bad_answer.status_code == 422 and "answer" in problem_fields(bad_answer)
    created = http.post("/api/v1/question-bank", headers=supervisor, json=question)
    assert created.status_code == 201, created.text
    answers[created.json()["id"]] = 0

    assert http.post("/api/v1/assessments", headers=client, json={"field": "tax"}).status_code == 403
    assert http.post("/api/v1/assessments", headers=supervisor, json={"field": "tax"}).status_code == 403
    unknown = http.post("/api/v1/assessments", headers=lawyer, json={"field": "astrology"})
    assert unknown.status_code == 422 and "field" in problem_fields(unknown)

    # A first attempt with every answer wrong fails; a second, all right, passes; a third submission is 409.
    failed = http.post("/api/v1/assessments", headers=lawyer, json={"field": "tax"})
    assert failed.status_code == 201, failed.text
    drawn = failed.json()
    assert len(drawn["questions"]) == 5 and all(
        set(q) == {"id", "stem", "choices"} for q in drawn["questions"]
    )
    due = datetime.fromisoformat(drawn["due_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < due - datetime.now(UTC) <= timedelta(minutes=30)
    wrong = [(answers[q["id"]] + 1) % len(q["choices"]) for q in drawn["questions"]]
    answers_path = f"/api/v1/assessments/{drawn['id']}/answers"
    short = http.post(answers_path, headers=lawyer, json={"answers": wrong[:2]})
    assert short.status_code == 422 and "answers" in problem_fields(short)
    assert http.post(answers_path, headers=lawyer, json={"answers": wrong}).json() == {
        "score": 0,
        "passed": False,
    }

    passed = http.post("/api/v1/assessments", headers=lawyer, json={"field": "tax"}).json()
    right = [answers[q["id"]] for q in passed["questions"]]
    passed_path = f"/api/v1/assessments/{passed['id']}/answers"
    other_lawyer = login(http, "lawyer2@demo.counsel.test")
    assert http.post(passed_path, headers=other_lawyer, json={"answers": right}).status_code == 404
    assert http.post(passed_path, headers=lawyer, json={"answers": right}).json() == {
        "score": 100,
        "passed": True,
    }
    assert http.post(passed_path, headers=lawyer, json={"answers": right}).status_code == 409

    lawyer1 = demo_user_id("lawyer1@demo.counsel.test")
    results = http.get(f"/api/v1/assessments?lawyer_id={lawyer1}&field=tax", headers=supervisor).json()[
        "items"
    ]
    by_id = {r["id"]: r for r in results}
    assert (by_id[drawn["id"]]["status"], by_id[drawn["id"]]["score"]) == ("failed", 0)
    assert (by_id[passed["id"]]["status"], by_id[passed["id"]]["passed"]) == ("passed", True)
    own = http.get(f"/api/v1/assessments?lawyer_id={TAX_LAWYER}", headers=lawyer).json()["items"]
    assert {r["lawyer_id"] for r in own} == {lawyer1}  # a lawyer sees their own results only


def test_a_lawyer_who_has_not_passed_the_field_is_not_assigned(http: httpx.Client) -> None:
    firm_admin = login(http, demo_email("firm_admin"))
    client = login(http, "client@demo.counsel.test")
    reviewer_account = demo_user_id(demo_email("reviewer"))
    profile = {
        "name": "未考核律师 Unassessed Lawyer",
        "fields": ["tax"],
        "service_hours": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(1, 8)],
        "years_of_practice": 6,
        "licence_number": "11012015000000066",
        "user_id": reviewer_account,
        "online": True,
    }
    created = http.post(f"/api/v1/firms/{FIRM}/lawyers", headers=firm_admin, json=profile)
    assert created.status_code == 201, created.text
    lawyer_id = created.json()["id"]
    inspection = (datetime.now(UTC) + timedelta(days=180)).date().isoformat()
    qualify_lawyer(http, lawyer_id, firm_admin, firm_admin, profile["licence_number"], inspection)
    assert http.post(f"/api/v1/lawyers/{lawyer_id}/activate", headers=firm_admin).status_code == 200
    try:
        # Never assigned, on duty all week and with nothing open, the new profile would come first; it has
        # not passed the tax assessment, so tax work goes to lawyer6.
        consultation = ask_tax_question(http, client, TAX_QUESTIONS[2])
        assert consultation["assigned_lawyer_id"] == TAX_LAWYER
    finally:
        assert http.post(f"/api/v1/lawyers/{lawyer_id}/deactivate", headers=firm_admin).status_code == 200
