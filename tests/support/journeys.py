"""The journeys' HTTP helpers: what a user does against a running platform (log in, read the one-time code
the platform sent, wait for something asynchronous to happen) and what a journey checks on every answer."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from services.catalog import qualifications
from services.runtime.config import Settings

PASSWORD = "Demo-Passw0rd!"  # every demo account's
CLIENT_PASSWORD = "E2e-Strong-Passw0rd"  # the accounts journeys register
# The privacy policy version registering accepts: the one in force unless configured otherwise.
PRIVACY_POLICY_VERSION: str = Settings.model_fields["privacy_policy_version"].default
T = TypeVar("T")


def no_5xx(response: httpx.Response) -> None:
    """An httpx response hook: a 5xx is always a bug (API.md), so it fails the test at once."""
    if response.status_code >= 500:
        response.read()
        raise AssertionError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )


def one_time_code(text: str) -> str:
    """The six-digit code in a message the platform sent (an SMS or an e-mail body)."""
    return next(word for word in text.replace("，", " ").split() if word.isdigit() and len(word) == 6)


def login(http: httpx.Client, email: str) -> dict[str, str]:
    """Bearer headers of a demo account (password login)."""
    response = http.post(
        "/api/v1/auth/login", json={"method": "password", "identifier": email, "secret": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll `predicate` until it returns something truthy (the platform is asynchronous by design)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def latest_code(http: httpx.Client, to: str) -> str:
    """The newest one-time code sent to `to`, read from the dev outbox."""
    items = http.get("/api/v1/dev/outbox", params={"to": to}).json()["items"]
    assert items, f"nothing was sent to {to}"
    return one_time_code(items[0]["body"])


def register_by_sms(http: httpx.Client, enterprise_name: str) -> tuple[str, dict[str, Any]]:
    """A new client admin of a new enterprise, registered by SMS code with CLIENT_PASSWORD: (phone, the
    registration's answer). A journey whose assertions depend on per-user state (rate limits, inbox)
    starts from an account no other test touched."""
    phone = f"137{secrets.randbelow(10**8):08d}"
    assert http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone}).status_code == 202
    registered = http.post(
        "/api/v1/auth/register",
        json={
            "phone": f"+86{phone}",
            "code": latest_code(http, phone),
            "password": CLIENT_PASSWORD,
            "display_name": "端到端",
            "privacy_policy_version": PRIVACY_POLICY_VERSION,
            "enterprise_name": enterprise_name,
        },
    )
    assert registered.status_code == 201, registered.text
    return phone, registered.json()


def register_client(http: httpx.Client, enterprise_name: str) -> dict[str, str]:
    """Bearer headers of a new client admin of a new enterprise (`register_by_sms`)."""
    _, account = register_by_sms(http, enterprise_name)
    return {"Authorization": f"Bearer {account['access_token']}"}


def order_consultation(http: httpx.Client, client: dict[str, str]) -> str:
    """An order of the first one-tier consultation product, not yet paid; returns its id."""
    items = http.get("/api/v1/products", params={"category": "consultation"}).json()["items"]
    product = next(p for p in items if len(p["tiers"]) == 1)
    created = http.post(
        "/api/v1/orders",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": product["id"], "tier": product["tiers"][0]["id"], "requirements": {}},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def pay_with_sandbox(http: httpx.Client, client: dict[str, str], order_id: str) -> None:
    """Pay `order_id` with the sandbox provider and wait until the order is in service."""
    paying = http.post(
        f"/api/v1/orders/{order_id}/payments",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def in_service() -> bool:
        return bool(http.get(f"/api/v1/orders/{order_id}", headers=client).json()["status"] == "in_service")

    wait_for(in_service, timeout=90)


CERTIFICATE_SCANS = {
    "practice_certificate": ("practice.jpg", b"\xff\xd8 practising certificate", "image/jpeg"),
    "degree_certificate": ("degree.jpg", b"\xff\xd8 degree certificate", "image/jpeg"),
}


def qualify_lawyer(
    http: httpx.Client,
    lawyer_id: str,
    firm_admin: dict[str, str],
    verifier: dict[str, str],
    certificate_number: str,
    inspection_due_on: str,
) -> None:
    """The firm admin submits the lawyer's credentials and `verifier` (the operator or a firm admin of the
    lawyer's firm) verifies them: activation needs it (§4.2.1)."""
    submitted = http.post(
        f"/api/v1/lawyers/{lawyer_id}/credentials",
        headers=firm_admin,
        files=CERTIFICATE_SCANS,
        data={"certificate_number": certificate_number, "inspection_due_on": inspection_due_on},
    )
    assert submitted.status_code == 200 and submitted.json()["verification"] == "pending", submitted.text
    verified = http.post(
        f"/api/v1/lawyers/{lawyer_id}/verify",
        headers=verifier,
        json={"decision": "verified", "notes": "执业证与学位证原件核对一致，年检有效"},
    )
    assert verified.status_code == 200 and verified.json()["verification"] == "verified", verified.text


def credit_code() -> str:
    """A fresh unified social credit code with right check characters (each run registers new firms)."""
    organisation = f"{secrets.randbelow(10**8):08d}"
    first17 = f"91110105{organisation}{qualifications.organisation_check_character(organisation)}"
    return first17 + qualifications.credit_code_check_character(first17)
