"""Helpers every e2e module uses against the platform started in tests/e2e/conftest.py."""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx

from deploy.local.launcher import StackProcess, stack_env
from deploy.local.servers import PostgresServer, TemporalDevServer

PASSWORD = "Demo-Passw0rd!"
T = TypeVar("T")


@contextlib.contextmanager
def running_platform(
    postgres: PostgresServer, temporal: TemporalDevServer, data_dir: Path, **settings: str
) -> Iterator[StackProcess]:
    """The whole platform (`counsel up`) with its own demo data on the given servers and NATS of its own, as
    `counsel up` runs it on a laptop (a user per process), isolated by a new name (database prefix, subjects,
    task queue); stopped on exit unless a test stopped it. `settings` are more COUNSEL_* variables."""
    env, gateway_port = stack_env(
        name=f"e{uuid.uuid4().hex[:10]}",
        data_dir=data_dir,
        database_url=postgres.url,
        nats_url=None,
        temporal_address=temporal.address,
        secret_key=secrets.token_urlsafe(48),
    )
    env["COUNSEL_NOTIFICATION_DIGEST_SECONDS"] = "1"  # e-mail/SMS digests close within the tests' patience
    env.update(settings)
    running = StackProcess(f"http://127.0.0.1:{gateway_port}", env, data_dir, data_dir / "counsel-up.log")
    running.start()
    try:
        yield running
    finally:
        if running.running():
            running.stop()


def _no_5xx(response: httpx.Response) -> None:
    """An httpx response hook: a 5xx is always a bug (API.md), so it fails the test at once."""
    if response.status_code >= 500:
        response.read()
        raise AssertionError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )


def problem_fields(response: httpx.Response) -> set[str]:
    """The fields a problem+json answer names."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"] for e in response.json().get("errors") or []}


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
    return next(w for w in items[0]["body"].replace("，", " ").split() if w.isdigit() and len(w) == 6)


def register_client(http: httpx.Client, enterprise_name: str) -> dict[str, str]:
    """Bearer headers of a new client admin of a new enterprise, registered by SMS code: a journey whose
    assertions depend on per-user state (rate limits, inbox) starts from an account no other test touched."""
    phone = f"137{secrets.randbelow(10**8):08d}"
    assert http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone}).status_code == 202
    registered = http.post(
        "/api/v1/auth/register",
        json={
            "phone": f"+86{phone}",
            "code": latest_code(http, phone),
            "password": "E2e-Strong-Passw0rd",
            "display_name": "端到端",
            "enterprise_name": enterprise_name,
        },
    )
    assert registered.status_code == 201, registered.text
    return {"Authorization": f"Bearer {registered.json()['access_token']}"}
