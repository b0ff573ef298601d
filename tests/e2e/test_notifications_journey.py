"""Notifications through the whole platform (`counsel up`, every process) over HTTP: preferences and consent
(R-PRIV-2), and a stage change reaching the inbox, its live stream, e-mail and SMS exactly once (R-Q-3).
E-mail and SMS land in the dev outbox (COUNSEL_ENV=test, no SMTP host); the digest window is shortened to
one second so that a status message does not wait the production minute."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.support.journeys import login, register_client, wait_for

PREFERENCES = "/api/v1/me/notification-preferences"


def test_preferences_record_consent_and_refuse_bad_input_by_field(http: httpx.Client) -> None:
    headers = login(http, "member@demo.counsel.test")
    defaults = http.get(PREFERENCES, headers=headers).json()
    assert defaults["channels"] == {"in_app": True, "email": True, "sms": True}
    assert defaults["quiet_hours"] == {"start": "22:00", "end": "08:00", "time_zone": "Asia/Shanghai"}
    assert defaults["marketing_consent"] is False and defaults["marketing_consent_at"] is None

    chosen = {
        "channels": {"email": False, "sms": True},
        "quiet_hours": {"start": "21:30", "end": "07:00", "time_zone": "Asia/Shanghai"},
        "marketing_consent": True,
        "phone": "+8613900000001",
    }
    stored = http.put(PREFERENCES, headers=headers, json=chosen)
    assert stored.status_code == 200, stored.text
    body = stored.json()
    assert body["channels"] == {"in_app": True, "email": False, "sms": True}
    assert body["marketing_consent"] is True and body["marketing_consent_at"]
    assert body["phone"] == "13900000001"
    again = http.put(PREFERENCES, headers=headers, json=chosen).json()
    assert again["marketing_consent_at"] == body["marketing_consent_at"]  # consent keeps its first time
    assert http.get(PREFERENCES, headers=headers).json() == again

    for change, field in [
        (
            {"quiet_hours": {"start": "21:30", "end": "07:00", "time_zone": "Moon/Base"}},
            "quiet_hours.time_zone",
        ),
        ({"quiet_hours": {"start": "9pm", "end": "07:00"}}, "quiet_hours.start"),
        ({"phone": "12345"}, "phone"),
        ({"email_address": "nobody"}, "email_address"),
        ({"channels": {"in_app": False, "email": True, "sms": True}}, "channels.in_app"),
    ]:
        refused = http.put(PREFERENCES, headers=headers, json=chosen | change)
        assert refused.status_code == 422, (change, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in refused.json()["errors"]]
    assert http.get(PREFERENCES).status_code == 401


def test_a_stage_change_reaches_the_inbox_its_stream_email_and_sms_once(http: httpx.Client) -> None:
    # A client of its own: the demo client's earlier journeys count against the per-user e-mail/SMS limits.
    # Letters only: an enterprise name may not hold 5 digits in a row (it goes out in invitations).
    unique = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    headers = register_client(http, f"通知测试{unique}有限公司")
    email, phone = f"client-{uuid.uuid4().hex[:6]}@example.com", "13900000002"
    stored = http.put(
        PREFERENCES,
        headers=headers,
        json={
            "channels": {"email": True, "sms": True},
            "language": "en",
            "email_address": email,
            "phone": phone,
        },
    )
    assert stored.status_code == 200, stored.text

    with http.stream("GET", "/api/v1/notifications/stream", headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "event: unread"  # the stream opens with the unread count
        created = http.post(
            "/api/v1/consultations",
            headers=headers,
            json={"kind": "general", "subject": "Probation", "question": "How long may probation last?"},
        )
        assert created.status_code == 201, created.text
        consultation_id = created.json()["id"]
        pushed = None
        deadline = time.monotonic() + 30  # heartbeats keep the stream alive, so bound the wait here
        for line in lines:
            if time.monotonic() > deadline:
                break
            if line.startswith("data: ") and consultation_id in line:
                pushed = json.loads(line.removeprefix("data: "))
                break
    assert pushed is not None
    assert (pushed["kind"], pushed["title"]) == ("consultation.submitted", "Consultation received")

    # The classification and assignment that follow within the digest window may travel in the same
    # message (a digest): either way the submission reaches each channel exactly once (R-PRIV-2).
    def sent() -> list[dict] | None:
        items = http.get("/api/v1/notifications/deliveries", headers=headers).json()["items"]
        by_id = {d["id"]: d for d in items}
        mine = [d for d in items if d["kind"] == "consultation.submitted"]

        def reached(d: dict) -> bool:
            digest = by_id.get(d["digest_id"] or "", {})
            return d["status"] == "sent" or (d["status"] == "digested" and digest.get("status") == "sent")

        return mine if len(mine) == 2 and all(reached(d) for d in mine) else None

    deliveries = wait_for(sent)
    assert sorted(d["channel"] for d in deliveries) == ["email", "sms"]
    mails = http.get("/api/v1/dev/outbox", params={"to": email}).json()["items"]
    texts = http.get("/api/v1/dev/outbox", params={"to": f"+86{phone}"}).json()["items"]
    assert [m["channel"] for m in mails if "Consultation received" in (m["subject"] or "") + m["body"]] == [
        "email"
    ]
    assert [t["channel"] for t in texts if "Consultation received" in (t["subject"] or "") + t["body"]] == [
        "sms"
    ]

    inbox = http.get("/api/v1/notifications", headers=headers).json()["items"]
    kinds = [n["kind"] for n in inbox if n["subject_id"] == consultation_id]
    # One inbox entry per stage change: the submission once, beside the classification and assignment.
    assert kinds.count("consultation.submitted") == 1
    assert len(kinds) == len(set(kinds))
