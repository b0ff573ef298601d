"""The platform's process logs carry no personal data (issue 20, R-PRIV-1): after a client registers by SMS,
proves an e-mail, asks a question and follows it up, and after every journey that ran before this module
(it runs last), no process's log line holds a phone number, an e-mail address or the marker phrases typed.
The lines scanned are the JSON logs every process writes, as `counsel up` relays them into its own log."""

from __future__ import annotations

import re
import secrets
import string

import httpx

from deploy.local.launcher import StackProcess as Platform
from tests.support.journeys import latest_code, register_by_sms, wait_for

# A child's line in `counsel up`'s log: its name, a bar, then its log entry (deploy/local/stack.py).
PROCESS_LINE = re.compile(r"^\s*[\w-]+ \| ")
# An ASCII letter or digit on either side makes it part of a longer token (a hex correlation id such as
# 15337471053f… is not a phone); a Chinese character beside it does not.
PHONE = re.compile(r"(?<![0-9A-Za-z.-])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def process_lines(platform: Platform) -> list[str]:
    return [
        line
        for line in platform.log_path.read_text(errors="replace").splitlines()
        if PROCESS_LINE.match(line)
    ]


def test_no_log_line_holds_a_phone_an_email_or_what_a_client_typed(
    http: httpx.Client, platform: Platform
) -> None:
    marker = "日志标记" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
    phone, account = register_by_sms(http, f"日志{marker}有限公司")
    me = {"Authorization": f"Bearer {account['access_token']}"}
    email = f"log-{secrets.token_hex(4)}@example.com"
    assert http.post("/api/v1/auth/otp", json={"channel": "email", "destination": email}).status_code == 202
    latest_code(http, email)
    created = http.post(
        "/api/v1/consultations",
        headers=me,
        json={
            "kind": "general",
            "subject": f"主题{marker}",
            "question": f"劳动合同到期不续签，{marker}怎么办？",
        },
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/consultations/{created.json()['id']}"
    wait_for(lambda: http.get(path, headers=me).json()["assigned_lawyer_id"], timeout=60)
    followed_up = http.post(f"{path}/messages", headers=me, json={"body": f"补充：{marker}已经三个月"})
    assert followed_up.status_code in (200, 201), followed_up.text

    lines = process_lines(platform)
    assert lines, "no process log lines to scan"
    leaks = [
        line
        for line in lines
        if marker in line or phone in line or email in line or PHONE.search(line) or EMAIL.search(line)
    ]
    assert not leaks, "personal data in the logs:\n" + "\n".join(leaks[:20])
