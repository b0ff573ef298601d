"""Registration and every login method over HTTP against the whole platform started by `counsel up`
(identity delivering codes through the notification service as separate processes): R-ACC-1, R-ACC-2,
refresh rotation and reuse, logout, membership cards issued by the demo firm_admin, the audit export."""

from __future__ import annotations

import secrets

import httpx

from tests.support.journeys import CLIENT_PASSWORD, PASSWORD, latest_code, login, register_by_sms


def test_register_by_sms_code_then_every_login_method_reaches_one_account(http: httpx.Client) -> None:
    phone, account = register_by_sms(http, "端到端科技有限公司")
    user_id = account["user"]["id"]
    assert account["user"]["roles"] == ["client_admin"]

    # Password and SMS code.
    by_password = http.post(
        "/api/v1/auth/login",
        json={"method": "password", "identifier": phone, "secret": CLIENT_PASSWORD},
    )
    assert by_password.status_code == 200 and by_password.json()["user"]["id"] == user_id
    assert http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone}).status_code == 202
    by_code = http.post(
        "/api/v1/auth/login", json={"method": "otp", "identifier": phone, "secret": latest_code(http, phone)}
    )
    assert by_code.status_code == 200 and by_code.json()["user"]["id"] == user_id

    # A membership card issued by the firm administrator, bound to nobody, linked by its holder (who
    # replaces the PIN it was handed with), then used to log in; the issued PIN opens nothing.
    card_number = f"E2E{secrets.randbelow(10**8):08d}"
    issued = http.post(
        "/api/v1/membership-cards",
        json={"card_number": card_number, "pin": "8642"},
        headers=login(http, "firm_admin@demo.counsel.test"),
    )
    assert issued.status_code == 201 and issued.json()["user_id"] is None, issued.text
    me = {"Authorization": f"Bearer {account['access_token']}"}
    linked = http.post(
        "/api/v1/me/membership-card",
        json={"card_number": card_number, "pin": "8642", "new_pin": "135790"},
        headers=me,
    )
    assert linked.status_code == 200, linked.text
    card_login = {"method": "membership_card", "identifier": card_number}
    assert http.post("/api/v1/auth/login", json={**card_login, "secret": "8642"}).status_code == 401
    by_card = http.post("/api/v1/auth/login", json={**card_login, "secret": "135790"})
    assert by_card.status_code == 200 and by_card.json()["user"]["id"] == user_id

    # Rotation, reuse detection, logout.
    rotated = http.post("/api/v1/auth/refresh", json={"refresh_token": by_card.json()["refresh_token"]})
    assert rotated.status_code == 200
    assert (
        http.post("/api/v1/auth/refresh", json={"refresh_token": by_card.json()["refresh_token"]}).status_code
        == 401
    )
    assert (
        http.post("/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}).status_code
        == 401
    )
    out = http.post("/api/v1/auth/logout", json={}, headers=me)
    assert out.status_code == 204
    assert (
        http.post("/api/v1/auth/refresh", json={"refresh_token": account["refresh_token"]}).status_code == 401
    )

    profile = http.get("/api/v1/me", headers=me).json()
    assert profile["enterprise"]["name"] == "端到端科技有限公司" and profile["firm_id"] is None
    # A firm's admin learns which firm they administer; its pages are theirs.
    firm_admin = http.get("/api/v1/me", headers=login(http, "firm_admin@demo.counsel.test")).json()
    assert firm_admin["firm_id"] == "firm-beijing-zhengda" and firm_admin["enterprise"] is None
    assert [c["last4"] for c in profile["login_methods"]["membership_cards"]] == [card_number[-4:]]
    export = http.get("/api/v1/me/export", headers=me).json()
    assert {"login.succeeded", "card.linked"} <= {event["action"] for event in export["audit"]}
    # The demo accounts still log in with their password (API.md).
    assert PASSWORD and login(http, "client@demo.counsel.test")
